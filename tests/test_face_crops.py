"""Cat-face crops (data/face_crops.py): the square around a face, OpenCV's real cat-face detector on
real (downscaled) Oxford photos, the cache of detections and crops, and that the generator's
training data, the evaluation's real images and a data pack all go through it."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from tinycats.breeds import NUM_BREEDS
from tinycats.data import cache
from tinycats.data.sources import load_registry
from tinycats.generator.config import GenDataConfig
from tinycats.generator.crops import Crop, CropError, load_cropped_oxford
from tinycats.generator.data import draw_batch, load_gen_data
from tinycats.generator.evaluate import nearest, real_sets, training_crop
from tinycats.generator.face_crops import (
    HEAD_TO_FACE_DROP,
    HEAD_TO_FACE_SIDE,
    FaceCropError,
    crop_path,
    detect_face,
    face_crop,
    face_square,
    head_box_faces,
    load_detections,
    load_face_crops,
    load_face_views,
    view_square,
)

FACE = GenDataConfig(crop="face", face_margin=1.8, any_cat_fraction=0.0)


def test_face_square_is_centred_on_the_face_and_stays_inside() -> None:
    assert face_square((200, 100), (90, 40, 20, 20), 2.0) == (80, 30, 40, 40)
    # near the top-left corner: shifted back inside, same side
    assert face_square((200, 100), (0, 0, 20, 20), 2.0) == (0, 0, 40, 40)
    # near the bottom-right corner
    assert face_square((200, 100), (185, 85, 15, 15), 2.0) == (170, 70, 30, 30)
    # larger than the image: shrunk to its shorter side
    assert face_square((200, 100), (50, 10, 80, 80), 3.0) == (40, 0, 100, 100)
    with pytest.raises(FaceCropError, match="margin"):
        face_square((200, 100), (0, 0, 20, 20), 0.0)


def test_face_crop_cuts_that_square() -> None:
    yy, xx = np.mgrid[0:100, 0:200]
    im = Image.fromarray(np.stack([yy, xx // 2, np.zeros_like(yy)], -1).astype(np.uint8))
    out = face_crop(im, (90, 40, 20, 20), 2.0, 40)  # the square (80, 30, 40, 40), same size
    assert out.shape == (40, 40, 3)
    assert (out[0, 0, 0], out[0, 0, 1]) == (30, 40) and (out[-1, -1, 0], out[-1, -1, 1]) == (69, 59)


def test_detector_finds_the_face_of_a_real_cat_and_none_in_a_wall(oxford_mini: Path) -> None:
    # Persian_10 (120x160, a frontal face filling the top of the photo): found, where it is
    photo = np.asarray(Image.open(oxford_mini / "images" / "Persian_10.jpg").convert("RGB"))
    box = detect_face(photo)
    assert box is not None
    x, y, w, h = box
    assert 40 <= w <= 120 and w == h and 20 <= x + w / 2 <= 100 and 20 <= y + h / 2 <= 100
    flat = np.full((160, 160, 3), 128, np.uint8)
    assert detect_face(flat) is None
    noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    assert detect_face(noise) is None


def test_without_opencv_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 -> ImportError
    with pytest.raises(FaceCropError, match="opencv-python-headless<5"):
        detect_face(np.zeros((64, 64, 3), np.uint8))


@pytest.fixture
def prepared_64(data_root: Path) -> Path:
    cache.prepare_source(data_root, load_registry(data_root)["oxford"], 64, workers=1)
    return data_root


def test_face_crops_keep_only_photos_with_a_face_and_are_built_once(prepared_64: Path) -> None:
    root = prepared_64
    logs: list[str] = []
    boxes = load_detections(root, log=logs.append)
    full = cache.load(root, "oxford", 64)
    cats = [n for n, lab in zip(full.names, full.labels, strict=True) if lab < NUM_BREEDS]
    assert sorted(boxes) == sorted(cats)  # every cat photo looked at, dogs not
    found = [n for n in cats if boxes[n] is not None]
    assert 0 < len(found) < len(cats)  # on these 160 px photos, a few faces
    assert boxes["Persian_10"] is not None

    faces = load_face_crops(root, 64, 1.8, log=logs.append)
    assert faces.names == [n for n in full.names if n in found]
    idx = [full.names.index(n) for n in faces.names]
    assert (faces.labels == full.labels[idx]).all() and (faces.splits == full.splits[idx]).all()
    assert faces.images.shape == (len(found), 64, 64, 3)
    # a face crop is not the centre crop of the photo
    assert all(not np.array_equal(a, full.images[i]) for a, i in zip(faces.images, idx,
                                                                      strict=True))
    built = len(logs)
    again = load_face_crops(root, 64, 1.8, log=logs.append)  # cached: nothing detected or cut
    assert len(logs) == built and np.array_equal(again.images, faces.images)
    # another margin: new crops, the same detections
    load_face_crops(root, 64, 1.2, log=logs.append)
    assert len(logs) == built + 1 and "cutting" in logs[-1]
    assert crop_path(root, 64, 1.2).exists()


def test_preparing_another_size_keeps_the_detections(prepared_64: Path,
                                                     oxford_mini_copy: Path) -> None:
    root = prepared_64
    first = load_detections(root)
    cache.prepare_source(root, load_registry(root)["oxford"], 32, workers=1)
    logs: list[str] = []
    assert load_detections(root, log=logs.append) == first
    assert logs == []  # not detected again: the photos did not change
    photo = oxford_mini_copy / "images" / "Persian_10.jpg"
    os.utime(photo, ns=(1, 1))  # copied elsewhere: a new mtime, the same photo
    assert load_detections(root, log=logs.append) == first and logs == []
    photo.write_bytes(photo.read_bytes() + b"\0")  # a photo replaced
    load_detections(root, log=logs.append)
    assert logs and "detecting" in logs[0]


def test_a_damaged_detection_file_is_rebuilt(prepared_64: Path) -> None:
    root = prepared_64
    first = load_detections(root)
    path = cache.cache_path(root, "oxford", 64).with_name("faces-detections.json")
    path.write_text('{"fingerprint": "x", "boxes": ')  # cut short
    logs: list[str] = []
    assert load_detections(root, log=logs.append) == first
    assert logs and "detecting" in logs[0]
    assert json.loads(path.read_text())["boxes"]


def test_missing_original_photos_are_explained(prepared_64: Path, oxford_mini_copy: Path
                                               ) -> None:
    (oxford_mini_copy / "images" / "Persian_10.jpg").unlink()
    with pytest.raises(FaceCropError, match=r"1 are missing.*Persian_10\.jpg"):
        load_detections(prepared_64)


def test_generator_data_and_eval_reference_use_the_same_face_crops(prepared_64: Path) -> None:
    root = prepared_64
    faces = load_face_crops(root, 64, 1.8)
    data = load_gen_data(root, FACE)
    trainval = (faces.labels < NUM_BREEDS) & (faces.splits != cache.SPLITS.index("test"))
    assert np.array_equal(data.images.permute(0, 2, 3, 1).numpy(), faces.images[trainval])
    test, labels, train = real_sets(root, 64, Crop("face", margin=1.8))
    assert np.array_equal(train, faces.images[trainval])
    is_test = faces.splits == cache.SPLITS.index("test")
    assert np.array_equal(test, faces.images[is_test])
    assert labels.tolist() == faces.labels[is_test].tolist()


def test_crop_settings_round_trip_through_the_manifest_record() -> None:
    face = Crop("face", margin=1.5)
    assert Crop.from_record(face.record()) == face
    assert training_crop({"data": {"crop": "face", "cam_zoom": 0.5, "face_margin": 1.5}}
                         ) == face
    assert "margin 1.5" in face.words()


def test_an_unknown_crop_kind_is_refused(prepared_64: Path) -> None:
    with pytest.raises(CropError, match=r"centre, face.*'heads'"):
        load_cropped_oxford(prepared_64, 64, Crop("heads"))


def test_a_pack_of_face_crops_trains_without_the_photos_and_refuses_another_crop(
        prepared_64: Path, oxford_mini_copy: Path, tmp_path: Path, cli: Any) -> None:
    recipe = tmp_path / "faces.yaml"
    recipe.write_text("name: faces\ndata:\n  crop: face\n  face_margin: 1.8\n")
    out = tmp_path / "pack"
    r = cli("data", "pack-generator", "--out", str(out), "--size", "64", "-c", str(recipe))
    assert r.code == 0, r.err
    full = load_gen_data(prepared_64, FACE)
    (oxford_mini_copy / "images" / "Persian_10.jpg").unlink()  # the pack does not read photos
    packed = load_gen_data(out, FACE)
    assert np.array_equal(packed.images.numpy(), full.images.numpy())
    with pytest.raises(CropError, match=r"holds cat-face crops \(margin 1\.8"):
        load_gen_data(out, GenDataConfig(any_cat_fraction=0.0))  # a centre-crop recipe
    with pytest.raises(CropError, match=r"margin 1\.8.*margin 1\.2"):
        load_gen_data(out, GenDataConfig(crop="face", face_margin=1.2, any_cat_fraction=0.0))


def test_eval_generator_end_to_end_on_real_face_crops(prepared_64: Path, tmp_path: Path,
                                                      cli: Any) -> None:
    """`tinycats eval generator` with the shipped models on the fixture photos' face crops (the
    shipped generator's training crop): the report's figures and the two PNGs, including the
    memorisation pairs (each breed's first sample over its nearest training crop)."""
    out = tmp_path / "report"
    r = cli("eval", "generator", "--n-per-breed", "1", "--steps", "1", "--solver", "euler",
            "--no-fid", "--no-update-manifest", "--report-dir", str(out))
    assert r.code == 0, r.err
    rep = json.loads((out / "generator.json").read_text())
    assert rep["sampler"] == {"steps": 1, "cfg_scale": rep["sampler"]["cfg_scale"],
                              "solver": "euler", "shift": rep["sampler"]["shift"],
                              "seeds": [1234], "n_per_breed": 1, "n_samples": NUM_BREEDS}
    assert len(rep["breed_accuracy"]["per_breed"]) == NUM_BREEDS
    assert 0 <= rep["breed_accuracy"]["classifier_on_real_test_64px"] <= 1  # some breeds lack
    # test faces here: averaged over those that have them, not NaN
    mem = rep["memorisation"]
    assert 0 < mem["nn_rms_distance_samples_min"] <= mem["nn_rms_distance_samples_median"] < 1
    with Image.open(out / "generator-nearest.png") as im:
        w, h = im.size
    with Image.open(out / "generator-samples.png") as im:
        assert im.size[0] < w and h < im.size[1]  # 12 x 2 pairs against 1 column x 12 rows


def test_an_oxford_head_box_stands_in_where_the_detector_finds_no_face(
        prepared_64: Path, oxford_mini_copy: Path) -> None:
    root = prepared_64
    boxes = load_detections(root)
    name = sorted(n for n, b in boxes.items() if b is None)[0]
    photo = oxford_mini_copy / "images" / f"{name}.jpg"
    with Image.open(photo) as im:
        w, h = im.size
    # Oxford's xml boxes are in the original photo's pixels: here an original twice this size
    xmls = oxford_mini_copy / "annotations" / "xmls"
    xmls.mkdir()
    (xmls / f"{name}.xml").write_text(
        f"<annotation><size><width>{2 * w}</width><height>{2 * h}</height><depth>3</depth>"
        f"</size><object><name>cat</name><bndbox><xmin>{w // 2}</xmin><ymin>{h // 4}</ymin>"
        f"<xmax>{w // 2 + 2 * 60}</xmax><ymax>{h // 4 + 2 * 50}</ymax></bndbox></object>"
        "</annotation>")
    (xmls / "Persian_10.xml").write_text("<annotation><broken")  # damaged: ignored, no crash
    head = 60  # the head box's longer side in this photo's pixels (120 / 2)
    side = round(head / HEAD_TO_FACE_SIDE)
    cx, cy = (w // 2) / 2 + head / 2, (h // 4) / 2 + 25 + HEAD_TO_FACE_DROP * head
    expected = (round(cx - side / 2), round(cy - side / 2), side, side)
    assert head_box_faces(oxford_mini_copy, [name, "Persian_10"]) == {name: expected}

    logs: list[str] = []
    faces = load_face_crops(root, 64, 1.8, log=logs.append)  # the crops are cut again
    assert name in faces.names and "1 from Oxford head boxes" in logs[-1]
    assert len(faces.names) == sum(b is not None for b in boxes.values()) + 1
    got = faces.images[faces.names.index(name)]
    assert np.array_equal(got, face_crop(Image.open(photo).convert("RGB"), expected, 1.8, 64))


def test_a_view_reframes_the_face_within_its_limits() -> None:
    im, box = (2000, 1500), (900, 650, 200, 200)
    assert view_square(im, box, 1.8, "Bengal_1", 0, 0.1, 0.05) == face_square(im, box, 1.8)
    squares = [view_square(im, box, 1.8, "Bengal_1", v, 0.1, 0.05) for v in range(1, 40)]
    assert squares == [view_square(im, box, 1.8, "Bengal_1", v, 0.1, 0.05)
                       for v in range(1, 40)]  # the same views on every machine
    assert len(set(squares)) == len(squares)
    for x, y, side, _ in squares:
        assert 360 / 1.1 - 1 <= side <= 360 * 1.1 + 1  # 1.8 x 200, scaled by up to 1.1
        # the centre moves by at most 0.05 of the side (+1 px of rounding)
        assert abs(x + side / 2 - 1000) <= 0.05 * side + 1
        assert abs(y + side / 2 - 750) <= 0.05 * side + 1
    sides = [side for _, _, side, _ in squares]
    assert min(sides) < 345 and max(sides) > 375  # both ways, not just one
    other = [view_square(im, box, 1.8, "Bengal_2", v, 0.1, 0.05) for v in range(1, 40)]
    assert other != squares


def test_views_are_cut_from_each_photo_once_and_begin_with_its_face_crop(
        prepared_64: Path) -> None:
    root = prepared_64
    faces = load_face_crops(root, 64, 1.8)
    logs: list[str] = []
    views = load_face_views(root, faces.names, 64, 1.8, 4, 0.15, 0.05, log=logs.append)
    assert views.shape == (len(faces.names), 4, 64, 64, 3)
    assert np.array_equal(views[:, 0], faces.images)
    rest = views[:, 1:].reshape(-1, 64, 64, 3)
    # the other views are new framings of their own photo: nearer to its crop than to any other
    # photo's, and most of them not the crop itself (on these 160 px fixtures a face can fill
    # the photo, and then a view has no room to move: 1.8% of the views on the Oxford photos)
    near, idx = nearest(rest, faces.images, mirrored=False)
    assert idx.tolist() == np.repeat(np.arange(len(faces.names)), 3).tolist()
    assert (near > 0).mean() > 0.5
    assert len(logs) == 1 and "cutting 4 views of each" in logs[0]
    again = load_face_views(root, faces.names, 64, 1.8, 4, 0.15, 0.05, log=logs.append)
    assert len(logs) == 1 and np.array_equal(again, views)  # kept, not cut again
    load_face_views(root, faces.names, 64, 1.8, 4, 0.2, 0.05, log=logs.append)
    assert len(logs) == 2  # another zoom: cut again
    with pytest.raises(FaceCropError, match="no face box"):
        load_face_views(root, ["Abyssinian_999"], 64, 1.8, 2, 0.1, 0.05)


def test_training_batches_draw_the_views_of_the_training_photos(prepared_64: Path) -> None:
    cfg = dataclasses.replace(FACE, crop_views=3, hflip=False)
    data = load_gen_data(prepared_64, cfg)
    plain = load_gen_data(prepared_64, FACE)
    assert data.views is not None and data.views.shape == (len(plain.labels), 3, 3, 64, 64)
    assert torch.equal(data.images, plain.images) and torch.equal(data.views[:, 0], data.images)
    flat = data.views.reshape(-1, 3, 64, 64)
    drawn = [draw_batch(data, cfg, 16, seed=1, step=s) for s in range(8)]
    which = {int(((flat - ((b.x[i] + 1) * 127.5).round())).abs().sum((1, 2, 3)).argmin())
             for b in drawn for i in range(16)}
    assert {w % 3 for w in which} == {0, 1, 2}  # every framing is drawn
    for b in drawn:  # and each image is one of them, with its photo's label
        img = ((b.x + 1) * 127.5).round()
        dist = (img[:, None] - flat[None].float()).abs().amax((2, 3, 4))
        assert (dist.min(1).values == 0).all()
        assert torch.equal(b.labels, data.labels[dist.argmin(1) // 3])
    with pytest.raises(CropError, match="must be face"):
        load_gen_data(prepared_64, GenDataConfig(crop_views=3, any_cat_fraction=0.0))


def test_a_pack_carries_the_recipes_views(prepared_64: Path, oxford_mini_copy: Path,
                                          tmp_path: Path, cli: Any) -> None:
    recipe = tmp_path / "views.yaml"
    recipe.write_text("name: views\ndata:\n  crop: face\n  crop_views: 3\n")
    out, jpeg_out = tmp_path / "pack", tmp_path / "pack-jpeg"
    r = cli("data", "pack-generator", "--out", str(out), "--size", "64", "-c", str(recipe))
    assert r.code == 0, r.err
    # as JPEG, as the GPU script packs
    r = cli("data", "pack-generator", "--out", str(jpeg_out), "--size", "64", "-c", str(recipe),
            "--jpeg-quality", "95")
    assert r.code == 0, r.err
    plain = tmp_path / "faces.yaml"  # a face-crop recipe without views
    plain.write_text("name: faces\ndata:\n  crop: face\n")
    r = cli("data", "pack-generator", "--out", str(tmp_path / "no-views-pack"), "--size", "64",
            "-c", str(plain))
    assert r.code == 0, r.err
    cfg = dataclasses.replace(FACE, crop_views=3)
    full = load_gen_data(prepared_64, cfg)
    (oxford_mini_copy / "images" / "Persian_10.jpg").unlink()  # the pack does not read photos
    packed, jpeg = load_gen_data(out, cfg), load_gen_data(jpeg_out, cfg)
    assert packed.views is not None and full.views is not None and jpeg.views is not None
    assert torch.equal(packed.views, full.views)
    assert jpeg.views.shape == full.views.shape  # the same views within JPEG's error
    assert (jpeg.views.float() - full.views.float()).abs().mean() < 2
    with pytest.raises(CropError, match=r"holds views \{'count': 3.*'count': 4"):
        load_gen_data(out, dataclasses.replace(cfg, crop_views=4))
    with pytest.raises(CropError, match=r"holds no views.*views \{'count': 3"):
        load_gen_data(tmp_path / "no-views-pack", cfg)

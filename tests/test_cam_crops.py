"""CAM-centred crops (data/cam_crops.py): where the crop lands, the cache of crops, and that the
generator's training data and the evaluation's real images both go through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinycats.breeds import NUM_BREEDS
from tinycats.data import cache
from tinycats.data.cam_crops import (
    CamCropError,
    Crop,
    agnostic_maps,
    cam_crop,
    crop_path,
    load_cam_crops,
    load_cropped_oxford,
)
from tinycats.data.sources import load_registry
from tinycats.generator.config import GenDataConfig
from tinycats.generator.data import load_gen_data
from tinycats.generator.evaluate import real_sets, training_crop
from tinycats.paths import shipped_models_dir


def gradient_image(s: int = 40) -> np.ndarray:
    """Every pixel tells where it came from: R = row, G = column."""
    yy, xx = np.mgrid[0:s, 0:s]
    return np.stack([yy, xx, np.zeros_like(yy)], -1).astype(np.uint8)


def peak_map(y: int, x: int, n: int = 5) -> np.ndarray:
    m = np.zeros((n, n), np.float32)
    m[y, x] = 1.0
    return m


def test_crop_is_centred_on_the_map_peak_and_stays_inside() -> None:
    img = gradient_image(40)
    centre = cam_crop(img, peak_map(2, 2), 0.5)
    assert centre.shape == (20, 20, 3)
    # the 5x5 map's centre cell upsamples to the middle of the image: the crop is the middle
    assert 8 <= centre[0, 0, 0] <= 12 and 8 <= centre[0, 0, 1] <= 12
    corner = cam_crop(img, peak_map(0, 4), 0.5)  # top-right peak: shifted back inside
    assert (corner[0, 0, 0], corner[0, -1, 1]) == (0, 39)
    assert cam_crop(img, peak_map(4, 0), 1.0).tolist() == img.tolist()
    with pytest.raises(CamCropError, match="zoom"):
        cam_crop(img, peak_map(0, 0), 0.0)


def test_agnostic_map_weights_breed_maps_by_breed_probability() -> None:
    probs = np.zeros((1, NUM_BREEDS + 1), np.float32)
    probs[0, 3], probs[0, NUM_BREEDS] = 0.5, 0.5  # "other" is ignored, breeds renormalised
    cams = np.zeros((1, NUM_BREEDS + 1, 2, 2), np.float32)
    cams[0, 3, 1, 0] = 2.0
    cams[0, NUM_BREEDS, 0, 0] = 9.0
    m = agnostic_maps(probs, cams)
    assert m.shape == (1, 2, 2) and m[0, 1, 0] == pytest.approx(2.0) and m[0, 0, 0] == 0


@pytest.fixture
def prepared_224(data_root: Path) -> Path:
    src = load_registry(data_root)["oxford"]
    cache.prepare_source(data_root, src, 224, workers=1)
    cache.prepare_source(data_root, src, 64, workers=1)
    return data_root


def test_cam_crops_are_built_once_from_the_224_cache_with_the_shipped_classifier(
        prepared_224: Path) -> None:
    root, models = prepared_224, shipped_models_dir()
    logs: list[str] = []
    a = load_cam_crops(root, 64, 0.5, models, log=logs.append)
    full = cache.load(root, "oxford", 64)
    assert a.images.shape == full.images.shape and a.names == full.names
    assert (a.labels == full.labels).all() and (a.splits == full.splits).all()
    # a half-side crop is not the full square: most images differ from their centre crop
    differ = [not np.array_equal(x, y) for x, y in zip(a.images, full.images, strict=True)]
    assert np.mean(differ) > 0.9
    assert len(logs) == 1
    b = load_cam_crops(root, 64, 0.5, models, log=logs.append)  # reused: no second build
    assert len(logs) == 1 and np.array_equal(a.images, b.images)
    meta = crop_path(root, 64, 0.5) / "meta.json"
    m = json.loads(meta.read_text())
    meta.write_text(json.dumps({**m, "fingerprint": "stale"}))  # e.g. another classifier
    load_cam_crops(root, 64, 0.5, models, log=logs.append)
    assert len(logs) == 2


def test_generator_data_and_eval_reference_use_the_same_crops(prepared_224: Path) -> None:
    root, models = prepared_224, shipped_models_dir()
    crops = load_cam_crops(root, 64, 0.5, models)
    data = load_gen_data(root, GenDataConfig(crop="cam", any_cat_fraction=0.0))
    trainval = (crops.labels < NUM_BREEDS) & (crops.splits != cache.SPLITS.index("test"))
    assert np.array_equal(data.images.permute(0, 2, 3, 1).numpy(), crops.images[trainval])
    test, _, train = real_sets(root, 64, Crop("cam", 0.5), models)
    assert np.array_equal(train, crops.images[trainval])
    assert len(test) == int(((crops.labels < NUM_BREEDS)
                             & (crops.splits == cache.SPLITS.index("test"))).sum())


def test_crop_settings_are_read_from_the_manifest_and_checked(prepared_224: Path) -> None:
    assert training_crop({"image_size": 64}) == Crop("centre")  # files exported before it
    assert training_crop({"data": {"crop": "cam", "cam_zoom": 0.65}}) == Crop("cam", 0.65)
    with pytest.raises(CamCropError, match="one of centre, cam, face"):
        load_cropped_oxford(prepared_224, 64, Crop("square"), shipped_models_dir())


def test_missing_224_cache_is_explained(data_root: Path) -> None:
    with pytest.raises(CamCropError, match="data prepare --size 224"):
        load_cam_crops(data_root, 64, 0.5, shipped_models_dir())


def test_a_pack_of_cam_crops_trains_without_the_224_cache_and_refuses_another_crop(
        prepared_224: Path, tmp_path: Path, cli: Any) -> None:
    root = prepared_224
    recipe = tmp_path / "cam.yaml"
    recipe.write_text("name: cam\ndata:\n  crop: cam\n  cam_zoom: 0.5\n")
    out = tmp_path / "pack"
    r = cli("data", "pack-generator", "--out", str(out), "--size", "64", "-c", str(recipe))
    assert r.code == 0, r.err
    assert not (out / "cache" / "oxford" / "s224").exists()
    cam = GenDataConfig(crop="cam", any_cat_fraction=0.0)
    packed, full = load_gen_data(out, cam), load_gen_data(root, cam)
    assert np.array_equal(packed.images.numpy(), full.images.numpy())
    with pytest.raises(CamCropError, match="holds CAM-centred crops"):
        load_gen_data(out, GenDataConfig(any_cat_fraction=0.0))  # a centre-crop recipe
    with pytest.raises(CamCropError, match=r"zoom 0\.5.*zoom 0\.8"):
        load_gen_data(out, GenDataConfig(crop="cam", cam_zoom=0.8, any_cat_fraction=0.0))

"""`data prepare` / `data stats` on the fixtures plus odd files the tests make themselves.

Every odd input must be either decoded right or skipped and counted under a reason: never a
crash, never a silent mislabel.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tinycats.data import cache
from tinycats.data.bench import augment_available
from tinycats.data.folders import add_folder
from tinycats.data.prepare import cache_summaries, prepare_all
from tinycats.data.sources import Source, register

SIZE = 32
Cli = Callable[..., Any]


def _rgb(w: int = 60, h: int = 40, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def _bytes(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def make_odd_folder(folder: Path) -> dict[str, str]:
    """An ImageFolder of odd files; returns file -> expected outcome ("ok" or a skip reason)."""
    d = folder / "Maine_Coon"
    d.mkdir(parents=True)
    good = _bytes(_rgb(), "JPEG", quality=90)
    rot = Image.new("RGB", (80, 40), (255, 0, 0))
    rot.paste((0, 0, 255), (40, 0, 80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: display rotated 90 degrees clockwise
    files: dict[str, tuple[bytes, str]] = {
        "good.jpg": (good, "ok"),
        "gray.jpg": (_bytes(_rgb().convert("L"), "JPEG"), "ok"),
        "cmyk.jpg": (_bytes(_rgb().convert("CMYK"), "JPEG"), "ok"),
        "alpha.png": (_bytes(Image.new("RGBA", (50, 50), (10, 20, 30, 0)), "PNG"), "ok"),
        "palette_alpha.png": (_bytes(_rgb().convert("P"), "PNG", transparency=0), "ok"),
        "gif_inside.jpg": (_bytes(_rgb().convert("P"), "GIF"), "ok"),
        "png_inside.jpg": (_bytes(_rgb(), "PNG"), "ok"),
        "sixteen_bit.png": (_bytes(Image.fromarray(
            np.full((40, 40), 40000, dtype=np.uint16)), "PNG"), "ok"),
        "rotated.jpg": (_bytes(rot, "JPEG", exif=exif.tobytes()), "ok"),
        "upper.JPG": (good, "ok"),
        "zero.jpg": (b"", "empty"),
        "truncated.jpg": (good[: len(good) // 2], "corrupt"),
        "garbage.jpg": (os.urandom(3000), "not_an_image"),
        "text.jpg": (b"this is not a picture\n", "not_an_image"),
        "readme.txt": (b"notes", "not_image_suffix"),
    }
    for name, (data, _) in files.items():
        (d / name).write_bytes(data)
    (d / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: ignored, not even counted
    return {f"Maine_Coon/{k}": v for k, (_, v) in files.items()}


@pytest.fixture
def odd_root(data_root: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    expected = make_odd_folder(tmp_path / "web")
    add_folder(data_root, tmp_path / "web", name="web")
    return data_root, expected


def _by_name(cs: cache.CachedSet, name: str) -> np.ndarray:
    return np.asarray(cs.images[cs.names.index(name)])


def test_odd_files_are_decoded_or_skipped_and_counted(odd_root: tuple[Path, dict[str, str]]
                                                      ) -> None:
    root, expected = odd_root
    outcomes = {o.source.name: o for o in prepare_all(root, SIZE)}
    assert {o.status for o in outcomes.values()} == {"built"}
    info = outcomes["web"].info
    assert info is not None
    man = info.manifest
    ok = sorted(k for k, v in expected.items() if v == "ok")
    cs = cache.load(root, "web", SIZE)
    assert sorted(cs.names) == ok
    assert cs.images.shape == (len(ok), SIZE, SIZE, 3) and cs.images.dtype == np.uint8
    # Supplementary images are training data only, all labeled from the folder name.
    assert set(cs.splits.tolist()) == {cache.SPLITS.index("train")}
    assert set(cs.labels.tolist()) == {cache.LABEL_KEYS.index("maine_coon")}
    skipped = man["skipped"]
    assert isinstance(skipped, dict)
    for name, reason in expected.items():
        if reason != "ok":
            assert name in skipped[reason]["names"], (name, reason, skipped)
    assert sum(v["count"] for v in skipped.values()) == len(expected) - len(ok)

    # Pixels: transparent -> white, gray -> equal channels, 16-bit scaled not clipped,
    # EXIF orientation applied (red on top, blue below once upright).
    assert (_by_name(cs, "Maine_Coon/alpha.png") == 255).all()
    g = _by_name(cs, "Maine_Coon/gray.jpg").astype(int)
    assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    assert abs(int(_by_name(cs, "Maine_Coon/sixteen_bit.png").mean()) - 40000 // 257) <= 1
    r = _by_name(cs, "Maine_Coon/rotated.jpg").astype(int)
    assert r[2, SIZE // 2, 0] > 200 and r[2, SIZE // 2, 2] < 60
    assert r[-3, SIZE // 2, 2] > 200 and r[-3, SIZE // 2, 0] < 60


def test_oxford_rules_unlisted_missing_and_gif_inside(data_root: Path) -> None:
    ox = Path(cache.load_registry(data_root)["oxford"].path)
    # A GIF inside a listed .jpg (as Abyssinian_34 in the original) keeps its label.
    (ox / "images" / "Bengal_1.jpg").write_bytes(_bytes(_rgb().convert("P"), "GIF"))
    # A PNG inside one too, and a zero-byte listed file.
    (ox / "images" / "Birman_1.jpg").write_bytes(_bytes(_rgb(), "PNG"))
    (ox / "images" / "Bombay_2.jpg").write_bytes(b"")
    # On disk but in no list: skipped as "unlisted". Listed but absent: counted, no error.
    shutil.copy(ox / "images" / "Bengal_2.jpg", ox / "images" / "Bengal_999.jpg")
    with open(ox / "annotations" / "test.txt", "a") as f:
        f.write("Bengal_1000 6 1 2\nbeagle_1000 13 2 6\n")
    info = cache.prepare_source(data_root, cache.load_registry(data_root)["oxford"], SIZE)
    m = info.manifest
    assert m["skipped"] == {"empty": {"count": 1, "names": ["Bombay_2"]},
                            "unlisted": {"count": 1, "names": ["Bengal_999"]}}
    assert m["notes"] == {"listed_missing": 2}
    cs = cache.load(data_root, "oxford", SIZE)
    lab = {n: cache.LABEL_KEYS[i] for n, i in zip(cs.names, cs.labels.tolist(), strict=True)}
    assert lab["Bengal_1"] == "bengal" and lab["Birman_1"] == "birman"
    assert lab["american_bulldog_10"] == "other" and lab["pug_16"] == "other"
    assert m["count"] == 63


def test_splits_are_official_and_val_is_carved_from_trainval(data_root: Path,
                                                              oxford_mini: Path) -> None:
    prepare_all(data_root, SIZE)
    cs = cache.load(data_root, "oxford", SIZE)
    split = {n: cache.SPLITS[i] for n, i in zip(cs.names, cs.splits.tolist(), strict=True)}
    test_list = {ln.split()[0] for ln in
                 (oxford_mini / "annotations" / "test.txt").read_text().splitlines()}
    assert {n for n, s in split.items() if s == "test"} == test_list
    val = [n for n, s in split.items() if s == "val"]
    # One per breed (3 trainval images each) plus one of the two trainval dogs.
    assert len(val) == 13 and not set(val) & test_list
    # Deterministic: a second, forced build picks the same images.
    prepare_all(data_root, SIZE, force=True)
    cs2 = cache.load(data_root, "oxford", SIZE)
    assert [cache.SPLITS[i] for i in cs2.splits.tolist()] == [split[n] for n in cs2.names]


def test_second_prepare_reuses_and_changed_input_rebuilds(data_root: Path) -> None:
    first = prepare_all(data_root, SIZE)[0]
    assert first.status == "built"
    assert prepare_all(data_root, SIZE)[0].status == "reused"
    ox = Path(cache.load_registry(data_root)["oxford"].path)
    before = cache.load(data_root, "oxford", SIZE, mmap=False)
    # A copied folder: new mtimes, the same bytes, so the cache is kept.
    os.utime(ox / "images" / "Siamese_5.jpg", ns=(1, 1))
    assert prepare_all(data_root, SIZE)[0].status == "reused"

    # Same name, different picture: its bytes change, so the cache is rebuilt.
    img = ox / "images" / "Siamese_5.jpg"
    img.write_bytes(_bytes(Image.new("RGB", (50, 50), (0, 255, 0)), "JPEG"))
    rebuilt = prepare_all(data_root, SIZE)[0]
    assert rebuilt.status == "built"
    after = cache.load(data_root, "oxford", SIZE)
    i = after.names.index("Siamese_5")
    assert not np.array_equal(after.images[i], before.images[before.names.index("Siamese_5")])
    assert after.images[i][..., 1].mean() > 200

    # A changed split list rebuilds too; --force always rebuilds.
    with open(ox / "annotations" / "test.txt", "a") as f:
        f.write("Siamese_999 33 1 11\n")
    assert prepare_all(data_root, SIZE)[0].status == "built"
    assert prepare_all(data_root, SIZE)[0].status == "reused"
    assert prepare_all(data_root, SIZE, force=True)[0].status == "built"


def test_small_sources_are_skipped_above_their_max_size(data_root: Path, tmp_path: Path) -> None:
    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(3):
        (faces / f"{i}.jpg").write_bytes(_bytes(_rgb(16, 16, i), "JPEG"))
    add_folder(data_root, faces, label="any_cat", max_size=16)
    res = {o.source.name: o for o in prepare_all(data_root, SIZE)}
    assert res["faces"].status == "skipped" and "16px" in res["faces"].note
    res = {o.source.name: o for o in prepare_all(data_root, 16)}
    assert res["faces"].status == "built"
    cs = cache.load(data_root, "faces", 16)
    assert set(cs.labels.tolist()) == {cache.LABEL_KEYS.index("any_cat")}


def test_a_missing_source_fails_alone(data_root: Path, tmp_path: Path) -> None:
    register(data_root, Source(name="gone", kind="folder", path=str(tmp_path / "nowhere"),
                               label="other"))
    res = {o.source.name: o for o in prepare_all(data_root, SIZE)}
    assert res["oxford"].status == "built"
    assert res["gone"].status == "failed" and "is missing" in res["gone"].note


def test_many_files_use_worker_processes(tmp_path: Path) -> None:
    # Over the serial threshold: exercises the process pool, with one bad file in the middle.
    folder = tmp_path / "many" / "Sphynx"
    folder.mkdir(parents=True)
    data = _bytes(_rgb(24, 24), "JPEG")
    for i in range(80):
        (folder / f"{i:03d}.jpg").write_bytes(data if i != 40 else b"broken")
    root = tmp_path / "data"
    add_folder(root, tmp_path / "many")
    info = cache.prepare_source(root, cache.load_registry(root)["many"], 16, workers=2)
    assert info.manifest["count"] == 79
    assert info.manifest["skipped"] == {"not_an_image": {"count": 1,
                                                         "names": ["Sphynx/040.jpg"]}}


def test_cache_summaries_read_back_the_manifests(odd_root: tuple[Path, dict[str, str]]) -> None:
    root, _ = odd_root
    prepare_all(root, SIZE)
    prepare_all(root, 16, ["oxford"])
    sums = cache_summaries(root)
    assert [(c.source, c.size) for c in sums] == [("oxford", 16), ("oxford", SIZE),
                                                  ("web", SIZE)]
    assert [c.size for c in cache_summaries(root, 16)] == [16]


# ----------------------------------------------------------------------------- the CLI


def test_cli_prepare_stats_and_bench(odd_root: tuple[Path, dict[str, str]], cli: Cli) -> None:
    root, _ = odd_root  # TINYCATS_DATA points at it
    _cli = cli
    r = _cli("data", "prepare", "--size", str(SIZE))
    assert r.code == 0, r.err
    assert "built" in r.out and "empty 1" in r.out and "not_an_image 2" in r.out
    r = _cli("data", "prepare", "--size", str(SIZE), "--source", "web")
    assert r.code == 0 and "reused" in r.out and "oxford" not in r.out

    r = _cli("data", "stats")
    assert r.code == 0, r.err
    assert "Maine Coon" in r.out and "Not a cat (other)" in r.out
    assert "truncated.jpg" in r.out and "corrupt" in r.out  # the skipped table
    manifest = json.loads((cache.cache_path(root, "oxford", SIZE) / "manifest.json").read_text())
    assert manifest["count"] == 64

    r = _cli("bench", "data", "--size", str(SIZE), "--seconds", "0.05")
    assert r.code == 0, r.err
    assert "load batch (uint8, mmap)" in r.out and "images/s" in r.out
    if augment_available():
        assert f"load + augment -> {SIZE}px" in r.out


def test_cli_errors_are_one_line(tmp_path: Path, data_root: Path, cli: Cli) -> None:
    _cli = cli
    r = _cli("data", "prepare", "--size", "32", "--source", "nope")
    assert r.code == 2 and "unknown source 'nope'" in r.err and "Traceback" not in r.err
    r = _cli("data", "prepare", "--size", "3")
    assert r.code == 2 and "between 8 and 1024" in r.err
    r = _cli("data", "stats")
    assert r.code == 2 and "run: tinycats data prepare" in r.err
    r = _cli("bench", "data", "--size", "48")
    assert r.code == 2 and "no prepared cache" in r.err
    empty = tmp_path / "empty-data"
    r = _cli("data", "prepare", "--size", "32", "--data-dir", str(empty))
    assert r.code == 2 and "no data sources registered" in r.err
    (data_root / "sources.json").write_text("{broken")
    r = _cli("data", "prepare", "--size", "32")
    assert r.code == 2 and "sources.json is damaged" in r.err and "Traceback" not in r.err
    r = _cli("data", "add", str(tmp_path), "--label", "other", "--data-dir", "/proc/nope")
    assert r.code == 2 and r.err.startswith("error: ") and "/proc/nope" in r.err

"""Undoing a nearest-neighbour enlargement (tinycats.data.unblock): blocks come back as their
source pixels at any scale from 2x, photos (real Oxford ones) and compressed blocks pass
untouched, and the classifier runtime applies it when the manifest says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinycats.data.images import jpeg_round_trip
from tinycats.data.unblock import unblock
from tinycats.export.manifest import ManifestError
from tinycats.runtime.classify import Classifier

SHIPPED = Path(__file__).resolve().parents[1] / "web" / "public" / "models"


def source(h: int = 37, w: int = 53, seed: int = 0) -> np.ndarray:
    """Random pixels with two pairs of equal neighbouring rows and columns, as flat parts of a
    thumbnail have: their runs merge into longer ones."""
    im = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    im[5], im[20] = im[4], im[19]
    im[:, 11], im[:, 30] = im[:, 10], im[:, 29]
    return im


def nearest(im: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(im).resize((w, h), Image.Resampling.NEAREST))


@pytest.mark.parametrize("size", [(106, 74), (133, 100), (500, 375), (448, 448), (64 * 7, 37 * 2)])
def test_a_nearest_enlargement_comes_back_exactly(size: tuple[int, int]) -> None:
    src = source()
    assert np.array_equal(unblock(nearest(src, *size)), src)


def test_an_integer_enlargement_comes_back_exactly() -> None:
    src = source(64, 64, seed=1)
    blocks = np.repeat(np.repeat(src, 2, axis=0), 2, axis=1)  # a cat saved as 2x2 blocks
    assert np.array_equal(unblock(blocks), src)


def test_photos_pass_untouched(oxford_mini: Path) -> None:
    for f in sorted((oxford_mini / "images").glob("*.jpg"))[:24]:
        im = np.asarray(Image.open(f).convert("RGB"))
        assert unblock(im) is im, f.name


@pytest.mark.parametrize("im", [
    jpeg_round_trip(nearest(source(), 212, 148), 90),  # compressed blocks are no longer exact
    np.full((300, 200, 3), 128, np.uint8),  # flat: one run per side
    nearest(source()[:6, :6], 60, 60),  # too few source lines to tell from a graphic
    np.repeat(source(40, 80), 2, axis=0),  # enlarged along one side only
    nearest(source(), 80, 55),  # under 2x: runs of 1 and 2
], ids=["jpeg", "flat", "tiny", "one-axis", "under-2x"])
def test_other_images_pass_untouched(im: np.ndarray) -> None:
    assert unblock(im) is im


def copy_models(tmp_path: Path, unblock_flag: object) -> Path:
    dst = tmp_path / "models"
    dst.mkdir(parents=True)
    for f in SHIPPED.glob("classifier-*.onnx"):
        shutil.copy(f, dst / f.name)
    man = json.loads((SHIPPED / "manifest.json").read_text())
    man["models"]["classifier"]["input"]["unblock"] = unblock_flag
    (dst / "manifest.json").write_text(json.dumps(man))
    return dst / "manifest.json"


def test_the_runtime_classifies_the_blocks_as_their_source(oxford_mini: Path,
                                                           tmp_path: Path) -> None:
    photo = Image.open(next((oxford_mini / "images").glob("Bengal_*.jpg"))).convert("RGB")
    thumb = np.asarray(photo.resize((64, 64), Image.Resampling.LANCZOS))
    blocks = nearest(thumb, 448, 448)
    on = Classifier(copy_models(tmp_path / "on", True), "fp32")
    off = Classifier(copy_models(tmp_path / "off", False), "fp32")
    assert np.array_equal(on.squares([blocks]), on.squares([thumb]))
    assert not np.array_equal(off.squares([blocks]), off.squares([thumb]))
    # the shipped manifest asks for it
    assert Classifier(SHIPPED / "manifest.json", "fp32").pre.unblock


def test_a_flag_that_is_not_a_boolean_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="unblock must be true or false"):
        Classifier(copy_models(tmp_path, "yes"), "fp32")

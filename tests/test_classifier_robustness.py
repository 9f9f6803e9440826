"""The degraded test photos of ``tinycats eval classifier``: each degradation does what its
name says, on a real fixture photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tinycats.classifier import robustness as rb


def photo(oxford_mini: Path) -> np.ndarray:
    f = sorted((oxford_mini / "images").glob("*.jpg"))[0]
    im = Image.open(f).convert("RGB").resize((rb.SOURCE_SIZE, rb.SOURCE_SIZE))
    return np.asarray(im)


def test_each_degradation(oxford_mini: Path) -> None:
    im = photo(oxford_mini)
    near, bic = rb.nearest64(im), rb.bicubic64(im)
    assert near.shape == bic.shape == im.shape
    # 64 distinct columns at most once enlarged by nearest neighbour, many more bicubically
    assert len(np.unique(near[200], axis=0)) <= 64 < len(np.unique(bic[200], axis=0))
    jpeg = rb.jpeg20(im)
    assert jpeg.shape == im.shape and 1 < np.abs(jpeg.astype(int) - im).mean() < 20
    crop = rb.crop60(im)
    side = round(rb.SOURCE_SIZE * rb.CROP)
    off = (rb.SOURCE_SIZE - side) // 2
    assert np.array_equal(crop, im[off:off + side, off:off + side])
    assert [d.shape for d in rb.degrade(np.stack([im, im]), "crop60")] == [crop.shape] * 2

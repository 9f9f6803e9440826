"""`tinycats data pack-upscaler`: a compact data folder (JPEG) the upscaler trains from unchanged,
with its face crops already cut and the test split left behind."""

import json
from pathlib import Path

import pytest

from tinycats.config import ConfigError
from tinycats.data.cache import prepare_source
from tinycats.data.sources import load_registry
from tinycats.upscaler.data import UpDataConfig, load_upscaler_data
from tinycats.upscaler.pack import pack_upscaler_data

CFG = UpDataConfig(size=32, source_size=64)


def test_pack_holds_the_training_photos_and_face_crops(data_root: Path, tmp_path: Path,
                                                       oxford_mini: Path) -> None:
    for src in load_registry(data_root).values():
        for size in (32, 64):
            prepare_source(data_root, src, size, workers=1)
    full = load_upscaler_data(data_root, CFG, log=lambda _: None)
    out = tmp_path / "pack"
    assert pack_upscaler_data(data_root, out, CFG, jpeg_quality=95) > 0
    assert not list(out.rglob("images.npy"))  # JPEG only
    packed = load_upscaler_data(out, CFG, log=lambda _: None)
    assert len(packed.photos) > 0 and packed.photos.shape == full.photos.shape
    assert len(packed.faces) > 0 and packed.faces.shape == full.faces.shape
    for a, b in ((packed.photos, full.photos), (packed.faces, full.faces)):
        err = (a.double() - b.double()).abs().mean()
        assert 0 < err < 3.0, err  # lossy, but only just
    test_split = {line.split()[0] for line in
                  (oxford_mini / "annotations" / "test.txt").read_text().splitlines() if line}
    for folder in ("s64", "s32"):
        names = json.loads((out / "cache" / "oxford" / folder / "names.json").read_text())
        assert names and not test_split & set(names)  # the evaluation's photos stay behind


def test_pack_refuses_one_size_for_photos_and_faces(data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="two sizes"):
        pack_upscaler_data(data_root, tmp_path / "p", UpDataConfig(size=64, source_size=64))

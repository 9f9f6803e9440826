"""`tinycats data pack-generator`: a compact data folder the generator trains from unchanged."""

from pathlib import Path
from typing import Any

import numpy as np

from tinycats.data.cache import prepare_source
from tinycats.data.sources import Source, load_registry, register
from tinycats.generator.config import GenDataConfig
from tinycats.generator.crops import Crop
from tinycats.generator.data import load_gen_data
from tinycats.generator.near_copies import near_copy_cut
from tinycats.generator.pack import pack_generator_data


def test_pack_keeps_train_cats_and_limited_faces(data_root: Path, tmp_path: Path,
                                                 oxford_mini: Path) -> None:
    faces = tmp_path / "faces"
    faces.mkdir()
    from PIL import Image

    for i in range(5):
        Image.fromarray(np.full((16, 16, 3), i * 40, np.uint8)).save(faces / f"{i}.png")
    register(data_root, Source("faces", "folder", str(faces), "any_cat", 64))
    for src in load_registry(data_root).values():
        prepare_source(data_root, src, 16, workers=1)
    out = tmp_path / "pack"
    pack_generator_data(data_root, out, size=16, any_cat_limit=3)
    full = load_gen_data(data_root, GenDataConfig(size=16))
    packed = load_gen_data(out, GenDataConfig(size=16))
    assert np.array_equal(full.images.numpy(), packed.images.numpy())  # same training cats
    assert full.extra is not None and packed.extra is not None
    assert packed.extra.shape[0] == 3 and full.extra.shape[0] == 5
    assert (packed.labels < 12).all() and len(packed.labels) == 36  # 3 trainval per breed
    # the pack holds no test crops, but the near-copy cut measured on them
    cut = near_copy_cut(data_root, 16, Crop())
    assert cut is not None and 0 < cut < 1
    assert near_copy_cut(out, 16, Crop()) == cut


def test_a_jpeg_pack_is_smaller_and_decodes_close_to_the_exact_images(
        data_root: Path, tmp_path: Path, oxford_mini: Path) -> None:
    for src in load_registry(data_root).values():
        prepare_source(data_root, src, 64, workers=1)
    raw, jpg = tmp_path / "raw", tmp_path / "jpg"
    raw_bytes = pack_generator_data(data_root, raw, size=64, any_cat_limit=0)
    jpg_bytes = pack_generator_data(data_root, jpg, size=64, any_cat_limit=0, jpeg_quality=95)
    assert jpg_bytes < raw_bytes / 2
    folder = jpg / "cache" / "oxford" / "s64"
    assert not (folder / "images.npy").exists() and (folder / "images.jpg.npz").exists()
    exact = load_gen_data(raw, GenDataConfig(size=64)).images.numpy().astype(np.float64)
    packed = load_gen_data(jpg, GenDataConfig(size=64)).images.numpy().astype(np.float64)
    assert packed.shape == exact.shape
    err = np.abs(packed - exact).mean()  # grey levels (GenData holds uint8)
    assert 0 < err < 2.5, err  # lossy, but only just


def test_pack_refuses_to_exceed_max_mb(data_root: Path, tmp_path: Path, oxford_mini: Path,
                                       cli: Any) -> None:
    for src in load_registry(data_root).values():
        prepare_source(data_root, src, 16, workers=1)
    r = cli("data", "pack-generator", "--data-dir", str(data_root), "--out",
            str(tmp_path / "p"), "--size", "16", "--max-mb", "0.001")
    assert r.code == 2 and "over --max-mb" in r.err

"""`tinycats data pack-generator`: a compact data folder the generator trains from unchanged."""

from pathlib import Path

import numpy as np

from tinycats.data.cache import prepare_source
from tinycats.data.sources import Source, load_registry, register
from tinycats.generator.config import GenDataConfig
from tinycats.generator.data import load_gen_data
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

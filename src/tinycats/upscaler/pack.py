"""A compact data folder for upscaler training on a remote GPU (the device machine, Modal).

What ``load_upscaler_data`` reads and nothing else, in the normal cache layout, so the trainer
takes it as ``--data-dir``: the Oxford train/val cat photos at ``source_size`` (the photo
crops' source) and their face crops at ``size``, already cut (the cache manifest records the
crop, generator/crops.py checks it). The test split stays behind: it is the evaluation's.
Stored as JPEG (``data/jpeg_images.py``), about 25 MB at quality 95 where raw arrays take
~270 MB; the targets then carry that mild compression, which the evaluation would show.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tinycats.config import ConfigError
from tinycats.data import cache
from tinycats.data.sources import Source, register
from tinycats.generator.crops import Crop, load_cropped_oxford
from tinycats.generator.pack import write_set
from tinycats.upscaler.data import UpDataConfig, keep_mask


def pack_upscaler_data(root: Path, out: Path, cfg: UpDataConfig, jpeg_quality: int = 95
                       ) -> int:
    """Returns the total bytes written."""
    if cfg.source_size == cfg.size:
        raise ConfigError("a pack keeps the photos and the face crops in caches of two sizes: "
                          "data.source_size must differ from data.size")
    if out.exists():
        shutil.rmtree(out)
    crop = Crop("face", cfg.face_margin)
    for size in (cfg.source_size, cfg.size):
        faces = size == cfg.size
        images = (load_cropped_oxford(root, size, crop) if faces
                  else cache.load(root, "oxford", size, mmap=True))
        keep = keep_mask(images.labels, images.splits, cfg)
        man = json.loads((cache.cache_path(root, "oxford", size) / "manifest.json").read_text())
        man.update({"packed": "upscaler: train/val cats only", "count": int(keep.sum())})
        if faces:
            man["crop"] = crop.record()
        names = [n for n, k in zip(images.names, keep, strict=True) if k]
        write_set(cache.cache_path(out, "oxford", size), np.asarray(images.images[keep]),
                  images.labels[keep], images.splits[keep], names, man, jpeg_quality)
    register(out, Source("oxford", "oxford", "(packed)"))
    return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())

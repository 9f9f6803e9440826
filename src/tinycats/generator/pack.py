"""A compact data folder for generator training on a remote GPU (the device machine, Modal).

Writes a self-contained ``--data-dir`` holding only what the generator reads: the Oxford
train/val cat images of one size, cropped as the recipe asks (``data.crop``: a pack of CAM
crops records it in its cache manifest, so the trainer needs neither the 224 px cache nor the
classifier there), and at most ``any_cat_limit`` unlabeled cat faces, in the normal cache layout
(so the trainer needs no special path), with ``sources.json``. The test crops stay out; the
near-copy cut measured on them goes into the Oxford manifest (generator/near_copies.py). At 64px the
default pack is ~37 MB: 1,528 Oxford cats (~18.8 MB) + 1,500 faces (~18.4 MB). With
``jpeg_quality`` the images are stored as JPEG (``data/jpeg_images.py``), ~3x smaller, so
~10,000 faces fit in the same bytes; the cache reader decodes them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tinycats.breeds import NUM_BREEDS
from tinycats.data import cache, jpeg_images
from tinycats.data.sources import Source, load_registry, register
from tinycats.generator.crops import (
    VIEWS_FILE,
    VIEWS_JPEG_FILE,
    Crop,
    Views,
    load_cropped_oxford,
    load_views,
)
from tinycats.generator.near_copies import CUT_KEY, near_copy_cut


def write_set(dst: Path, images: np.ndarray, labels: np.ndarray, splits: np.ndarray,
              names: list[str], manifest: dict[str, object], jpeg_quality: int | None) -> None:
    """One cache folder of a pack, in the normal layout (data/cache.py reads it)."""
    dst.mkdir(parents=True, exist_ok=True)
    if jpeg_quality is None:
        np.save(dst / "images.npy", images)
    else:
        jpeg_images.save(dst / jpeg_images.FILE_NAME, images, jpeg_quality)
        manifest["jpeg_quality"] = jpeg_quality
    np.save(dst / "labels.npy", labels)
    np.save(dst / "splits.npy", splits)
    (dst / "names.json").write_text(json.dumps(names))
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def pack_generator_data(root: Path, out: Path, size: int = 64, any_cat_limit: int = 1500,
                        crop: Crop | None = None, jpeg_quality: int | None = None,
                        views: Views | None = None) -> int:
    """Returns the total bytes written. ``crop``: the recipe's ``data.crop`` (default centre);
    ``jpeg_quality``: store the images as JPEG of this quality (default: raw arrays, exact);
    ``views``: the recipe's ``data.crop_views``, stored as the crops are."""
    crop = crop or Crop()
    if out.exists():
        shutil.rmtree(out)
    ox = load_cropped_oxford(root, size, crop)
    keep = (ox.labels < NUM_BREEDS) & (ox.splits != cache.SPLITS.index("test"))
    man = json.loads((cache.cache_path(root, "oxford", size) / "manifest.json").read_text())
    man.update({"packed": "generator: train/val cats only", "count": int(keep.sum())})
    cut = near_copy_cut(root, size, crop)  # from the test crops the pack leaves out
    if cut is not None:
        man[CUT_KEY] = cut
    if crop.kind != "centre":
        man["crop"] = crop.record()
    names = [n for n, k in zip(ox.names, keep, strict=True) if k]
    if views is not None:
        man["views"] = views.record()
    dst = cache.cache_path(out, "oxford", size)
    write_set(dst, ox.images[keep], ox.labels[keep], ox.splits[keep], names, man, jpeg_quality)
    if views is not None:
        vs = load_views(root, size, crop, views, names)
        if jpeg_quality is None:
            np.save(dst / VIEWS_FILE, vs)
        else:
            jpeg_images.save(dst / VIEWS_JPEG_FILE, vs.reshape(-1, *vs.shape[2:]), jpeg_quality)
    register(out, Source("oxford", "oxford", "(packed)"))
    for src in load_registry(root).values():
        if src.label != "any_cat" or any_cat_limit <= 0:
            continue
        cs = cache.load(root, src.name, size, mmap=True)
        n = min(any_cat_limit, len(cs.labels))
        m = json.loads((cache.cache_path(root, src.name, size) / "manifest.json").read_text())
        m.update({"packed": f"first {n} images", "count": n})
        write_set(cache.cache_path(out, src.name, size), np.asarray(cs.images[:n]),
                  cs.labels[:n], cs.splits[:n], cs.names[:n], m, jpeg_quality)
        register(out, Source(src.name, "folder", "(packed)", "any_cat", src.max_size))
        break
    return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())

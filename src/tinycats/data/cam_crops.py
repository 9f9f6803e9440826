"""CAM-centred crops of the Oxford cats: each image cut around where the shipped classifier
looks, for the generator (``data.crop: cam`` in a generator recipe).

Why: the generator renders recognisable faces for the aligned ``any_cat`` faces but blobs for
the breed classes, whose photos put the cat anywhere at any scale. Oxford has head boxes for 3
breeds only, but the classifier's class maps (its CAM output) peak on the cat: a square of
``zoom`` x the side around that peak centres the cat. On the Oxford test cats at 64 px the
classifier still knows the breed on such crops (79.9% full image, 81.0% at zoom 0.5, 84.5% at
0.65: ``scripts/experiments/cam_crops.py``). Measured in docs/decisions/0005, not adopted: the
face crops of data/face_crops.py (an offline cat-face detector) are what the shipped model uses.

The crops are cut from the 224 px cache (so a zoom of 0.5 still has 112 px to downscale) and
kept next to it as ``<data>/cache/oxford/cam-z<zoom>-s<size>/``, rebuilt when the 224 cache,
the classifier file or the parameters change (a fingerprint, as for the caches themselves).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tinycats.breeds import NUM_BREEDS
from tinycats.data import cache
from tinycats.errors import TinycatsError

CROP_VERSION = 1
#: the cache the crops are cut from: large enough that a half-side crop keeps 112 px
SOURCE_SIZE = 224
#: the ways a recipe's ``data.crop`` can cut a breed photo (``Crop.kind``)
CROP_KINDS = ("centre", "cam", "face")


class CamCropError(TinycatsError):
    pass


def downscale(a: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.BICUBIC))


def agnostic_maps(probs: np.ndarray, cams: np.ndarray) -> np.ndarray:
    """One map per image (N, h, w): the breed class maps weighted by the breed probabilities,
    so the crop follows the cat whichever breed the classifier leans to."""
    w = probs[:, :NUM_BREEDS] / np.maximum(probs[:, :NUM_BREEDS].sum(1, keepdims=True), 1e-12)
    return np.einsum("nk,nkhw->nhw", w, cams[:, :NUM_BREEDS])


def cam_crop(image: np.ndarray, cam_map: np.ndarray, zoom: float) -> np.ndarray:
    """A square of ``zoom`` x the side of ``image`` (S, S, 3), centred on the map's peak and
    shifted to stay inside the image."""
    if not 0 < zoom <= 1:
        raise CamCropError(f"zoom must be in (0, 1], not {zoom}")
    s = image.shape[0]
    up = np.asarray(Image.fromarray(cam_map.astype(np.float32), mode="F").resize(
        (s, s), Image.Resampling.BILINEAR))
    yy, xx = np.unravel_index(int(up.argmax()), up.shape)
    side = max(1, int(s * zoom))
    y0 = int(np.clip(yy - side // 2, 0, s - side))
    x0 = int(np.clip(xx - side // 2, 0, s - side))
    return np.ascontiguousarray(image[y0:y0 + side, x0:x0 + side])


def crop_path(root: Path, size: int, zoom: float) -> Path:
    return cache.cache_path(root, "oxford", SOURCE_SIZE).with_name(f"cam-z{zoom:g}-s{size}")


def _fingerprint(root: Path, size: int, zoom: float, classifier_sha256: str) -> str:
    src = json.loads((cache.cache_path(root, "oxford", SOURCE_SIZE) / "manifest.json")
                     .read_text())
    key = json.dumps([CROP_VERSION, src.get("fingerprint"), classifier_sha256, size, zoom])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def load_cam_crops(root: Path, size: int, zoom: float, model_dir: Path, *,
                   log: Callable[[str], None] = print) -> cache.CachedSet:
    """The Oxford cache (every split, every label) with each image replaced by its CAM crop at
    ``size`` px, built on first use (~30 s for the 2,811 images on 2 cores) and reused after."""
    from tinycats.export import manifest as mf
    from tinycats.runtime.classify import Classifier

    if not (cache.cache_path(root, "oxford", SOURCE_SIZE) / "manifest.json").exists():
        raise CamCropError(f"CAM crops are cut from the {SOURCE_SIZE} px cache; run: "
                           f"tinycats data prepare --size {SOURCE_SIZE}")
    man = model_dir / mf.MANIFEST_NAME
    if not man.exists():
        raise CamCropError(f"CAM crops need the exported classifier: no {man}")
    clf = Classifier(man)
    fp = _fingerprint(root, size, zoom, mf.sha256_file(clf.model_path))
    out = crop_path(root, size, zoom)
    src = cache.load(root, "oxford", SOURCE_SIZE, mmap=True)
    meta_path = out / "meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("fingerprint") == fp:
        return cache.CachedSet(np.load(out / "images.npy"), src.labels, src.splits, src.names,
                               "oxford")
    log(f"cutting CAM crops (zoom {zoom:g}, {size} px) of {len(src.labels)} Oxford images "
        f"with the {clf.variant} classifier -> {out}")
    crops = np.zeros((len(src.labels), size, size, 3), np.uint8)
    chunk = 64
    for i in range(0, len(crops), chunk):
        imgs = np.asarray(src.images[i:i + chunk])
        probs, cams = clf.run(imgs, with_cam=True)
        assert cams is not None
        for j, (a, m) in enumerate(zip(imgs, agnostic_maps(probs, cams), strict=True)):
            crops[i + j] = downscale(cam_crop(a, m, zoom), size)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "images.npy", crops)
    meta = {"fingerprint": fp, "zoom": zoom, "size": size, "count": len(crops),
            "classifier": {"file": clf.model_path.name, "variant": clf.variant}}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return cache.CachedSet(crops, src.labels, src.splits, src.names, "oxford")


@dataclass(frozen=True)
class Crop:
    """How a breed photo becomes the generator's square: ``centre`` (the prepared cache's
    centre crop), ``cam`` (``load_cam_crops`` at ``zoom``) or ``face`` (data/face_crops.py:
    ``margin`` x the detected face box; photos without a face are left out)."""

    kind: str = "centre"
    zoom: float = 0.5
    margin: float = 1.8

    def words(self) -> str:
        if self.kind == "face":
            return f"cat-face crops (margin {self.margin:g}, data/face_crops.py)"
        return "centre crops" if self.kind == "centre" else \
            f"CAM-centred crops (zoom {self.zoom:g}, data/cam_crops.py)"

    def record(self) -> dict[str, Any]:
        """What a data pack's cache manifest and the exported model's manifest say of it."""
        return {"kind": self.kind, "zoom": self.zoom, "margin": self.margin}

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Crop:
        return cls(str(d.get("kind", "centre")), float(d.get("zoom", cls.zoom)),
                   float(d.get("margin", cls.margin)))


def load_cropped_oxford(root: Path, size: int, crop: Crop, model_dir: Path, *,
                        log: Callable[[str], None] = print) -> cache.CachedSet:
    """The Oxford cache at ``size`` cropped as ``crop`` says: the one place that decides it,
    for the generator's training images and the evaluation's real images alike.

    A data pack for a remote GPU (``tinycats data pack-generator``) holds images already cropped,
    its cache manifest says how: used as they are if that is the asked crop, refused if not."""
    if crop.kind not in CROP_KINDS:
        raise CamCropError(f"crop must be one of {', '.join(CROP_KINDS)}, not {crop.kind!r}")
    man = cache.cache_path(root, "oxford", size) / "manifest.json"
    packed = json.loads(man.read_text()).get("crop") if man.exists() else None
    if packed is not None or crop.kind == "centre":
        have = Crop.from_record(packed) if packed else Crop()
        if have.words() != crop.words():  # the zoom of a centre crop does not matter
            raise CamCropError(f"the Oxford cache at {man.parent} holds {have.words()}, but "
                               f"the recipe asks for {crop.words()}: pack the data again with "
                               f"the recipe's crop")
        return cache.load(root, "oxford", size, mmap=False)
    if crop.kind == "face":
        from tinycats.data.face_crops import load_face_crops
        return load_face_crops(root, size, crop.margin, log=log)
    return load_cam_crops(root, size, crop.zoom, model_dir, log=log)

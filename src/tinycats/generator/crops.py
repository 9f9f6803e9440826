"""How a breed photo becomes the generator's square: the one place that decides it, for the
training images and the evaluation's real images alike.

``centre`` is the prepared cache's centre crop; ``face`` is ``margin`` x the detected cat face
(generator/face_crops.py; photos without a face or an Oxford head box are left out). The shipped
generator trains on face crops: the breed photos put the cat anywhere at any scale, and the
generator drew blobs for them until they were framed like the aligned ``any_cat`` faces
(docs/decisions/0005).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinycats.data import cache, jpeg_images
from tinycats.errors import TinycatsError

#: the ways a recipe's ``data.crop`` can cut a breed photo (``Crop.kind``)
CROP_KINDS = ("centre", "face")


class CropError(TinycatsError):
    pass


@dataclass(frozen=True)
class Crop:
    kind: str = "centre"
    margin: float = 1.8

    def words(self) -> str:
        if self.kind == "face":
            return f"cat-face crops (margin {self.margin:g}, generator/face_crops.py)"
        return "centre crops"

    def record(self) -> dict[str, Any]:
        """What a data pack's cache manifest and the exported model's manifest say of it."""
        return {"kind": self.kind, "margin": self.margin}

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Crop:
        return cls(str(d.get("kind", "centre")), float(d.get("margin", cls.margin)))


@dataclass(frozen=True)
class Views:
    """Random resized crops against memorisation: ``count`` framings of each labelled photo's
    face crop, the first the crop itself, the others with the margin scaled by up to
    ``1 + zoom`` either way and the centre moved by up to ``shift`` x the side
    (generator/face_crops.py: ``view_square``)."""
    count: int
    zoom: float
    shift: float

    def record(self) -> dict[str, Any]:
        return {"count": self.count, "zoom": self.zoom, "shift": self.shift}


#: the files a data pack keeps its views in, beside the packed Oxford crops: raw, or as JPEG
#: when the pack's images are (data/jpeg_images.py)
VIEWS_FILE = "views.npy"
VIEWS_JPEG_FILE = "views.jpg.npz"


def load_views(root: Path, size: int, crop: Crop, views: Views, names: list[str], *,
               log: Callable[[str], None] = print) -> np.ndarray:
    """(len(names), count, size, size, 3) uint8 views of the named face crops: cut from the
    photos, or read from a data pack that holds the same views of the same photos."""
    if crop.kind != "face":
        raise CropError(f"views are cut around the cat's face: data.crop must be face, not "
                        f"{crop.kind!r}")
    folder = cache.cache_path(root, "oxford", size)
    man = folder / "manifest.json"
    packed = json.loads(man.read_text()) if man.exists() else {}
    if "crop" in packed:
        have = packed.get("views")
        if have != views.record():
            held = "no views" if have is None else f"views {have}"
            raise CropError(f"the data pack at {root} holds {held}, but the recipe asks for "
                            f"views {views.record()}: pack the data again with the recipe")
        if json.loads((folder / "names.json").read_text()) != names:
            raise CropError(f"the views in the data pack at {root} are of other photos")
        if (folder / VIEWS_JPEG_FILE).exists():
            flat = jpeg_images.load(folder / VIEWS_JPEG_FILE)
            return flat.reshape(len(names), views.count, *flat.shape[1:])
        return np.load(folder / VIEWS_FILE)
    from tinycats.generator.face_crops import load_face_views
    return load_face_views(root, names, size, crop.margin, views.count, views.zoom, views.shift,
                           log=log)


def load_cropped_oxford(root: Path, size: int, crop: Crop, *,
                        log: Callable[[str], None] = print) -> cache.CachedSet:
    """The Oxford cache at ``size`` cropped as ``crop`` says.

    A data pack for a remote GPU (``tinycats data pack-generator``) holds images already cropped,
    its cache manifest says how: used as they are if that is the asked crop, refused if not."""
    if crop.kind not in CROP_KINDS:
        raise CropError(f"crop must be one of {', '.join(CROP_KINDS)}, not {crop.kind!r}")
    man = cache.cache_path(root, "oxford", size) / "manifest.json"
    packed = json.loads(man.read_text()).get("crop") if man.exists() else None
    if packed is not None or crop.kind == "centre":
        have = Crop.from_record(packed) if packed else Crop()
        if have.words() != crop.words():
            raise CropError(f"the Oxford cache at {man.parent} holds {have.words()}, but the "
                            f"recipe asks for {crop.words()}: pack the data again with the "
                            f"recipe's crop")
        return cache.load(root, "oxford", size, mmap=False)
    from tinycats.generator.face_crops import load_face_crops
    return load_face_crops(root, size, crop.margin, log=log)

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

from tinycats.data import cache
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

"""The photos people really paste: the test split, degraded four ways, for ``tinycats eval
classifier``.

Each degradation starts from the test photos cached at ``SOURCE_SIZE`` (shorter side resized to
448 px and centre-cropped: the largest the shipped data holds, so no degradation is hidden by a
first downscale to the model's 224 px), and its output goes through the runtimes' own
preprocessing (resize to the model's input and centre-crop), as a pasted file would:

- ``nearest64``: shrunk to 64 x 64 (Lanczos) and enlarged back with nearest neighbour, like a
  thumbnail or a generated cat saved as enlarged blocks;
- ``bicubic64``: the same, enlarged bicubically;
- ``jpeg20``: re-encoded as JPEG at quality 20 (Pillow, 4:2:0 chroma), like a screenshot passed
  through a chat app;
- ``crop60``: the centre 60% of each side (36% of the area), like a close-up of the face.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from tinycats.data.images import jpeg_round_trip

SOURCE_SIZE = 448
SMALL = 64
JPEG_QUALITY = 20
CROP = 0.6


def _shrink_and_enlarge(im: np.ndarray, resample: Image.Resampling) -> np.ndarray:
    h, w = im.shape[:2]
    small = Image.fromarray(im).resize((SMALL, SMALL), Image.Resampling.LANCZOS)
    return np.asarray(small.resize((w, h), resample))


def nearest64(im: np.ndarray) -> np.ndarray:
    return _shrink_and_enlarge(im, Image.Resampling.NEAREST)


def bicubic64(im: np.ndarray) -> np.ndarray:
    return _shrink_and_enlarge(im, Image.Resampling.BICUBIC)


def jpeg20(im: np.ndarray) -> np.ndarray:
    return jpeg_round_trip(im, JPEG_QUALITY)


def crop60(im: np.ndarray) -> np.ndarray:
    h, w = im.shape[:2]
    ch, cw = round(h * CROP), round(w * CROP)
    top, left = (h - ch) // 2, (w - cw) // 2
    return im[top:top + ch, left:left + cw]


DEGRADATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "nearest64": nearest64, "bicubic64": bicubic64, "jpeg20": jpeg20, "crop60": crop60}


def degrade(images: np.ndarray, name: str) -> list[np.ndarray]:
    """Every image of (N, H, W, 3) uint8 ``images`` degraded by ``DEGRADATIONS[name]``."""
    return [DEGRADATIONS[name](im) for im in images]

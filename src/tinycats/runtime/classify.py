"""Breed classification with ONNX Runtime: NumPy + Pillow + onnxruntime, no torch.

Everything about the model comes from ``manifest.json`` (docs/manifest.md): the labels, the input
size, the normalisation and the model files, whose size and sha256 are checked before a file is
loaded (a modified model is refused). Preprocessing, the same formula as the browser's:

1. decode, convert to RGB (alpha composited on white): ``tinycats.data.images.to_rgb``;
2. when the manifest's ``input.unblock`` is true, undo a nearest-neighbour enlargement
   (``tinycats.data.unblock``: blocks back to the thumbnail's own pixels; photos are untouched);
3. resize the shorter side to ``size`` with Pillow's bicubic filter (``reducing_gap=3.0``) and
   centre-crop a ``size`` x ``size`` square: ``tinycats.data.images.square_resize``, the very
   function the training caches were built with;
4. ``v = pixel / scale; (v - mean) / std`` per channel, NCHW float32.

Python API (used by the generator's evaluation on its 64x64 samples)::

    clf = Classifier(Path("web/public/models/manifest.json"))
    probs = clf.predict(images)   # (N, H, W, 3) uint8 or a list of PIL images -> (N, 13)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image, UnidentifiedImageError

from tinycats.data.images import MAX_PIXELS, square_resize, to_rgb
from tinycats.data.unblock import unblock
from tinycats.errors import TinycatsError
from tinycats.export import manifest as mf

MODEL_KEY = "classifier"
#: "other" is the answer only when the model gives it at least this probability. With a plain
#: argmax over 13 labels a cat whose breed probability is split (say other 0.3, then 0.25 Bengal,
#: 0.2 Egyptian Mau...) would be called "not a cat" although P(cat) = 0.7.
OTHER_THRESHOLD = 0.5
#: an answer whose label has a probability under this is "unsure": the runtimes show the three
#: most probable labels instead of one. The probabilities are calibrated (temperature fitted on
#: validation, inside the ONNX graph), so under 0.5 means "more likely wrong than right". A
#: threshold tuned on validation to a target accuracy was tried and says little: validation
#: photos are easier than test ones (94% vs 89% top-1), and the tuned 0.24 marked 0.1% of the
#: test photos unsure while the others were 89% right.
UNSURE_BELOW = 0.5
#: how many labels an unsure answer shows (web/src/engine/decide.ts: UNSURE_CANDIDATES)
UNSURE_CANDIDATES = 3


def decide(probs: np.ndarray, other_id: int, other_threshold: float = OTHER_THRESHOLD
           ) -> np.ndarray:
    """Top label ids (N,): ``other_id`` when P(other) >= threshold, else the best breed."""
    breeds = np.delete(probs, other_id, axis=1)
    ids = np.delete(np.arange(probs.shape[1]), other_id)[breeds.argmax(1)]
    return np.where(probs[:, other_id] >= other_threshold, other_id, ids)


def unsure(probs: np.ndarray, top: np.ndarray, unsure_below: float | None) -> np.ndarray:
    """Whether each answer is unsure (N,): the decided label ``top`` has a (calibrated)
    probability under ``unsure_below``; never when the manifest gives no threshold. The app and
    the CLI then show the three most probable labels instead of one answer."""
    if unsure_below is None:
        return np.zeros(len(top), dtype=bool)
    return probs[np.arange(len(top)), top] < unsure_below


class ImageInputError(TinycatsError):
    """One input image cannot be classified; the message says which and why, in one line."""


def _flag(entry: dict[str, Any], key: str) -> bool:
    """An optional boolean of the manifest; anything but true or false is refused, not guessed."""
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise mf.ManifestError(f"input.{key} must be true or false, got {value!r}")
    return value


@dataclass(frozen=True)
class Preprocess:
    size: int
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    unblock: bool = False

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Preprocess:
        inp = entry["input"]
        if inp.get("resize", "shorter_side_then_center_crop") != "shorter_side_then_center_crop":
            raise mf.ManifestError(f"unsupported resize {inp['resize']!r} in the manifest")
        return cls(int(inp["size"]), float(inp["scale"]),
                   tuple(float(v) for v in inp["mean"]),  # type: ignore[arg-type]
                   tuple(float(v) for v in inp["std"]),  # type: ignore[arg-type]
                   _flag(inp, "unblock"))

    def source(self, image: Image.Image | np.ndarray) -> Image.Image | np.ndarray:
        """What the resize starts from: ``image``, or with ``unblock`` the picture a
        nearest-neighbour enlargement was made from (an array then)."""
        if not self.unblock:
            return image
        return unblock(np.asarray(to_rgb(image) if isinstance(image, Image.Image) else image))

    def square(self, image: Image.Image | np.ndarray, *, from_source: bool = False
               ) -> np.ndarray:
        """One image (PIL, or an (H, W, 3) uint8 array) -> (size, size, 3) uint8;
        ``from_source``: ``image`` is already what ``source`` returns."""
        if not from_source:
            image = self.source(image)
        if isinstance(image, np.ndarray):
            if image.shape[:2] == (self.size, self.size):
                return image
            image = Image.fromarray(image)
        return square_resize(to_rgb(image), self.size)

    def normalize(self, batch: np.ndarray) -> np.ndarray:
        """(N, size, size, 3) uint8 -> (N, 3, size, size) float32 network input."""
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        x = (batch.astype(np.float32) / np.float32(self.scale) - mean) / std
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


def read_image(path: Path | str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image file as RGB, or raise ImageInputError with one clear line.

    The pixel count is read from the header and checked before anything is decoded, so a
    12000x12000 image is refused without allocating it."""
    p = Path(path)
    if not p.exists():
        raise ImageInputError(f"{p}: no such file")
    if not p.is_file():
        raise ImageInputError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise ImageInputError(f"{p}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow warns (or raises) on huge images itself; we give our own clear message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(p)
            w, h = im.size
            if w * h > max_pixels:
                im.close()
                raise ImageInputError(
                    f"{p}: image is {w}x{h} pixels, over the limit of {max_pixels:,} pixels; "
                    "downscale it first")
            im.load()
    except ImageInputError:
        raise
    except UnidentifiedImageError:
        raise ImageInputError(f"{p}: not an image (unrecognised format)") from None
    except Image.DecompressionBombError as e:
        raise ImageInputError(f"{p}: image is too large ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageInputError(f"{p}: damaged or truncated image ({e})") from None
    return to_rgb(im)


class Classifier:
    """The exported classifier, loaded once and reused for every call."""

    def __init__(self, manifest_path: Path | str, variant: str | None = None,
                 threads: int | None = None) -> None:
        self.manifest_path = Path(manifest_path)
        manifest = mf.load(self.manifest_path)
        self.entry = mf.model_entry(manifest, MODEL_KEY)
        path, _ = mf.resolve_file(self.manifest_path, self.entry, variant)
        self.variant = variant or self.entry.get("default_variant") or next(iter(
            self.entry["files"]))
        self.model_path = path
        with mf.reading_entry(self.manifest_path, MODEL_KEY):
            self.labels: list[dict[str, Any]] = list(self.entry["labels"])
            self.keys = [lab["key"] for lab in self.labels]
            self.other_id = int(self.entry["other_id"])
            self.other_threshold = float(self.entry.get("other_threshold", OTHER_THRESHOLD))
            below = self.entry.get("unsure_below")
            self.unsure_below = None if below is None else float(below)
            if self.unsure_below is not None and not 0.0 <= self.unsure_below <= 1.0:
                raise ValueError(f"unsure_below must be in [0, 1], got {self.unsure_below}")
            self.pre = Preprocess.from_entry(self.entry)
            self.input_name = str(self.entry["input"]["name"])
            self.probs_name = str(self.entry["outputs"]["probs"])
            self.cam_name = str(self.entry["outputs"]["cam"])
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own types for a broken file
            raise mf.ModelIntegrityError(f"{path} could not be loaded by onnxruntime: {e}"
                                         ) from None

    def squares(self, images: np.ndarray | Sequence[Image.Image | np.ndarray]) -> np.ndarray:
        """Resize + crop every image: -> (N, size, size, 3) uint8."""
        if isinstance(images, np.ndarray):
            if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
                raise ImageInputError(f"expected (N, H, W, 3) uint8 images, got {images.shape} "
                                      f"{images.dtype}")
            if images.shape[1:3] == (self.pre.size, self.pre.size):
                return images  # already the network's squares
        return np.stack([self.pre.square(im) for im in images]) if len(images) else \
            np.zeros((0, self.pre.size, self.pre.size, 3), np.uint8)

    def run(self, images: np.ndarray | Sequence[Image.Image | np.ndarray], batch: int = 32,
            with_cam: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """-> probs (N, 13) and, if asked, the class maps (N, 13, h, w)."""
        sq = self.squares(images)
        outs = [self.probs_name] + ([self.cam_name] if with_cam else [])
        probs, cams = [], []
        for i in range(0, len(sq), batch):
            res = self.session.run(outs, {self.input_name: self.pre.normalize(sq[i:i + batch])})
            probs.append(res[0])
            if with_cam:
                cams.append(res[1])
        p = np.concatenate(probs) if probs else np.zeros((0, len(self.labels)), np.float32)
        c = np.concatenate(cams) if with_cam and cams else None
        return p, c

    def predict(self, images: np.ndarray | Sequence[Image.Image | np.ndarray],
                batch: int = 32) -> np.ndarray:
        """Class probabilities (N, 13), columns in label-id order (manifest ``labels``)."""
        return self.run(images, batch)[0]

    def top(self, probs: np.ndarray) -> np.ndarray:
        """The label each image gets (the manifest's decision rule, see ``decide``)."""
        return decide(probs, self.other_id, self.other_threshold)


def cam_overlay(square: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Heatmap of one class map (h, w) over its (S, S, 3) input crop -> (S, S, 3) uint8.

    The map is shifted to start at 0 and scaled to [0, 1] (red: most evidence for the class)."""
    c = cam.astype(np.float32) - float(cam.min())
    c /= max(float(c.max()), 1e-8)
    s = square.shape[0]
    up = np.asarray(Image.fromarray(c, mode="F").resize((s, s), Image.Resampling.BILINEAR))
    # A small "jet" colour ramp: blue (0) -> cyan -> yellow -> red (1).
    rgb = np.stack([np.clip(1.5 - np.abs(4 * up - k), 0, 1) for k in (3, 2, 1)], axis=-1)
    out = (1 - alpha) * square.astype(np.float32) + alpha * 255 * rgb
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)

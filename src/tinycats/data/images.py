"""Decode and validate one image file, whatever it really is.

Oxford-IIIT Pet has a GIF and a PNG inside ``.jpg`` files, grayscale and CMYK JPEGs; web folders
add alpha channels, truncated and zero-byte files. Everything is decoded by content (Pillow
sniffs the bytes, not the extension), converted to RGB (alpha composited on white), and either
returned or rejected with a short reason that the caller counts.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tinycats.errors import TinycatsError

#: Refuse decompression bombs politely instead of letting Pillow warn or raise mid-run.
MAX_PIXELS = 80_000_000


class BadImageError(TinycatsError, ValueError):
    """The file is not a usable image; ``reason`` is a short machine-friendly word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def open_rgb(path: Path | str, *, draft_size: int | None = None) -> Image.Image:
    """Open ``path`` as an RGB PIL image, or raise BadImageError."""
    p = Path(path)
    try:
        if p.stat().st_size == 0:
            raise BadImageError("empty", "zero-byte file")
    except FileNotFoundError as e:
        raise BadImageError("missing", str(p)) from e
    try:
        with Image.open(p) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise BadImageError("too_large", f"{w}x{h} pixels is over the {MAX_PIXELS:,} limit")
            if draft_size and im.format == "JPEG":
                # JPEG DCT scaling: decode at >= 2x the target size, much faster for big photos.
                im.draft("RGB", (draft_size * 2, draft_size * 2))
            im.load()
            # Phone photos store "rotate me" in EXIF; without this a web cat can lie sideways.
            upright = ImageOps.exif_transpose(im) or im
            return to_rgb(upright)
    except BadImageError:
        raise
    except UnidentifiedImageError as e:
        raise BadImageError("not_an_image", str(p.name)) from e
    except PermissionError as e:
        raise BadImageError("unreadable", f"{p.name}: {e}") from e
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise BadImageError("corrupt", f"{p.name}: {e}") from e


def to_rgb(im: Image.Image) -> Image.Image:
    """Any mode to RGB; transparency is composited on white (not black) so cats stay visible."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        return _high_depth_to_rgb(im)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB")


def _high_depth_to_rgb(im: Image.Image) -> Image.Image:
    """16-bit and float grayscale: scale to 0..255 (Pillow's own convert clips or zeroes them)."""
    a = np.asarray(im, dtype=np.float64)
    if im.mode == "F" and a.min() >= 0.0 and a.max() <= 1.0:
        a = a * 255.0  # float images in [0, 1]
    elif a.min() >= 0 and a.max() <= 65535 and im.mode != "F":
        a = a / 257.0  # 16-bit range
    else:
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    g = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([g, g, g], axis=-1))


def square_resize(im: Image.Image, size: int) -> np.ndarray:
    """Resize the shorter side to ``size`` and centre-crop a square: (size, size, 3) uint8."""
    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)


def load_square(path: Path | str, size: int) -> np.ndarray:
    return square_resize(open_rgb(path, draft_size=size), size)


def jpeg_round_trip(im: np.ndarray, quality: int) -> np.ndarray:
    """(H, W, 3) uint8 encoded as JPEG at ``quality`` (Pillow, 4:2:0 chroma) and decoded again:
    the compression a pasted screenshot or chat-app photo has been through."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(im)).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.uint8)

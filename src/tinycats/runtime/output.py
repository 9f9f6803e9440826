"""Where the runtimes write images: paths checked before any work, files replaced atomically.

A run that fails (bad input, NaN, disk full, Ctrl+C) must never leave a half-written image or
replace a good one: every image is written to a temporary file in its own folder and then
``os.replace``d over the target, which is atomic on one file system.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from tinycats.errors import TinycatsError
from tinycats.grid import save_png

#: Image files the runtimes write (Pillow picks the format from the suffix).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class OutputPathError(TinycatsError):
    pass


def _check_writable_parent(path: Path, what: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable folder (the rest of the
    way is created when writing)."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputPathError(f"{what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what} {path}: cannot write in {parent} (permission denied)")


def check_image_file(path: Path, what: str = "output") -> None:
    """Refuse, before any work, an image path that could not be written as asked."""
    if path.is_dir():
        raise OutputPathError(f"{what} {path} is a folder; give a file name such as "
                              f"{path / 'cats.png'}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        got = f"'{path.suffix}' is not an image type written here" if path.suffix else \
            "has no image extension"
        raise OutputPathError(f"{what} {path}: {got}; end it in one of "
                              f"{', '.join(IMAGE_SUFFIXES)}")
    _check_writable_parent(path, what)


def check_image_folder(path: Path, what: str = "output folder") -> None:
    """Refuse, before any work, a folder path that is a file or cannot be created."""
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{what} {path} is a file, not a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputPathError(f"{what} {path}: permission denied")
        return
    _check_writable_parent(path, what)


def make_image_folder(path: Path, what: str = "output folder") -> None:
    """The folder ``check_image_folder`` passed, made before the work that fills it: a folder
    the system refuses (a read-only or virtual file system) is one line, not lost work."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputPathError(f"{what} {path}: cannot create it ({e.strerror or e})") from e


def save_image_atomic(image: np.ndarray, path: Path, upscale: int = 1) -> None:
    """``grid.save_png`` to a temporary sibling, then swapped in: ``path`` is either the old
    file or the complete new one, never a partial write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # the same suffix, so Pillow picks the same format; a dot-name, so it is hidden meanwhile
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        save_png(image, tmp, upscale=upscale)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise

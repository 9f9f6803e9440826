"""``tinycats data add``: register a supplementary folder of labeled images as a data source.

Two layouts:
- ImageFolder, ``<Label>/<image>``: the sub-folder name is the label, matched leniently
  ("Maine Coon", "maine_coon", "Maine-Coon"; also ``other`` and ``any_cat``);
- flat, with ``--label``: every image under the folder gets that one label (``other`` for
  not-cat photos, ``any_cat`` for unlabeled cat faces, or a breed).

Everything is checked before anything is registered or copied: an unknown sub-folder name is one
error that lists every unknown name and the valid ones.

Registered IN PLACE by default (nothing copied; ``prepare`` notices changes through the cache
fingerprint); ``copy=True`` copies the images into ``<data>/sources/<name>/`` first, for folders
that will not stay where they are (a download folder, a USB stick). docs/decisions/0003.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tinycats.breeds import ANY_CAT, BREEDS, CLASSIFIER_LABELS, OTHER, Label, lookup
from tinycats.data.cache import IMAGE_SUFFIXES
from tinycats.data.fetch import SOURCE_NAME as OXFORD_SOURCE
from tinycats.data.sources import Source, load_registry, register
from tinycats.errors import TinycatsError

#: Labels a supplementary folder may carry: the classifier labels plus unlabeled cats.
FOLDER_LABELS: tuple[Label, ...] = (*CLASSIFIER_LABELS, ANY_CAT)
COPY_DIRNAME = "sources"
_NAME_OK = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class FolderError(TinycatsError):
    """The folder cannot be registered as given; the message says why and what would work."""


def valid_label_names() -> str:
    """The names a person can type, as a readable list (every one of them matches itself)."""
    return (", ".join(b.display for b in BREEDS)
            + f"; or {OTHER.key!r} (not a cat) or {ANY_CAT.key!r} (a cat of no known breed)")


def _resolve_label(name: str) -> Label:
    try:
        return lookup(name, allow=FOLDER_LABELS)
    except TinycatsError:
        raise FolderError(f"unknown label {name!r}; valid names: {valid_label_names()}"
                          ) from None


def default_name(folder: Path) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", folder.name.lower()).strip("-._")
    return slug[:64] or "folder"


def _visible(p: Path, root: Path) -> bool:
    # .DS_Store, ._AppleDouble files, .git: never data.
    return not any(part.startswith(".") for part in p.relative_to(root).parts)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and _visible(p, folder) and p.suffix.lower() in IMAGE_SUFFIXES)


@dataclass
class AddResult:
    source: Source
    counts: dict[str, int]  # label key -> image files found (decoded later, by prepare)
    ignored: int  # visible files without an image suffix
    copied_to: Path | None = None
    notes: list[str] = field(default_factory=list)


def scan_folder(folder: Path, label: str | None) -> tuple[Counter[str], int]:
    """Check the layout and count image files per label, or raise FolderError."""
    files = [p for p in folder.rglob("*") if p.is_file() and _visible(p, folder)]
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    ignored = len(files) - len(images)
    counts: Counter[str] = Counter()
    if label is not None:
        counts[_resolve_label(label).key] = len(images)
    else:
        loose = [p.name for p in images if p.parent == folder]
        if loose:
            raise FolderError(
                f"{folder} has images directly inside it ({', '.join(loose[:3])}"
                f"{', ...' if len(loose) > 3 else ''}) but no --label: put them in "
                "<Breed>/ sub-folders, or pass --label for a flat folder")
        subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p, folder))
        unknown = []
        for d in subdirs:
            try:
                lab = lookup(d.name, allow=FOLDER_LABELS)
            except TinycatsError:
                unknown.append(d.name)
                continue
            counts[lab.key] += sum(1 for p in images if p.is_relative_to(d))
        if unknown:
            raise FolderError(
                f"unknown breed folder name{'s' if len(unknown) > 1 else ''} in {folder}: "
                f"{', '.join(repr(u) for u in unknown)}; valid names: {valid_label_names()} "
                "(case, spaces, '_' and '-' do not matter). Nothing was registered.")
    if sum(counts.values()) == 0:
        raise FolderError(f"no images found in {folder} (looked for "
                          f"{', '.join(sorted(IMAGE_SUFFIXES))})")
    return counts, ignored


def add_folder(root: Path, folder: Path, *, name: str | None = None, label: str | None = None,
               max_size: int | None = None, copy: bool = False) -> AddResult:
    folder = folder.expanduser()
    if not folder.is_dir():
        raise FolderError(f"{folder}: not a folder")
    folder = folder.resolve()
    name = name if name is not None else default_name(folder)
    if not _NAME_OK.match(name):
        raise FolderError(f"source name {name!r}: use lower-case letters, digits, '.', '_' "
                          "or '-' (it becomes a folder name under the cache)")
    if name == OXFORD_SOURCE:
        raise FolderError(f"the source name {OXFORD_SOURCE!r} is kept for `tinycats data fetch`;"
                          " pick another --name")
    if max_size is not None and max_size < 8:
        raise FolderError(f"--max-size {max_size}: must be at least 8 (pixels)")
    label_key = _resolve_label(label).key if label is not None else None

    counts, ignored = scan_folder(folder, label_key)

    reg = load_registry(root)
    copy_dir = root / COPY_DIRNAME / name
    notes: list[str] = []
    if name in reg:
        old = Path(reg[name].path)
        if old not in (folder, copy_dir):
            raise FolderError(f"a source named {name!r} is already registered for {old}; "
                              "pick another --name")
        notes.append(f"updated the existing source {name!r}")

    path = folder
    copied_to = None
    if copy:
        if folder == copy_dir or copy_dir in folder.parents or folder in copy_dir.parents:
            raise FolderError(f"--copy: {folder} and the copy target {copy_dir} overlap")
        _copy_images(folder, copy_dir)
        path = copied_to = copy_dir
    src = Source(name=name, kind="folder", path=str(path), label=label_key, max_size=max_size)
    register(root, src)
    return AddResult(src, dict(sorted(counts.items())), ignored, copied_to, notes)


def _copy_images(folder: Path, dest: Path) -> None:
    """Copy the image files (relative paths kept) into ``dest``, replacing it atomically."""
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for p in _image_files(folder):
            out = tmp / p.relative_to(folder)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, out)  # copy2 keeps mtimes, so the cache fingerprint is stable
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

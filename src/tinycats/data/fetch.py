"""Get the Oxford-IIIT Pet dataset into a data folder: download or ingest, extract, register.

Two ways in (docs/decisions/0003-data-sources.md):
- ``fetch``: download the official archives (``download.py``: resume, md5, atomic), extract them
  into ``<data>/oxford-iiit-pet`` and register that folder as the ``oxford`` source;
- ``ingest`` (``--from``): an extracted folder is registered IN PLACE (never copied: it is ~800
  MB and already laid out right); archives (.tar.gz files, or a folder holding them) are extracted
  into ``<data>/oxford-iiit-pet`` exactly as a download would be.

Extraction is safe and atomic: every tar member is checked before it is written (no absolute
paths, no ``..``, no links leading out, no device files, nothing but files, folders and links),
everything lands in a temporary folder that replaces the target only when the whole layout is
there, and a failure removes the temporary folder.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import tarfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from tinycats.data import oxford
from tinycats.data.download import RemoteFile, download, join_url
from tinycats.data.sources import Source, load_registry, register
from tinycats.errors import TinycatsError

DEFAULT_BASE_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
URL_ENV = "TINYCATS_OXFORD_URL"
OXFORD_FILES: tuple[RemoteFile, ...] = (
    RemoteFile("images.tar.gz", "5c4f3ee8e5d25df40f4fd59a7f44e54c", 791_918_971),
    RemoteFile("annotations.tar.gz", "95a8c909bbe2e81eed6a22bccdf3f68f"),
)
SOURCE_NAME = "oxford"
TARGET_DIRNAME = "oxford-iiit-pet"
DOWNLOADS_DIRNAME = "downloads"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")

#: on_progress(what, done, total): one call per chunk; ``what`` names the phase and file.
ProgressCb = Callable[[str, int, int | None], None]


class ArchiveError(TinycatsError):
    """An archive that cannot be read or does not hold the expected layout."""


class UnsafeArchiveError(ArchiveError):
    """An archive member that would escape the target folder or create a device file."""


def base_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get(URL_ENV) or DEFAULT_BASE_URL


@dataclass
class FetchResult:
    path: Path
    in_place: bool
    notes: list[str] = field(default_factory=list)
    images: int = 0


# --------------------------------------------------------------------------- safe extraction

def _is_outside(rel: str) -> bool:
    norm = posixpath.normpath(rel)
    return norm == ".." or norm.startswith("../") or posixpath.isabs(norm)


def check_member(m: tarfile.TarInfo) -> None:
    """Raise UnsafeArchiveError unless ``m`` writes only inside the extraction folder."""
    name = m.name
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"member {name!r} has an absolute path")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise UnsafeArchiveError(
            f"member {name!r} climbs out of the target folder (path traversal)")
    if m.ischr() or m.isblk() or m.isfifo():
        raise UnsafeArchiveError(f"member {name!r} is a device or fifo")
    if m.issym():
        target = posixpath.join(posixpath.dirname(name), m.linkname)
        if posixpath.isabs(m.linkname) or _is_outside(target):
            raise UnsafeArchiveError(
                f"member {name!r} is a link to {m.linkname!r}, outside the target folder")
    elif m.islnk():
        if posixpath.isabs(m.linkname) or _is_outside(m.linkname):
            raise UnsafeArchiveError(
                f"member {name!r} is a hard link to {m.linkname!r}, outside the target folder")
    elif not (m.isfile() or m.isdir()):
        raise UnsafeArchiveError(f"member {name!r} has an unsupported type")


class _Reader:
    """A read-only file wrapper that reports progress and hashes what passes through it.

    The md5 comes free with extraction, so an ingested official archive is identified without
    reading 800 MB twice.
    """

    def __init__(self, f: IO[bytes], total: int, cb: Callable[[int], None] | None) -> None:
        self.f, self.total, self.cb, self.done = f, total, cb, 0
        self.md5 = hashlib.md5()

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        self.done += len(b)
        self.md5.update(b)
        if self.cb:
            self.cb(self.done)
        return b

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def extract_tar(archive: Path, dest: Path, *, on_progress: ProgressCb | None = None) -> str:
    """Extract ``archive`` (tar, tar.gz) into ``dest`` member by member; returns its md5.

    Streams the archive once. The caller extracts into a temporary folder and removes it on
    failure, so a refused member never leaves a half-extracted tree behind.
    """
    total = archive.stat().st_size
    label = f"extract {archive.name}"
    with open(archive, "rb") as raw:
        reader = _Reader(raw, total,
                         (lambda d: on_progress(label, d, total)) if on_progress else None)
        try:
            with tarfile.open(fileobj=reader, mode="r|*") as tf:  # type: ignore[call-overload]
                for m in tf:
                    try:
                        check_member(m)
                    except UnsafeArchiveError as e:
                        raise UnsafeArchiveError(f"refusing to extract {archive.name}: {e}"
                                                 ) from None
                    try:
                        # The "data" filter repeats the checks above at the OS level (it
                        # resolves links already on disk) and drops setuid bits and owners.
                        tf.extract(m, dest, filter="data")
                    except tarfile.FilterError as e:
                        raise UnsafeArchiveError(f"refusing to extract {archive.name}: {e}"
                                                 ) from None
            reader.drain()
        except (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error) as e:
            raise ArchiveError(f"{archive} is not a readable tar archive ({e})") from None
    return reader.md5.hexdigest()


def _find_layout_root(tmp: Path) -> Path:
    """The folder inside ``tmp`` holding images/ and annotations/ (a re-packed archive may wrap
    them in one top folder)."""
    if (tmp / "images").is_dir():
        return tmp
    subdirs = [p for p in tmp.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and (subdirs[0] / "images").is_dir():
        return subdirs[0]
    return tmp


def extract_into(root: Path, archives: Sequence[Path], *,
                 on_progress: ProgressCb | None = None) -> tuple[Path, dict[str, str]]:
    """Extract all ``archives`` into ``<root>/oxford-iiit-pet`` atomically; returns the folder
    and each archive's md5."""
    target = root / TARGET_DIRNAME
    tmp = root / f".{TARGET_DIRNAME}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        md5s = {a.name: extract_tar(a, tmp, on_progress=on_progress) for a in archives}
        inner = _find_layout_root(tmp)
        try:
            oxford.check_layout(inner)
        except oxford.OxfordLayoutError as e:
            names = ", ".join(a.name for a in archives)
            raise ArchiveError(f"after extracting {names}: {e}") from None
        old = root / f".{TARGET_DIRNAME}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(inner, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target, md5s


# --------------------------------------------------------------------------- fetch and ingest

def _count_images(path: Path) -> int:
    return sum(1 for _ in (path / "images").glob("*.jpg"))


def _register(root: Path, path: Path) -> None:
    register(root, Source(name=SOURCE_NAME, kind="oxford", path=str(path.resolve())))


def fetch(root: Path, url: str | None = None, *, files: Sequence[RemoteFile] = OXFORD_FILES,
          on_progress: ProgressCb | None = None, keep_archives: bool = False,
          force: bool = False, retries: int = 3, backoff_s: float = 1.0,
          timeout: float = 60.0) -> FetchResult:
    """Download, verify, extract and register the Oxford-IIIT Pet archives."""
    reg = load_registry(root)
    if not force and SOURCE_NAME in reg:
        # Fetched before, or registered in place with --from: never download 800 MB again
        # unless asked.
        have = Path(reg[SOURCE_NAME].path)
        try:
            oxford.check_layout(have)
        except oxford.OxfordLayoutError:
            pass  # registered but gone or broken: fetch it properly
        else:
            return FetchResult(have, False, [f"already fetched: {have} (use --force to fetch "
                                             "again)"], _count_images(have))
    base = base_url(url)
    root.mkdir(parents=True, exist_ok=True)
    known = sum(f.size for f in files if f.size)
    free = shutil.disk_usage(root).free
    # The archives plus their extracted copy (about the same size) must fit.
    if known and free < 2 * known:
        raise TinycatsError(f"not enough disk space in {root}: about {2 * known / 1e9:.1f} GB "
                            f"needed, {free / 1e9:.1f} GB free")
    dl = root / DOWNLOADS_DIRNAME
    archives = []
    for f in files:
        label = f"download {f.name}"
        cb = (lambda d, t, _l=label: on_progress(_l, d, t)) if on_progress else None
        archives.append(download(join_url(base, f.name), dl / f.name, f.md5, size=f.size,
                                 progress=cb, retries=retries, backoff_s=backoff_s,
                                 timeout=timeout))
    path, _ = extract_into(root, archives, on_progress=on_progress)
    notes = [f"extracted to {path}"]
    if not keep_archives:
        for a in archives:
            a.unlink()
        if dl.exists() and not any(dl.iterdir()):
            dl.rmdir()
    else:
        notes.append(f"archives kept in {dl}")
    _register(root, path)
    return FetchResult(path, False, notes, _count_images(path))


def _archives_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES))


def ingest(root: Path, paths: Sequence[Path], *,
           on_progress: ProgressCb | None = None) -> FetchResult:
    """``--from``: register an extracted folder in place, or extract archives like ``fetch``."""
    if not paths:
        raise TinycatsError("--from needs a path")
    archives: list[Path] = []
    in_place: list[Path] = []
    for p in paths:
        p = p.expanduser()
        if not p.exists():
            raise TinycatsError(f"--from {p}: no such file or folder")
        if p.is_dir():
            if (p / "images").is_dir() or (p / "annotations").is_dir():
                in_place.append(p)
            elif found := _archives_in(p):
                archives.extend(found)
            else:
                # Not the layout and no archives: let check_layout say what is missing.
                oxford.check_layout(p)
        elif p.name.endswith(ARCHIVE_SUFFIXES):
            archives.append(p)
        else:
            raise TinycatsError(f"--from {p}: expected a folder or a .tar.gz/.tgz/.tar archive")
    if in_place and (archives or len(in_place) > 1):
        raise TinycatsError("--from takes either one extracted folder or archives, not both")

    if in_place:
        folder = in_place[0].resolve()
        oxford.check_layout(folder)
        _register(root, folder)
        return FetchResult(folder, True, [
            f"registered {folder} in place (not copied): tinycats reads it from there, so keep "
            "it where it is"], _count_images(folder))

    path, md5s = extract_into(root, archives, on_progress=on_progress)
    official = {f.name: f.md5 for f in OXFORD_FILES}
    notes = [f"extracted {', '.join(md5s)} to {path}"]
    for name, got in md5s.items():
        if name in official:
            notes.append(f"{name}: md5 matches the official archive" if got == official[name]
                         else f"{name}: md5 {got} is not the official archive's; used as given")
    _register(root, path)
    return FetchResult(path, False, notes, _count_images(path))

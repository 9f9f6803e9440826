"""The prepared cache: decoded, square-resized uint8 arrays per source and size, plus a manifest.

Layout: ``<data>/cache/<source>/s<size>/`` holding ``images.npy`` (N, S, S, 3 uint8, loaded with
mmap so opening is instant), ``labels.npy`` (int16 index into ``LABEL_KEYS``), ``splits.npy``
(int8 index into ``SPLITS``), ``names.json`` and ``manifest.json`` (counts per label and split,
what was skipped and why, the input fingerprint and the parameters). A second ``prepare`` with
the same inputs finds a matching fingerprint and reuses the cache; changed inputs rebuild it.
A data pack may hold ``images.jpg.npz`` instead of ``images.npy`` (``data/jpeg_images.py``).
Why this format: docs/decisions/0001-cache-format.md.

A build is assembled in ``s<size>.tmp-<pid>`` and swapped in whole. A killed ``prepare`` cannot
clean up after itself: its decoding workers die with it (``_die_with_parent``) and the next
``prepare`` deletes its temporary folder (``remove_stale_builds``).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycats.breeds import ANY_CAT, CLASSIFIER_LABELS, UnknownBreedError, lookup
from tinycats.data import jpeg_images, oxford
from tinycats.data.images import BadImageError, load_square
from tinycats.data.sources import Source, load_registry
from tinycats.data.splits import carve_validation
from tinycats.errors import TinycatsError

CACHE_VERSION = 2  # 2: EXIF orientation applied, 16-bit and float images scaled
#: Label ids stored in a cache: the classifier labels, then ``any_cat`` for unlabeled cats.
LABEL_KEYS: tuple[str, ...] = (*(lab.key for lab in CLASSIFIER_LABELS), ANY_CAT.key)
SPLITS: tuple[str, ...] = ("train", "val", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class Entry:
    path: Path
    name: str  # unique within the source, e.g. "Bengal_12" or "Sphynx/abc.jpg"
    label: str  # one of LABEL_KEYS
    split: str  # one of SPLITS


@dataclass
class Plan:
    entries: list[Entry]
    skipped: dict[str, list[str]]  # reason -> names
    notes: dict[str, int]


def plan_oxford(src: Source) -> Plan:
    sc = oxford.scan(Path(src.path))
    trainval = [it for it in sc.items if it.split == "trainval"]
    val = carve_validation([it.stem for it in trainval], [it.label_key for it in trainval])
    entries = [
        Entry(it.path, it.stem, it.label_key,
              "test" if it.split == "test" else ("val" if it.stem in val else "train"))
        for it in sc.items
    ]
    skipped: dict[str, list[str]] = {}
    if sc.unlisted:
        skipped["unlisted"] = sc.unlisted
    if sc.unknown_name:
        skipped["unknown_name"] = sc.unknown_name
    return Plan(entries, skipped, {"listed_missing": sc.listed_missing})


def folder_label(folder_name: str) -> str:
    """Label key for an ImageFolder sub-folder name, matched leniently."""
    return lookup(folder_name, allow=(*CLASSIFIER_LABELS, ANY_CAT)).key


def plan_folder(src: Source) -> Plan:
    """A labeled folder: flat (every image gets ``src.label``) or ``<Label>/<image>``.

    Supplementary images go to the train split only: the validation and test sets stay the
    official Oxford ones, so numbers remain comparable with and without extra data.
    """
    root = Path(src.path)
    entries: list[Entry] = []
    skipped: dict[str, list[str]] = {}
    # Hidden files and folders (.DS_Store, ._AppleDouble, .git) are never data.
    files = sorted(p for p in root.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))
    for p in files:
        rel = p.relative_to(root).as_posix()
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.setdefault("not_image_suffix", []).append(rel)
            continue
        if src.label is not None:
            label = src.label
        else:
            if len(p.relative_to(root).parts) < 2:
                skipped.setdefault("no_label_folder", []).append(rel)
                continue
            try:
                label = folder_label(p.relative_to(root).parts[0])
            except UnknownBreedError:
                skipped.setdefault("unknown_label", []).append(rel)
                continue
        entries.append(Entry(p, rel, label, "train"))
    return Plan(entries, skipped, {})


class SourceMissingError(TinycatsError, FileNotFoundError):
    pass


def plan_source(src: Source) -> Plan:
    if not Path(src.path).is_dir():
        # Without this, a moved folder would scan as empty and quietly yield an empty cache.
        raise SourceMissingError(f"source {src.name!r}: folder {src.path} is missing (moved or "
                                 "deleted?); add it again from its new place")
    return plan_oxford(src) if src.kind == "oxford" else plan_folder(src)


def content_stamp(path: Path) -> str:
    """A file's size and a hash of its bytes, or "missing". Contents, not mtimes: copying a data
    folder (cp -r, a fresh download, a synced share) gives new mtimes to the same photos, and
    must not throw away caches that took minutes to build. Hashing 20k photos takes seconds."""
    try:
        data = path.read_bytes()
    except OSError:
        return "missing"  # vanished since the scan: decoding will count it as skipped
    return f"{len(data)}|{hashlib.blake2b(data, digest_size=16).hexdigest()}"


def fingerprint(src: Source, plan: Plan, size: int) -> str:
    """Hash of everything the cache depends on: file names and contents, labels, splits."""
    h = hashlib.sha256(f"v{CACHE_VERSION}|{size}|{src.kind}|{src.label}".encode())
    for e in plan.entries:
        h.update(f"{e.name}|{e.label}|{e.split}|{content_stamp(e.path)}\n".encode())
    for reason, names in sorted(plan.skipped.items()):
        h.update(f"{reason}:{','.join(names)}\n".encode())
    # Notes (e.g. how many listed images are absent) are in the manifest, so they count too.
    h.update(json.dumps(plan.notes, sort_keys=True).encode())
    return h.hexdigest()


def _decode(args: tuple[str, int]) -> tuple[np.ndarray | None, str]:
    path, size = args
    try:
        return load_square(path, size), ""
    except BadImageError as e:
        return None, e.reason
    except Exception as e:
        # Last line of defence: one odd file must never stop a prepare of thousands. It is
        # counted under its exception name so it can be looked at, not silently dropped.
        return None, f"decode_error_{e.__class__.__name__}"


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where that is not
    available. (The kernel ties it to the thread that started the worker: the pool is created,
    used and shut down by one call of ``prepare_source``, so that thread outlives the pool.)"""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _die_with_parent(parent: int) -> None:
    """Decoding-pool initializer. A SIGKILLed ``prepare`` runs no cleanup, and its workers would
    otherwise wait on their task queue forever; so each worker ends when its parent does."""
    if not _parent_death_signal():
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def decode_pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: the caller may run threads (a progress bar), and fork copies their
    # locks in whatever state they are in.
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


_BUILD_DIR = re.compile(r"s\d+\.tmp(?:-(\d+))?")


def _build_dir(out: Path) -> Path:
    """Where a build of ``out`` is assembled: named after the building process, so a later run
    can tell a live build from one a killed run left behind."""
    return out.with_name(f"{out.name}.tmp-{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale_builds(root: Path) -> list[tuple[Path, int]]:
    """Delete the temporary build folders (``s224.tmp-<pid>``, or an older ``s224.tmp``) that a
    killed ``prepare`` left under ``<root>/cache``: nothing else ever would, and one can hold
    gigabytes. A build whose process still runs is left alone. Returns (folder, bytes) of each
    folder removed."""
    removed = []
    for d in sorted((root / "cache").glob("*/s*.tmp*")):
        m = _BUILD_DIR.fullmatch(d.name)
        if m is None or not d.is_dir() or (m.group(1) and _alive(int(m.group(1)))):
            continue
        size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        shutil.rmtree(d, ignore_errors=True)
        if not d.exists():
            removed.append((d, size))
    return removed


@dataclass
class CacheInfo:
    path: Path
    manifest: dict[str, object]
    reused: bool


def cache_path(root: Path, source: str, size: int) -> Path:
    return root / "cache" / source / f"s{size}"


def prepare_source(root: Path, src: Source, size: int, *, workers: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   force: bool = False) -> CacheInfo:
    plan = plan_source(src)
    out = cache_path(root, src.name, size)
    fp = fingerprint(src, plan, size)
    man_file = out / "manifest.json"
    if not force and man_file.exists():
        man = json.loads(man_file.read_text())
        if man.get("fingerprint") == fp and (out / "images.npy").exists():
            return CacheInfo(out, man, True)

    n = len(plan.entries)
    arr = np.zeros((n, size, size, 3), dtype=np.uint8)
    keep = np.zeros(n, dtype=bool)
    skipped: dict[str, list[str]] = {k: list(v) for k, v in plan.skipped.items()}
    jobs = [(str(e.path), size) for e in plan.entries]
    nworkers = workers or min(4, os.cpu_count() or 1)
    results: Iterable[tuple[np.ndarray | None, str]]
    if nworkers > 1 and n > 64:
        pool = decode_pool(nworkers)
        results = pool.map(_decode, jobs, chunksize=32)
    else:
        pool = None
        results = map(_decode, jobs)
    try:
        for i, (img, reason) in enumerate(results):
            if img is None:
                skipped.setdefault(reason, []).append(plan.entries[i].name)
            else:
                arr[i] = img
                keep[i] = True
            if progress:
                progress(i + 1, n)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    kept = [e for e, k in zip(plan.entries, keep, strict=True) if k]
    labels = np.array([LABEL_KEYS.index(e.label) for e in kept], dtype=np.int16)
    splits = np.array([SPLITS.index(e.split) for e in kept], dtype=np.int8)
    counts: dict[str, dict[str, int]] = {s: {} for s in SPLITS}
    for (lab, sp), c in sorted(Counter((e.label, e.split) for e in kept).items()):
        counts[sp][lab] = c
    manifest: dict[str, object] = {
        "cache_version": CACHE_VERSION,
        "source": src.name,
        "source_kind": src.kind,
        "source_path": src.path,
        "size": size,
        "count": len(kept),
        "counts": counts,
        "skipped": {k: {"count": len(v), "names": v[:50]} for k, v in sorted(skipped.items())},
        "notes": plan.notes,
        "label_keys": list(LABEL_KEYS),
        "splits": list(SPLITS),
        "fingerprint": fp,
    }
    # Build in a temporary folder and swap it in: a cache is either complete or absent.
    tmp = _build_dir(out)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "images.npy", arr if keep.all() else arr[keep])  # no copy in the usual case
    np.save(tmp / "labels.npy", labels)
    np.save(tmp / "splits.npy", splits)
    (tmp / "names.json").write_text(json.dumps([e.name for e in kept]))
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return CacheInfo(out, manifest, False)


@dataclass
class CachedSet:
    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) int16 index into LABEL_KEYS
    splits: np.ndarray  # (N,) int8 index into SPLITS
    names: list[str]
    source: str


class CacheMissingError(TinycatsError, FileNotFoundError):
    pass


def load(root: Path, source: str, size: int, *, mmap: bool = True) -> CachedSet:
    p = cache_path(root, source, size)
    if not (p / "manifest.json").exists():
        raise CacheMissingError(
            f"no prepared cache for source {source!r} at size {size} under {root}; "
            f"run: tinycats data prepare --size {size}"
        )
    if not (p / "images.npy").exists() and (p / jpeg_images.FILE_NAME).exists():
        images = jpeg_images.load(p / jpeg_images.FILE_NAME)  # a compact data pack
    else:
        images = np.load(p / "images.npy", mmap_mode="r" if mmap else None)
    return CachedSet(
        images,
        np.load(p / "labels.npy"),
        np.load(p / "splits.npy"),
        json.loads((p / "names.json").read_text()),
        source,
    )


def registered_sources(root: Path) -> list[Source]:
    return list(load_registry(root).values())

"""``tinycats data prepare`` and ``data stats``: every registered source, one cache per size.

``prepare_all`` runs ``cache.prepare_source`` for each source and reports, per source, whether
the cache was reused or rebuilt, or why the source was left out (a ``max_size`` below the
requested size, a folder that went missing). One failing source does not stop the others.
``cache_summaries`` reads the manifests back for ``stats``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tinycats.data.cache import CacheInfo, prepare_source
from tinycats.data.sources import Source, load_registry
from tinycats.errors import TinycatsError

MIN_SIZE, MAX_SIZE = 8, 1024

Status = Literal["built", "reused", "skipped", "failed"]


@dataclass
class Outcome:
    source: Source
    status: Status
    note: str = ""
    info: CacheInfo | None = None
    seconds: float = 0.0


def select_sources(root: Path, names: Sequence[str] | None) -> list[Source]:
    reg = load_registry(root)
    if not reg:
        raise TinycatsError(
            f"no data sources registered in {root}; run `tinycats data fetch` "
            "(or `tinycats data fetch --from PATH`) first")
    if not names:
        return list(reg.values())
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise TinycatsError(f"unknown source {', '.join(map(repr, unknown))}; registered: "
                            f"{', '.join(reg)}")
    return [reg[n] for n in dict.fromkeys(names)]


def prepare_all(root: Path, size: int, names: Sequence[str] | None = None, *,
                force: bool = False, workers: int | None = None,
                on_start: Callable[[Source], None] | None = None,
                on_progress: Callable[[Source, int, int], None] | None = None
                ) -> list[Outcome]:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise TinycatsError(f"--size {size}: must be between {MIN_SIZE} and {MAX_SIZE} pixels")
    out: list[Outcome] = []
    for src in select_sources(root, names):
        if src.max_size is not None and size > src.max_size:
            out.append(Outcome(src, "skipped", f"its images are only used up to {src.max_size}px"))
            continue
        if on_start:
            on_start(src)
        t0 = time.perf_counter()
        cb = (lambda i, n, _s=src: on_progress(_s, i, n)) if on_progress else None
        try:
            info = prepare_source(root, src, size, workers=workers, progress=cb, force=force)
        except TinycatsError as e:
            out.append(Outcome(src, "failed", str(e), None, time.perf_counter() - t0))
            continue
        out.append(Outcome(src, "reused" if info.reused else "built", "", info,
                           time.perf_counter() - t0))
    return out


def split_counts(manifest: dict[str, Any]) -> dict[str, int]:
    return {sp: sum(per.values()) for sp, per in manifest["counts"].items()}


def skipped_counts(manifest: dict[str, Any]) -> dict[str, int]:
    return {reason: v["count"] for reason, v in manifest.get("skipped", {}).items()}


@dataclass
class CacheSummary:
    source: str
    size: int
    path: Path
    manifest: dict[str, Any]


def cache_summaries(root: Path, size: int | None = None) -> list[CacheSummary]:
    """Every prepared cache under ``<root>/cache`` (by source, then size)."""
    out = []
    for man in sorted((root / "cache").glob("*/s*/manifest.json")):
        if not re.fullmatch(r"s\d+", man.parent.name):
            continue  # s64.tmp: a build in progress
        try:
            m = json.loads(man.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # a cache being rebuilt right now, or damaged: prepare will redo it
        if size is not None and m.get("size") != size:
            continue
        out.append(CacheSummary(m.get("source", man.parent.parent.name), int(m.get("size", 0)),
                                man.parent, m))
    out.sort(key=lambda c: (c.source, c.size))
    return out

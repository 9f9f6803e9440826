"""Timing helper for ``tinycats bench classifier``: warm up, then time repeated calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def time_fn(fn: Callable[[], Any], seconds: float = 3.0, warmup: int = 5,
            min_runs: int = 5) -> dict[str, float]:
    """Median and p90 wall time of ``fn`` after ``warmup`` untimed calls (the first calls of a
    session are several times slower: allocation, kernel selection)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    t_end = time.perf_counter() + seconds
    while len(times) < min_runs or time.perf_counter() < t_end:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return {"median_s": statistics.median(times), "p90_s": times[int(0.9 * (len(times) - 1))],
            "runs": float(len(times))}

"""``tinycats bench data``: measured images/s for reading the cache and for augmentation.

Figures are measured, never estimated: each stage runs shuffled batches (as a trainer reads
them) for a fixed wall-time after a short warm-up, and reports images per second.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycats.data.cache import CachedSet, load


@dataclass
class BenchResult:
    stage: str
    images_per_s: float
    images: int
    seconds: float
    note: str = ""


def _timed(stage: str, step: Callable[[np.ndarray], object], n: int, batch: int,
           seconds: float, seed: int = 0, note: str = "") -> BenchResult:
    rng = np.random.default_rng(seed)
    step(rng.integers(0, n, size=min(batch, n)))  # warm-up: first touch, lazy imports
    done, t0 = 0, time.perf_counter()
    while True:
        idx = np.sort(rng.integers(0, n, size=min(batch, n)))
        step(idx)
        done += len(idx)
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return BenchResult(stage, done / elapsed, done, elapsed, note)


def bench_cache(root: Path, source: str, size: int, *, batch: int = 64,
                seconds: float = 1.0) -> tuple[CachedSet, float, list[BenchResult]]:
    """Open time (s) and images/s of random uint8 batches, and of batches as float tensors."""
    t0 = time.perf_counter()
    cs = load(root, source, size, mmap=True)
    open_s = time.perf_counter() - t0
    n = len(cs.labels)
    if n == 0:
        return cs, open_s, []
    results = [_timed("load batch (uint8, mmap)",
                      lambda idx: np.ascontiguousarray(cs.images[idx]), n, batch, seconds)]
    if importlib.util.find_spec("torch") is not None:
        import torch

        def to_tensor(idx: np.ndarray) -> object:
            x = torch.from_numpy(np.ascontiguousarray(cs.images[idx]))
            return x.permute(0, 3, 1, 2).float().div_(255.0)

        results.append(_timed("load batch -> float tensor", to_tensor, n, batch, seconds))
    return cs, open_s, results


def torch_threads(n: int | None) -> int | None:
    """Set torch's intra-op threads when asked; returns the count in use (None: no torch)."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    if n is not None:
        torch.set_num_threads(max(1, n))
    return int(torch.get_num_threads())


def augment_available() -> bool:
    return importlib.util.find_spec("tinycats.data.augment") is not None


def bench_augment(cs: CachedSet, out_size: int, *, batch: int = 64, seconds: float = 1.0,
                  seed: int = 0) -> BenchResult:
    """images/s of the training input path: cache batch -> NCHW uint8 -> ``augment.augment``
    (random resized crop, flip, low-res round trip, colour jitter, normalisation)."""
    import torch

    from tinycats.data import augment as aug

    g = torch.Generator().manual_seed(seed)

    def step(idx: np.ndarray) -> object:
        return aug.augment(aug.nhwc_to_nchw(cs.images[idx]), out_size, g)

    return _timed(f"load + augment -> {out_size}px", step, len(cs.labels), batch, seconds)

"""Generator training data: Oxford cat breeds (+ optional unlabeled cats as ``any_cat``), kept in
memory as uint8, batches drawn deterministically from (seed, step)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from tinycats.breeds import ANY_CAT_ID, BREEDS, NUM_BREEDS
from tinycats.data import cache
from tinycats.data.cam_crops import load_cropped_oxford
from tinycats.data.sources import load_registry
from tinycats.generator.config import GenDataConfig
from tinycats.generator.repa import RepaConfig, features_for, flip_tokens
from tinycats.paths import shipped_models_dir


@dataclass
class GenData:
    images: torch.Tensor  # (N, 3, S, S) uint8, labeled breeds
    labels: torch.Tensor  # (N,) int64 generator class ids (breeds only)
    extra: torch.Tensor | None  # (M, 3, S, S) uint8 unlabeled cats (class any_cat)
    #: REPA encoder tokens of ``images`` / ``extra`` (N or M, T, C) float16, when the recipe
    #: uses representation alignment (generator/repa.py: attach_targets)
    targets: torch.Tensor | None = None
    extra_targets: torch.Tensor | None = None

    def to(self, device: torch.device) -> GenData:
        """The same data on ``device``. On a GPU, batches are then gathered, converted and
        flipped there: for this small model a CPU-side batch of 512 would take longer than the
        GPU step (the random draws stay on the CPU, so batches do not depend on the device)."""
        def move(a: torch.Tensor | None) -> torch.Tensor | None:
            return None if a is None else a.to(device)

        return GenData(self.images.to(device), self.labels.to(device), move(self.extra),
                       move(self.targets), move(self.extra_targets))

    def per_class_counts(self) -> dict[str, int]:
        counts = {b.key: int((self.labels == b.id).sum()) for b in BREEDS}
        counts["any_cat"] = 0 if self.extra is None else int(self.extra.shape[0])
        return counts


def from_arrays(images: np.ndarray, labels: np.ndarray, extra: np.ndarray | None = None
                ) -> GenData:
    def chw(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).contiguous()

    return GenData(chw(images), torch.from_numpy(labels.astype(np.int64)),
                   None if extra is None or len(extra) == 0 else chw(extra))


def load_gen_data(root: Path, cfg: GenDataConfig) -> GenData:
    ox = load_cropped_oxford(root, cfg.size, cfg.crop_spec(), shipped_models_dir())
    split_ids = [cache.SPLITS.index(s) for s in cfg.splits]
    # Cache label ids 0..11 are the breeds (same ids as generator classes); "other" is dropped.
    keep = np.isin(ox.splits, split_ids) & (ox.labels < NUM_BREEDS)
    extra = None
    if cfg.any_cat_fraction > 0:
        parts = []
        for src in load_registry(root).values():
            if src.label == "any_cat":
                cs = cache.load(root, src.name, cfg.size, mmap=True)
                parts.append(np.asarray(cs.images))
        if parts:
            extra = np.concatenate(parts)
            if cfg.any_cat_limit is not None:
                extra = extra[: cfg.any_cat_limit]
    return from_arrays(ox.images[keep], ox.labels[keep], extra)


def attach_targets(data: GenData, cfg: RepaConfig, grid: int, cache_dir: Path | None,
                   progress: Callable[[int], None] | None = None) -> GenData:
    """``data`` with the REPA encoder tokens of every image (computed once, then cached)."""
    targets = features_for(data.images, cfg, grid, cache_dir, progress)
    extra = None if data.extra is None else features_for(data.extra, cfg, grid, cache_dir,
                                                          progress)
    return replace(data, targets=targets, extra_targets=extra)


class Batch(NamedTuple):
    x: torch.Tensor  # (B, 3, S, S) images in [-1, 1]
    labels: torch.Tensor  # (B,) generator class ids
    #: the batch's random stream: the caller draws t, noise and label dropout from it
    g: torch.Generator
    targets: torch.Tensor | None  # (B, T, C) REPA tokens of the (flipped) images, or None


def draw_batch(data: GenData, cfg: GenDataConfig, batch: int, seed: int, step: int) -> Batch:
    """The global batch for ``step``, on the data's device, drawn deterministically from
    (seed, step)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    n = data.images.shape[0]
    use_extra = torch.zeros(batch, dtype=torch.bool)
    if data.extra is not None and cfg.any_cat_fraction > 0:
        use_extra = torch.rand(batch, generator=g) < cfg.any_cat_fraction
    idx = torch.randint(0, n, (batch,), generator=g)
    dev = data.images.device
    imgs = data.images[idx.to(dev)]
    labels = data.labels[idx.to(dev)].clone()
    targets = None if data.targets is None else data.targets[idx.to(dev)]
    if data.extra is not None and use_extra.any():
        eidx = torch.randint(0, data.extra.shape[0], (int(use_extra.sum()),), generator=g)
        extra_rows = use_extra.to(dev)
        imgs[extra_rows] = data.extra[eidx.to(dev)]
        labels[extra_rows] = ANY_CAT_ID
        if targets is not None:
            if data.extra_targets is None:
                raise ValueError("REPA targets are attached to the breeds but not to any_cat")
            targets[extra_rows] = data.extra_targets[eidx.to(dev)]
    x = imgs.float() / 127.5 - 1.0
    if cfg.hflip:
        flip = (torch.rand(batch, generator=g) < 0.5).to(dev)
        x[flip] = x[flip].flip(-1)
        if targets is not None:
            grid = math.isqrt(targets.shape[1])
            targets[flip] = flip_tokens(targets[flip], grid)
    return Batch(x, labels, g, targets)

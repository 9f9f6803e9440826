"""Generator training data: Oxford cat breeds (+ optional unlabeled cats as ``any_cat``), kept in
memory as uint8, batches drawn deterministically from (seed, step)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from tinycats.breeds import ANY_CAT_ID, BREEDS, NUM_BREEDS
from tinycats.data import cache
from tinycats.data.sources import load_registry
from tinycats.generator.config import GenDataConfig
from tinycats.generator.crops import load_cropped_oxford, load_views


@dataclass
class GenData:
    images: torch.Tensor  # (N, 3, S, S) uint8, labeled breeds
    labels: torch.Tensor  # (N,) int64 generator class ids (breeds only)
    extra: torch.Tensor | None  # (M, 3, S, S) uint8 unlabeled cats (class any_cat)
    #: (N, K, 3, S, S) uint8: K framings of each labelled image, the first the image itself
    #: (``data.crop_views``); batches draw one of them. None: the images as they are.
    views: torch.Tensor | None = None

    def to(self, device: torch.device) -> GenData:
        """The same data on ``device``. On a GPU, batches are then gathered, converted and
        flipped there: for this small model a CPU-side batch of 512 would take longer than the
        GPU step (the random draws stay on the CPU, so batches do not depend on the device)."""
        return GenData(self.images.to(device), self.labels.to(device),
                       None if self.extra is None else self.extra.to(device),
                       None if self.views is None else self.views.to(device))

    def per_class_counts(self) -> dict[str, int]:
        counts = {b.key: int((self.labels == b.id).sum()) for b in BREEDS}
        counts["any_cat"] = 0 if self.extra is None else int(self.extra.shape[0])
        return counts


def from_arrays(images: np.ndarray, labels: np.ndarray, extra: np.ndarray | None = None,
                views: np.ndarray | None = None) -> GenData:
    """From (N, S, S, 3) uint8 arrays; ``views`` (N, K, S, S, 3)."""
    def chw(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).movedim(-1, -3).contiguous()

    if views is not None and views.shape[0] != images.shape[0]:
        raise ValueError(f"{views.shape[0]} sets of views for {images.shape[0]} images")
    return GenData(chw(images), torch.from_numpy(labels.astype(np.int64)),
                   None if extra is None or len(extra) == 0 else chw(extra),
                   None if views is None else chw(views))


def load_gen_data(root: Path, cfg: GenDataConfig) -> GenData:
    ox = load_cropped_oxford(root, cfg.size, cfg.crop_spec())
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
    spec = cfg.views_spec()
    names = [n for n, k in zip(ox.names, keep, strict=True) if k]
    views = None if spec is None else load_views(root, cfg.size, cfg.crop_spec(), spec, names)
    return from_arrays(ox.images[keep], ox.labels[keep], extra, views)


class Batch(NamedTuple):
    x: torch.Tensor  # (B, 3, S, S) images in [-1, 1]
    labels: torch.Tensor  # (B,) generator class ids
    #: the batch's random stream: the caller draws t, noise and label dropout from it
    g: torch.Generator


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
    if data.views is None:
        imgs = data.images[idx.to(dev)]
    else:  # one framing of each drawn photo
        view = torch.randint(0, data.views.shape[1], (batch,), generator=g)
        imgs = data.views[idx.to(dev), view.to(dev)]
    labels = data.labels[idx.to(dev)].clone()
    if data.extra is not None and use_extra.any():
        eidx = torch.randint(0, data.extra.shape[0], (int(use_extra.sum()),), generator=g)
        extra_rows = use_extra.to(dev)
        imgs[extra_rows] = data.extra[eidx.to(dev)]
        labels[extra_rows] = ANY_CAT_ID
    x = imgs.float() / 127.5 - 1.0
    if cfg.hflip:
        flip = (torch.rand(batch, generator=g) < 0.5).to(dev)
        x[flip] = x[flip].flip(-1)
    if cfg.jitter_p > 0:
        x = jitter(x, g, cfg)
    return Batch(x, labels, g)


def jitter(x: torch.Tensor, g: torch.Generator, cfg: GenDataConfig) -> torch.Tensor:
    """Each image, with probability ``cfg.jitter_p``, zoomed in (1..zoom_max), turned
    (+-rotate_deg) and shifted (+-shift_px): one affine grid per image, one bicubic
    ``grid_sample`` for the batch. Zooming in only (and reflecting at the border) never shows
    a frame the crops do not have; bicubic keeps the fur sharper than bilinear."""
    b, s = x.shape[0], x.shape[-1]
    on = torch.rand(b, generator=g) < cfg.jitter_p
    zoom = 1 + torch.rand(b, generator=g) * (cfg.zoom_max - 1)
    angle = (torch.rand(b, generator=g) * 2 - 1) * math.radians(cfg.rotate_deg)
    shift = (torch.rand(b, 2, generator=g) * 2 - 1) * (2 * cfg.shift_px / s)  # in [-1, 1] units
    zoom, angle, shift = torch.where(on, zoom, 1.0), angle * on, shift * on[:, None]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1).to(x)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bicubic", padding_mode="reflection", align_corners=False)
    return torch.where(on.to(x.device)[:, None, None, None], out.clamp(-1, 1), x)

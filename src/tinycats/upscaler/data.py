"""Upscaler training data: sharp 128 px cats, kept in memory as uint8, batches drawn
deterministically from (seed, step).

Two sources, both from the Oxford train and val splits only (the test split is the evaluation's
reference and is refused here):
- the prepared photo cache at ``source_size`` (``tinycats data prepare --size 256``: each photo's
  centre square), from which every batch cuts random squares of ``crop_min``..``crop_max`` of the
  side, resized to ``size``: fur, eyes and backgrounds at several scales. Why ``crop_min`` 0.5 at
  256 px: a smaller square would be upsampled to 128 px, and a blurry target teaches blur;
- the cat-face crops at ``size`` (generator/face_crops.py), framed like the base generator's
  training images, so the upscaler also sees what it will be given (a data pack holds them cut
  already: upscaler/pack.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from tinycats.breeds import NUM_BREEDS
from tinycats.config import ConfigError
from tinycats.data import cache
from tinycats.generator.crops import Crop, load_cropped_oxford
from tinycats.upscaler.degrade import DegradeConfig, degrade


@dataclass
class UpDataConfig:
    size: int = 128
    #: Oxford splits to learn from; "test" is refused (it is the evaluation's reference)
    splits: list[str] = field(default_factory=lambda: ["train", "val"])
    #: the prepared cache the photo crops are cut from, and the crops' side range (share of it)
    source_size: int = 256
    crop_min: float = 0.5
    crop_max: float = 1.0
    #: share of each batch drawn from the face crops (the rest: photo crops)
    face_fraction: float = 0.5
    face_margin: float = 1.8
    hflip: bool = True


@dataclass
class UpData:
    photos: torch.Tensor  # (N, 3, source_size, source_size) uint8
    faces: torch.Tensor  # (M, 3, size, size) uint8


class UpBatch(NamedTuple):
    x: torch.Tensor  # (B, 3, S, S) targets in [-1, 1]
    cond: torch.Tensor  # (B, 3, S/2, S/2) degraded, noised condition
    s: torch.Tensor  # (B,) the condition's noise level
    #: the batch's random stream: the caller draws t and the flow noise from it
    g: torch.Generator


def from_arrays(photos: np.ndarray, faces: np.ndarray) -> UpData:
    """(N, H, W, 3) uint8 arrays -> UpData (channels first)."""
    def chw(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).contiguous()

    return UpData(chw(photos), chw(faces))


def _check_splits(cfg: UpDataConfig) -> None:
    if "test" in cfg.splits:
        raise ConfigError("the upscaler never trains on the Oxford test split: it is the "
                          "evaluation's reference")
    unknown = set(cfg.splits) - set(cache.SPLITS)
    if unknown:
        raise ConfigError(f"unknown split(s) {sorted(unknown)} in data.splits; use train, val")


def keep_mask(labels: np.ndarray, splits: np.ndarray, cfg: UpDataConfig) -> np.ndarray:
    return np.isin(splits, [cache.SPLITS.index(s) for s in cfg.splits]) & (labels < NUM_BREEDS)


def load_upscaler_data(root: Path, cfg: UpDataConfig, *, log: Callable[[str], None] = print
                       ) -> UpData:
    """The breed photos (from the ``source_size`` cache) and face crops of ``cfg.splits``."""
    _check_splits(cfg)
    ph = cache.load(root, "oxford", cfg.source_size, mmap=True)
    keep = keep_mask(ph.labels, ph.splits, cfg)
    fc = load_cropped_oxford(root, cfg.size, Crop("face", cfg.face_margin), log=log)
    fkeep = keep_mask(fc.labels, fc.splits, cfg)
    if not keep.any() or not fkeep.any():
        raise ConfigError(f"no Oxford cat photos or face crops in the splits {cfg.splits}")
    return from_arrays(np.asarray(ph.images[keep]), np.asarray(fc.images[fkeep]))


def random_crops(photos: torch.Tensor, size: int, cfg: UpDataConfig, g: torch.Generator
                 ) -> torch.Tensor:
    """One random square per photo (uint8, B x 3 x P x P), side crop_min..crop_max of P, resized
    to ``size`` with antialiased bicubic: (B, 3, size, size) float in [-1, 1]."""
    b, p = photos.shape[0], photos.shape[-1]
    frac = cfg.crop_min + (cfg.crop_max - cfg.crop_min) * torch.rand(b, generator=g)
    sides = (frac * p).round().long().clamp(min=1, max=p)
    corner = (torch.rand(b, 2, generator=g) * (p - sides + 1)[:, None]).long()
    out = []
    for im, side, (y0, x0) in zip(photos, sides.tolist(), corner.tolist(), strict=True):
        crop = im[None, :, y0:y0 + side, x0:x0 + side].float() / 127.5 - 1.0
        out.append(F.interpolate(crop, size=(size, size), mode="bicubic", antialias=True,
                                 align_corners=False) if side != size else crop)
    return torch.cat(out).clamp(-1, 1)


def draw_batch(data: UpData, cfg: UpDataConfig, dcfg: DegradeConfig, batch: int, seed: int,
               step: int) -> UpBatch:
    """The batch for ``step``: targets (face crops and photo crops, flipped at random) and
    their degraded conditions, a function of (seed, step) only."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    use_face = torch.rand(batch, generator=g) < cfg.face_fraction
    fidx = torch.randint(0, data.faces.shape[0], (batch,), generator=g)
    pidx = torch.randint(0, data.photos.shape[0], (batch,), generator=g)
    x = torch.empty(batch, data.faces.shape[1], cfg.size, cfg.size)
    if use_face.any():
        x[use_face] = data.faces[fidx[use_face]].float() / 127.5 - 1.0
    if (~use_face).any():
        x[~use_face] = random_crops(data.photos[pidx[~use_face]], cfg.size, cfg, g)
    if cfg.hflip:
        flip = torch.rand(batch, generator=g) < 0.5
        x[flip] = x[flip].flip(-1)
    cond, s = degrade(x, dcfg, g)
    return UpBatch(x, cond, s, g)

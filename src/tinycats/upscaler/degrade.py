"""The upscaler's condition: a training image made to look like what the base generator hands it.

A clean target at S px -> downscaled to S/2 (area or antialiased bicubic, picked per image:
the model should not learn one kernel's fingerprint) -> with some probability a Gaussian blur
and a JPEG re-compression (the base model's outputs are softer and blockier than real photos;
teaching the upscaler to see through that keeps it from sharpening the artifacts) -> Gaussian
noise of standard deviation s ~ U[0, s_max], and s is given to the network too. That last step
is the noise-conditioning augmentation of cascaded diffusion models (Ho et al. 2021): noise hides
the base model's errors from the upscaler, and because it knows s, sampling can pick the level
(``add_noise`` is the same step at sampling time).

Every random choice comes from one torch.Generator, so a batch is a function of its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F

from tinycats.data.images import jpeg_round_trip
from tinycats.grid import to_uint8

Downscale = Literal["area", "bicubic"]


@dataclass
class DegradeConfig:
    #: share of images downscaled by area averaging; the others by antialiased bicubic
    p_area: float = 0.5
    p_blur: float = 0.3
    #: blur sigma range, in pixels of the half-size condition
    blur_sigma: list[float] = field(default_factory=lambda: [0.3, 1.0])
    p_jpeg: float = 0.3
    #: JPEG quality range (PIL), both ends included
    jpeg_quality: list[int] = field(default_factory=lambda: [50, 95])
    #: the condition's noise level s ~ U[0, s_max] (a standard deviation, images in [-1, 1])
    s_max: float = 0.25


class Degraded(NamedTuple):
    cond: torch.Tensor  # (B, C, S/2, S/2) the noised, degraded condition
    s: torch.Tensor  # (B,) its noise level, the one the network is told


def downscale(x: torch.Tensor, kind: Downscale = "bicubic") -> torch.Tensor:
    """(B, C, S, S) -> (B, C, S/2, S/2); ``bicubic`` is antialiased (as PIL resizes the base
    model's training crops)."""
    if kind == "area":
        return F.interpolate(x, scale_factor=0.5, mode="area")
    return F.interpolate(x, scale_factor=0.5, mode="bicubic", antialias=True,
                         align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Each image blurred with its own sigma (B,), separably, reflecting at the border; a sigma
    of 0 leaves the image as it is."""
    b, c, h, w = x.shape
    radius = max(1, math.ceil(3 * float(sigma.max())))
    d = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-d[None] ** 2 / (2 * sigma.to(x).clamp(min=1e-3)[:, None] ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, 2r+1), one per channel
    y = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, k[:, None, None, :], groups=b * c)
    y = F.conv2d(y, k[:, None, :, None], groups=b * c)
    return y.reshape(b, c, h, w)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """One (C, H, W) image in [-1, 1] through PIL's JPEG encoder and decoder at ``quality``."""
    back = jpeg_round_trip(to_uint8(x[None].float().cpu().numpy())[0], quality)
    return torch.from_numpy(back.copy()).permute(2, 0, 1).to(x) / 127.5 - 1.0


def add_noise(cond: torch.Tensor, s: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The noise-conditioning augmentation: cond + s * eps (s: (B,) standard deviations)."""
    eps = torch.randn(cond.shape, generator=g, device=g.device)
    return cond + s.view(-1, 1, 1, 1).to(cond) * eps.to(cond)


def degrade(x: torch.Tensor, cfg: DegradeConfig, g: torch.Generator) -> Degraded:
    """The training condition of targets ``x`` (B, C, S, S) in [-1, 1] (CPU tensors; ``g`` a CPU
    generator). The draws are made in a fixed order whatever the probabilities, so changing one
    probability does not reshuffle the others."""
    b = x.shape[0]
    area = torch.rand(b, generator=g) < cfg.p_area
    blur_on = torch.rand(b, generator=g) < cfg.p_blur
    lo, hi = cfg.blur_sigma
    sigma = torch.where(blur_on, lo + (hi - lo) * torch.rand(b, generator=g), 0.0)
    jpeg_on = torch.rand(b, generator=g) < cfg.p_jpeg
    q_lo, q_hi = cfg.jpeg_quality
    quality = torch.randint(q_lo, q_hi + 1, (b,), generator=g)
    s = torch.rand(b, generator=g) * cfg.s_max

    cond = torch.where(area[:, None, None, None], downscale(x, "area"), downscale(x, "bicubic"))
    if blur_on.any():
        cond = gaussian_blur(cond, sigma)
    cond = torch.stack([jpeg(im, int(q)) if on else im
                        for im, on, q in zip(cond, jpeg_on, quality, strict=True)])
    return Degraded(add_noise(cond, s, g), s)

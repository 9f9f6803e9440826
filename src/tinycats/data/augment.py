"""Classifier normalisation and batch-wise augmentation on uint8 tensors (torch only, no
torchvision: it does not import beside the pinned CPU torch).

The one place the classifier's mean/std live. The exporter copies them into manifest.json, and
the CLI runtime and the browser read them from there, so training and every runtime use the
same formula: ``v = pixel / 255; (v - mean) / std``. The values are the ones the TensorFlow
EfficientNet-Lite checkpoints were trained with, ``(pixel - 127) / 128``; ImageNet's usual
(0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) put fewer Oxford cats in ImageNet's cat classes
(measured: 80.0% vs 81.7% top-1 in classes 281-285 on 120 Oxford cats, lite0).

Every function takes a ``torch.Generator`` so a batch is a pure function of (seed, step): runs
resume and scale to several processes without changing what they see. Everything works on a
whole batch at once (one ``grid_sample`` does crop + flip + resize for all images).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tinycats.data import images

#: Pixel scale, mean and std: ``(pixel / SCALE - MEAN) / STD`` == ``(pixel - 127) / 128``.
SCALE = 255.0
MEAN: tuple[float, float, float] = (127.0 / 255.0,) * 3
STD: tuple[float, float, float] = (128.0 / 255.0,) * 3


@dataclass
class AugmentConfig:
    #: random resized crop: area fraction of the source and aspect-ratio range
    crop_scale: tuple[float, float] = (0.35, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.5
    #: colour jitter strengths (factors drawn from [1 - s, 1 + s]); no hue shift: a breed's
    #: colour is part of its identity (a hue-shifted Russian Blue is not a Russian Blue)
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25
    #: probability of the low-resolution round trip (down to ~64 px and back up), so the
    #: classifier also recognises the 64x64 images the generator makes
    lowres_p: float = 0.2
    lowres_sizes: tuple[int, int] = (48, 80)
    #: share of those round trips scaled back up with nearest neighbour instead of bicubic: a
    #: small image saved or pasted as enlarged blocks (2x-4x nearest is what image viewers and
    #: many "save" buttons do)
    lowres_nearest: float = 0.0
    #: probability of a JPEG round trip at a quality drawn from ``jpeg_quality``: screenshots and
    #: photos passed through chat apps arrive heavily compressed
    jpeg_p: float = 0.0
    jpeg_quality: tuple[int, int] = (15, 70)


def nhwc_to_nchw(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 (NumPy from a cache, or torch) -> contiguous (B, 3, H, W) uint8."""
    t = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) \
        else images
    return t.permute(0, 3, 1, 2).contiguous()


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W), or floats already in [0, 1], -> the network's input."""
    if x.dtype == torch.uint8:
        x = x.float() / SCALE
    mean = torch.tensor(MEAN, dtype=x.dtype, device=x.device)[None, :, None, None]
    std = torch.tensor(STD, dtype=x.dtype, device=x.device)[None, :, None, None]
    return (x - mean) / std


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def random_resized_crop(x: torch.Tensor, out_size: int, g: torch.Generator,
                        scale: tuple[float, float] = (0.35, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3),
                        hflip: float = 0.5) -> torch.Tensor:
    """Per-image random crop (area fraction ``scale``, aspect ``ratio``), optional horizontal
    flip, resized to ``out_size``: floats (B, 3, H, W) in [0, 1] -> (B, 3, out, out).

    One affine grid per image and a single bilinear ``grid_sample`` for the batch."""
    b = x.shape[0]
    area = _uniform(b, *scale, g)
    log_r = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), g)
    r = torch.exp(log_r)
    # Half-extents in normalised coordinates (the whole image spans [-1, 1], i.e. 1.0).
    w = torch.sqrt(area * r).clamp(max=1.0)
    h = torch.sqrt(area / r).clamp(max=1.0)
    cx = (torch.rand(b, generator=g) * 2 - 1) * (1 - w)
    cy = (torch.rand(b, generator=g) * 2 - 1) * (1 - h)
    flip = torch.where(torch.rand(b, generator=g) < hflip, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = w * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = h
    theta[:, 1, 2] = cy
    theta = theta.to(x.device, x.dtype)
    grid = F.affine_grid(theta, [b, 3, out_size, out_size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def color_jitter(x: torch.Tensor, g: torch.Generator, brightness: float = 0.25,
                 contrast: float = 0.25, saturation: float = 0.25) -> torch.Tensor:
    """Per-image brightness, contrast and saturation factors; floats in [0, 1] in and out."""
    b = x.shape[0]
    dev = x.device

    def factors(s: float) -> torch.Tensor:
        return _uniform(b, 1 - s, 1 + s, g).to(dev, x.dtype)[:, None, None, None]

    fb, fc, fs = factors(brightness), factors(contrast), factors(saturation)
    x = x * fb
    gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    m = gray.mean(dim=(2, 3), keepdim=True)
    x = (x - m) * fc + m
    gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = (x - gray) * fs + gray
    return x.clamp(0.0, 1.0)


def low_resolution(x: torch.Tensor, g: torch.Generator, p: float = 0.2,
                   sizes: tuple[int, int] = (48, 80), nearest: float = 0.0) -> torch.Tensor:
    """With probability ``p`` per image: shrink to one size drawn from ``sizes`` (antialiased,
    like a 64x64 generator sample) and scale back up bicubically, as the runtimes upscale a
    small input, or with probability ``nearest`` (per batch) as nearest-neighbour blocks. One
    size and one mode per batch keep the resize batched."""
    b, _, h, w = x.shape
    mask = torch.rand(b, generator=g) < p
    size = int(torch.randint(sizes[0], sizes[1] + 1, (1,), generator=g))
    # drawn only when asked for, so recipes without it keep their random streams
    blocks = nearest > 0 and bool(torch.rand(1, generator=g) < nearest)
    if not bool(mask.any()):
        return x
    idx = mask.nonzero().squeeze(1).to(x.device)
    small = F.interpolate(x[idx], size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
    if blocks:
        up = F.interpolate(small, size=(h, w), mode="nearest")
    else:
        up = F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False)
    up = up.clamp(0.0, 1.0)
    x = x.clone()
    x[idx] = up
    return x


def jpeg_round_trip(x: torch.Tensor, g: torch.Generator, p: float = 0.0,
                    quality: tuple[int, int] = (15, 70)) -> torch.Tensor:
    """With probability ``p`` per image: encode as JPEG at a quality drawn from ``quality`` and
    decode again (Pillow, one image at a time: there is no batched JPEG codec in torch)."""
    b = x.shape[0]
    if p <= 0:  # no draws: recipes without it keep their random streams
        return x
    mask = torch.rand(b, generator=g) < p
    qs = torch.randint(quality[0], quality[1] + 1, (b,), generator=g)
    if not bool(mask.any()):
        return x
    x = x.clone()
    for i in mask.nonzero().squeeze(1).tolist():
        arr = (x[i].permute(1, 2, 0).cpu().numpy() * SCALE + 0.5).clip(0, 255).astype(np.uint8)
        back = images.jpeg_round_trip(arr, int(qs[i])).astype(np.float32) / SCALE
        x[i] = torch.from_numpy(back).permute(2, 0, 1).to(x.device)
    return x


def augment(images: torch.Tensor, out_size: int, g: torch.Generator,
            cfg: AugmentConfig | None = None) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> augmented, normalised float (B, 3, out_size, out_size)."""
    cfg = cfg or AugmentConfig()
    x = images.float() / SCALE
    x = random_resized_crop(x, out_size, g, cfg.crop_scale, cfg.crop_ratio, cfg.hflip)
    x = low_resolution(x, g, cfg.lowres_p, cfg.lowres_sizes, cfg.lowres_nearest)
    x = color_jitter(x, g, cfg.brightness, cfg.contrast, cfg.saturation)
    x = jpeg_round_trip(x, g, cfg.jpeg_p, cfg.jpeg_quality)
    return normalize(x)


def center_input(images: torch.Tensor, out_size: int) -> torch.Tensor:
    """Evaluation input: uint8 (B, 3, S, S) square images (a cache is already resized shorter
    side + centre-cropped) -> normalised floats at ``out_size`` (resized only if S differs)."""
    x = images.float() / SCALE
    if x.shape[-1] != out_size or x.shape[-2] != out_size:
        x = F.interpolate(x, size=(out_size, out_size), mode="bicubic", antialias=True,
                          align_corners=False).clamp(0.0, 1.0)
    return normalize(x)

"""The generator's breed-keeping geometric jitter (generator/data.py: jitter): off means the
images pass through untouched, on moves pixels but keeps each image's colours (the breed)."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from tinycats.generator.config import GenDataConfig
from tinycats.generator.data import draw_batch, from_arrays, jitter


def _cats(n: int = 16, s: int = 32) -> torch.Tensor:
    """Smooth, asymmetric test images in [-1, 1]: a coloured blob off-centre on a gradient, so a
    shift or a turn changes pixels while the colours stay the image's own."""
    yy, xx = np.mgrid[0:s, 0:s] / s
    rng = np.random.default_rng(0)
    imgs = []
    for _ in range(n):
        cx, cy = rng.uniform(0.3, 0.7, 2)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.02)
        colour = rng.uniform(-1, 1, 3)
        imgs.append(np.stack([0.3 * xx + colour[c] * blob for c in range(3)]))
    return torch.tensor(np.array(imgs), dtype=torch.float32).clamp(-1, 1)


def test_jitter_with_zero_amplitude_is_the_identity() -> None:
    x = _cats()
    cfg = GenDataConfig(jitter_p=1.0, zoom_max=1.0, rotate_deg=0.0, shift_px=0.0)
    out = jitter(x, torch.Generator().manual_seed(0), cfg)
    assert torch.allclose(out, x, atol=1e-4)


def test_jitter_moves_pixels_but_keeps_each_images_colour() -> None:
    x = _cats()
    out = jitter(x, torch.Generator().manual_seed(1), GenDataConfig(jitter_p=1.0))
    moved = (out - x).abs().mean(dim=(1, 2, 3))
    assert (moved > 1e-3).float().mean() > 0.8  # geometry changed for (nearly) every image
    mean_colour_shift = (out.mean(dim=(2, 3)) - x.mean(dim=(2, 3))).abs().max()
    assert mean_colour_shift < 0.08  # no colour jitter: zoom/turn/shift only
    assert out.min() >= -1 and out.max() <= 1


def test_jitter_probability_leaves_the_other_images_exactly_as_they_were() -> None:
    x = _cats(64)
    out = jitter(x, torch.Generator().manual_seed(2), GenDataConfig(jitter_p=0.5))
    same = (out == x).flatten(1).all(dim=1)
    assert 16 < int(same.sum()) < 48  # about half untouched, bit for bit


def test_batches_with_jitter_are_drawn_deterministically_from_seed_and_step() -> None:
    imgs = ((_cats(8) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    data = from_arrays(imgs, np.arange(8) % 12)
    cfg = dataclasses.replace(GenDataConfig(size=32, any_cat_fraction=0.0), jitter_p=0.5)
    a, b = draw_batch(data, cfg, 8, seed=3, step=5), draw_batch(data, cfg, 8, seed=3, step=5)
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, draw_batch(data, cfg, 8, seed=3, step=6).x)

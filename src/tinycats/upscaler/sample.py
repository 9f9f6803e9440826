"""Sampling the upscaler: flow.py's sampler (time grid, Euler / Heun, guidance) run on the
network with the condition bound. The condition is noised at level ``s`` first, the same
augmentation as in training (upscaler/degrade.py: add_noise); ``s`` is a knob, chosen by
measurement (upscaler/evaluate.py)."""

from __future__ import annotations

import torch

from tinycats.breeds import NULL_ID
from tinycats.generator import flow
from tinycats.generator.dit import one_hot
from tinycats.upscaler.degrade import add_noise
from tinycats.upscaler.loss import PREDICTION
from tinycats.upscaler.model import UpscalerUNet, as_denoiser


@torch.no_grad()
def sample_upscale(model: UpscalerUNet, cond64: torch.Tensor, steps: int, s: float,
                   solver: flow.Solver = "heun", *, shift: float = 1.0,
                   labels: torch.Tensor | None = None, cfg_scale: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, C, S, S) upscaled images in [-1, 1] from conditions ``cond64`` (B, C, S/2, S/2) in
    [-1, 1]. ``labels``: breed ids, for a breed-conditioned model (required there). The
    condition noise and the starting noise come from ``generator`` (CPU; default seed 0)."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    b, c, h, w = cond64.shape
    dev = cond64.device
    s_vec = torch.full((b,), float(s))
    cond = add_noise(cond64.cpu().float(), s_vec, g).to(cond64)
    noise = torch.randn(b, c, 2 * h, 2 * w, generator=g).to(cond64)
    y, y_null = _weights(model, labels, b)
    if not model.cfg.breed and cfg_scale != 1.0:
        raise ValueError("guidance needs a breed-conditioned upscaler")
    return flow.sample(as_denoiser(model, cond, s_vec.to(cond64)), noise, y.to(dev),
                       y_null.to(dev), steps=steps, cfg_scale=cfg_scale, prediction=PREDICTION,
                       solver=solver, shift=shift)


def as_solver(name: str) -> flow.Solver:
    """A recipe's solver name, checked."""
    if name not in ("euler", "heun"):
        raise ValueError(f"unknown solver {name!r}; use 'euler' or 'heun'")
    return "heun" if name == "heun" else "euler"


def _weights(model: UpscalerUNet, labels: torch.Tensor | None, b: int
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, y_null): one-hot breeds and the null row; empty (B, 0) for a model without breeds."""
    if not model.cfg.breed:
        return torch.zeros(b, 0), torch.zeros(b, 0)
    if labels is None:
        raise ValueError("this upscaler is breed-conditioned: pass the breed labels")
    k = model.cfg.num_classes
    return one_hot(labels.cpu(), k), one_hot(torch.full((b,), NULL_ID), k)

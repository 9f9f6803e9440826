"""Sampling the upscaler: flow.py's sampler (time grid, Euler / Heun) run on the network with
the condition bound, without guidance (the upscaler takes no class weights). The condition is
noised at level ``s`` first, the same augmentation as in training (upscaler/degrade.py:
add_noise); ``s`` is a knob, chosen by measurement (upscaler/evaluate.py)."""

from __future__ import annotations

import torch

from tinycats.generator import flow
from tinycats.upscaler.degrade import add_noise
from tinycats.upscaler.loss import PREDICTION
from tinycats.upscaler.model import UpscalerUNet, as_denoiser


@torch.no_grad()
def sample_upscale(model: UpscalerUNet, cond64: torch.Tensor, steps: int, s: float,
                   solver: flow.Solver = "heun", *, shift: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, C, S, S) upscaled images in [-1, 1] from conditions ``cond64`` (B, C, S/2, S/2) in
    [-1, 1]. The condition noise and the starting noise come from ``generator`` (CPU; default
    seed 0)."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    b, c, h, w = cond64.shape
    s_vec = torch.full((b,), float(s))
    cond = add_noise(cond64.cpu().float(), s_vec, g).to(cond64)
    noise = torch.randn(b, c, 2 * h, 2 * w, generator=g).to(cond64)
    no_weights = torch.zeros(b, 0, device=cond64.device)
    return flow.sample(as_denoiser(model, cond, s_vec.to(cond64)), noise, no_weights,
                       no_weights, steps=steps, cfg_scale=1.0, prediction=PREDICTION,
                       solver=solver, shift=shift)


def as_solver(name: str) -> flow.Solver:
    """A recipe's solver name, checked."""
    if name not in ("euler", "heun"):
        raise ValueError(f"unknown solver {name!r}; use 'euler' or 'heun'")
    return "heun" if name == "heun" else "euler"

"""Flow matching: the interpolant, the training loss, and the samplers (Euler, Heun, CFG).

The contract (docs/sampler.md states it once; the ONNX runtime and the browser copy it):

- Time runs from t = 0 (pure noise) to t = 1 (clean image).
- Linear interpolant: x_t = t * x + (1 - t) * eps, with eps ~ N(0, I), x in [-1, 1].
- Target velocity: v = dx_t/dt = x - eps.
- The network sees (x_t, t, y). With ``prediction = "x"`` it outputs x_hat and the velocity is
  v_hat = (x_hat - x_t) / max(1 - t, T_EPS); with ``prediction = "v"`` it outputs v_hat directly.
- Loss: mean squared error in velocity space, || v_hat - v ||^2, whatever the prediction type.
- Classifier-free guidance, applied exactly once, in the sampler, on velocities:
  v = v_null + s * (v_cond - v_null); s = 1 is the plain conditional model.
- Time grid: t_i = i / N for i = 0..N (uniform), optionally warped by ``shift``:
  t' = t / (t + shift * (1 - t)) (shift > 1 spends more steps near the noise end).
- Euler: x_{i+1} = x_i + (t_{i+1} - t_i) * v(x_i, t_i).
  Heun: v1 = v(x_i, t_i); x' = x_i + dt * v1; v2 = v(x', t_{i+1}); x_{i+1} = x_i + dt (v1+v2)/2,
  except on the last step (t_{i+1} = 1), which is an Euler step (v at t = 1 is not needed).
- The final image is clipped to [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

Prediction = Literal["x", "v"]
Solver = Literal["euler", "heun"]
#: Clipping of 1 - t in the x -> v conversion near t = 1 (avoids dividing by ~0).
T_EPS = 0.05

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def interpolate(x: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    tt = t.view(-1, 1, 1, 1)
    return tt * x + (1 - tt) * eps


def to_velocity(out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                prediction: Prediction) -> torch.Tensor:
    if prediction == "v":
        return out
    denom = (1 - t).clamp(min=T_EPS).view(-1, 1, 1, 1)
    return (out - x_t) / denom


def sample_t(n: int, mode: str, *, mean: float = 0.0, std: float = 1.0,
             generator: torch.Generator | None = None, device: str | torch.device = "cpu"
             ) -> torch.Tensor:
    """Training timesteps: ``uniform`` on [0, 1] or ``logit_normal`` (sigmoid of a normal)."""
    if mode == "uniform":
        return torch.rand(n, generator=generator, device=device)
    if mode == "logit_normal":
        return torch.sigmoid(torch.randn(n, generator=generator, device=device) * std + mean)
    raise ValueError(f"unknown t sampling mode {mode!r}; use 'uniform' or 'logit_normal'")


def flow_loss(model: Denoiser, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor,
              eps: torch.Tensor, prediction: Prediction) -> tuple[torch.Tensor, torch.Tensor]:
    """Velocity-space MSE. Returns (mean loss, per-sample loss) so callers can bin it by t."""
    x_t = interpolate(x, eps, t)
    return velocity_loss(model(x_t, t, y), x_t, x, eps, t, prediction)


def velocity_loss(out: torch.Tensor, x_t: torch.Tensor, x: torch.Tensor, eps: torch.Tensor,
                  t: torch.Tensor, prediction: Prediction) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss of ``flow_loss`` from a network output ``out`` computed at ``x_t``."""
    v_target = x - eps
    v_hat = to_velocity(out, x_t, t, prediction)
    per = ((v_hat.float() - v_target.float()) ** 2).mean(dim=(1, 2, 3))
    return per.mean(), per


def time_grid(steps: int, shift: float = 1.0) -> list[float]:
    ts = [i / steps for i in range(steps + 1)]
    if shift != 1.0:
        ts = [t / (t + shift * (1 - t)) for t in ts]
    return ts


def guided_velocity(model: Denoiser, x: torch.Tensor, t: float, y: torch.Tensor,
                    y_null: torch.Tensor, cfg_scale: float, prediction: Prediction
                    ) -> torch.Tensor:
    """v with classifier-free guidance; conditional and null run as one batch of 2B."""
    b = x.shape[0]
    tt = torch.full((b,), t, dtype=x.dtype, device=x.device)
    if cfg_scale == 1.0:
        return to_velocity(model(x, tt, y), x, tt, prediction)
    out = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([y, y_null]))
    v = to_velocity(out, torch.cat([x, x]), torch.cat([tt, tt]), prediction)
    v_cond, v_null = v[:b], v[b:]
    return v_null + cfg_scale * (v_cond - v_null)


@torch.no_grad()
def sample(model: Denoiser, noise: torch.Tensor, y: torch.Tensor, y_null: torch.Tensor, *,
           steps: int, cfg_scale: float, prediction: Prediction, solver: Solver = "euler",
           shift: float = 1.0, callback: Callable[[int, torch.Tensor], None] | None = None
           ) -> torch.Tensor:
    """Integrate from noise (t=0) to an image (t=1). ``noise``: (B, C, H, W) standard normal."""
    ts = time_grid(steps, shift)
    x = noise
    for i in range(steps):
        t0, t1 = ts[i], ts[i + 1]
        dt = t1 - t0
        v1 = guided_velocity(model, x, t0, y, y_null, cfg_scale, prediction)
        if solver == "heun" and t1 < 1.0:
            x_e = x + dt * v1
            v2 = guided_velocity(model, x_e, t1, y, y_null, cfg_scale, prediction)
            x = x + dt * 0.5 * (v1 + v2)
        elif solver in ("euler", "heun"):
            x = x + dt * v1
        else:
            raise ValueError(f"unknown solver {solver!r}; use 'euler' or 'heun'")
        if callback is not None:
            callback(i, x)
    return x.clamp(-1, 1)

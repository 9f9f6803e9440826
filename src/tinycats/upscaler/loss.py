"""The upscaler's training loss: the base generator's flow matching (generator/flow.py: the
interpolant, x-prediction, the velocity-space MSE), with the degraded condition and its noise
level bound into the network."""

from __future__ import annotations

import torch

from tinycats.generator import flow
from tinycats.upscaler.data import UpBatch
from tinycats.upscaler.model import UpscalerUNet, as_denoiser

#: the network predicts the clean image, like the base generator's ``prediction: x``
PREDICTION: flow.Prediction = "x"


def upscaler_loss(model: UpscalerUNet, batch: UpBatch, generator: torch.Generator, *,
                  t_sampling: str = "logit_normal", t_mean: float = 0.0, t_std: float = 1.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss, per-sample loss) of one batch; t (``t_sampling``) and the flow noise come
    from ``generator`` (a CPU generator: batches do not depend on the device)."""
    x = batch.x
    b, dev = x.shape[0], x.device
    t = flow.sample_t(b, t_sampling, mean=t_mean, std=t_std, generator=generator).to(dev)
    eps = torch.randn(x.shape, generator=generator).to(x)
    no_weights = torch.zeros(b, 0, device=dev)  # flow_loss's class weights: the upscaler has none
    return flow.flow_loss(as_denoiser(model, batch.cond.to(x), batch.s.to(x)), x, no_weights, t,
                          eps, PREDICTION)

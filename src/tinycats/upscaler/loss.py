"""The upscaler's training loss: the base generator's flow matching (generator/flow.py: the
interpolant, x-prediction, the velocity-space MSE), with the degraded condition and its noise
level bound into the network."""

from __future__ import annotations

import torch

from tinycats.breeds import NULL_ID
from tinycats.generator import flow
from tinycats.generator.dit import one_hot
from tinycats.upscaler.data import UpBatch
from tinycats.upscaler.model import UpscalerUNet, as_denoiser

#: the network predicts the clean image, like the base generator's ``prediction: x``
PREDICTION: flow.Prediction = "x"


def breed_weights(model: UpscalerUNet, labels: torch.Tensor, p_uncond: float,
                  generator: torch.Generator) -> torch.Tensor:
    """Class weights for a breed-conditioned model (each label dropped to the null row with
    probability ``p_uncond``, for classifier-free guidance); an empty (B, 0) tensor otherwise.
    The dropout draw is made either way, so switching breed input on keeps the other draws."""
    drop = torch.rand(labels.shape[0], generator=generator) < p_uncond
    if not model.cfg.breed:
        return torch.zeros(labels.shape[0], 0)
    return one_hot(torch.where(drop, NULL_ID, labels.cpu()), model.cfg.num_classes)


def upscaler_loss(model: UpscalerUNet, batch: UpBatch, generator: torch.Generator, *,
                  t_sampling: str = "logit_normal", t_mean: float = 0.0, t_std: float = 1.0,
                  p_uncond: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss, per-sample loss) of one batch; t (``t_sampling``), the flow noise and the
    label dropout come from ``generator`` (a CPU generator: batches do not depend on the
    device)."""
    x = batch.x
    b, dev = x.shape[0], x.device
    t = flow.sample_t(b, t_sampling, mean=t_mean, std=t_std, generator=generator).to(dev)
    eps = torch.randn(x.shape, generator=generator).to(x)
    y = breed_weights(model, batch.labels, p_uncond, generator).to(dev)
    return flow.flow_loss(as_denoiser(model, batch.cond.to(x), batch.s.to(x)), x, y, t, eps,
                          PREDICTION)

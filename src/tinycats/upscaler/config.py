"""Upscaler recipe (configs/upscaler*.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tinycats.training.config import TrainLoopConfig
from tinycats.upscaler.data import UpDataConfig
from tinycats.upscaler.degrade import DegradeConfig
from tinycats.upscaler.model import UNetConfig


@dataclass
class UpTrainConfig(TrainLoopConfig):
    """The generator's loop settings with the upscaler's defaults."""

    batch_size: int = 16  # global batch
    lr: float = 4e-4
    budget_calibration_steps: int = 20
    sample_every: int = 1000


@dataclass
class UpSamplerDefaults:
    steps: int = 2
    solver: str = "heun"
    shift: float = 1.0
    #: the condition's noise level at sampling (cascaded diffusion's augmentation level):
    #: chosen by measurement (upscaler/evaluate.py), within the training range [0, s_max]
    s: float = 0.0
    cfg_scale: float = 1.0  # > 1 only for a breed-conditioned model


@dataclass
class UpscalerConfig:
    name: str = "upscaler"
    model: UNetConfig = field(default_factory=UNetConfig)
    t_sampling: str = "logit_normal"
    t_mean: float = 0.0
    t_std: float = 1.0
    p_uncond: float = 0.1  # breed -> null dropout (only with model.breed)
    data: UpDataConfig = field(default_factory=UpDataConfig)
    degrade: DegradeConfig = field(default_factory=DegradeConfig)
    train: UpTrainConfig = field(default_factory=UpTrainConfig)
    sampler: UpSamplerDefaults = field(default_factory=UpSamplerDefaults)

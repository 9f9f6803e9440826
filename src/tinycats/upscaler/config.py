"""Upscaler recipe (configs/upscaler*.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tinycats.config import ConfigError, from_dict
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


@dataclass
class UpscalerConfig:
    name: str = "upscaler"
    model: UNetConfig = field(default_factory=UNetConfig)
    t_sampling: str = "logit_normal"
    t_mean: float = 0.0
    t_std: float = 1.0
    data: UpDataConfig = field(default_factory=UpDataConfig)
    degrade: DegradeConfig = field(default_factory=DegradeConfig)
    train: UpTrainConfig = field(default_factory=UpTrainConfig)
    sampler: UpSamplerDefaults = field(default_factory=UpSamplerDefaults)


#: settings of the removed breed input (docs/history.md, "Upscaler") that older checkpoints
#: still carry, by section ("" for the top level); with the breed off they changed nothing
RETIRED_KEYS = {"": ("p_uncond",), "model": ("breed", "num_classes"), "sampler": ("cfg_scale",)}


def config_from_checkpoint(saved: dict[str, Any]) -> UpscalerConfig:
    """The recipe a checkpoint stores, read without the settings of the removed breed input;
    a model that took the breed is refused (its weights hold a table this model lacks)."""
    model = saved.get("model")
    if isinstance(model, dict) and model.get("breed"):
        raise ConfigError("the checkpoint's upscaler takes the breed (model.breed: true), an "
                          "input this tinycats no longer builds")
    d = {k: v for k, v in saved.items() if k not in RETIRED_KEYS[""]}
    for section in ("model", "sampler"):
        if isinstance(d.get(section), dict):
            d[section] = {k: v for k, v in d[section].items()
                          if k not in RETIRED_KEYS[section]}
    return from_dict(UpscalerConfig, d)

"""Upscaler recipe (configs/upscaler*.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tinycats.upscaler.data import UpDataConfig
from tinycats.upscaler.degrade import DegradeConfig
from tinycats.upscaler.model import UNetConfig


@dataclass
class UpTrainConfig:
    batch_size: int = 16  # global batch
    steps: int = 3000
    lr: float = 4e-4
    warmup: int = 200
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    max_minutes: float | None = None  # stop (with a checkpoint) after this wall time
    #: size the schedule to this many minutes of wall time on the machine that runs it
    #: (training/loop.py: BudgetSizer); None: ``steps`` as written
    budget_minutes: float | None = None
    budget_calibration_steps: int = 20
    ckpt_every: int = 250
    sample_every: int = 1000
    log_every: int = 25
    threads: int | None = None  # torch CPU threads; None: torch's default
    bf16: bool = True  # bf16 autocast on CUDA
    #: bf16 autocast on a CPU with native bf16 (training/precision.py); fp32 elsewhere
    cpu_bf16: bool = False
    compile: bool = False


@dataclass
class UpSamplerDefaults:
    steps: int = 6
    solver: str = "heun"
    shift: float = 1.0
    #: the condition's noise level at sampling (cascaded diffusion's augmentation level):
    #: chosen by measurement (upscaler/evaluate.py), within the training range [0, s_max]
    s: float = 0.05
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

"""Classifier recipe (configs/classifier-*.yaml). Unknown keys are an error (tinycats.config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tinycats.data.augment import AugmentConfig


@dataclass
class ClsModelConfig:
    backbone: str = "lite0"  # lite0 | lite1 | lite2
    input_size: int = 224  # network input (a multiple of 32)
    dropout: float = 0.2
    #: the stem and this many MBConv blocks are frozen: ImageNet weights and BatchNorm
    #: statistics kept, and no backward pass through them (most of the CPU time saved)
    freeze_blocks: int = 8
    pretrained: bool = True


@dataclass
class ClsDataConfig:
    #: registered sources used for training; missing ones are an error, so a recipe never
    #: silently trains on less data than it says
    sources: list[str] = field(default_factory=lambda: ["oxford", "not-cat", "supplementary"])
    #: cache size the random crops are taken from (larger than input_size: crops keep detail)
    cache_size: int = 256
    #: class balancing: an image is drawn with weight count(label) ** -balance
    #: (0: natural frequencies, 1: every label equally often)
    balance: float = 1.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class ClsTrainConfig:
    batch_size: int = 32  # global batch
    epochs: float = 8.0  # steps = ceil(epochs * train images / batch_size)
    lr: float = 1e-3  # peak LR of the unfrozen backbone blocks
    head_lr_mult: float = 10.0  # the new head starts from scratch: it learns faster
    warmup_steps: int = 40
    min_lr_ratio: float = 0.02
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    label_smoothing: float = 0.1
    grad_clip: float = 5.0
    ema_decay: float = 0.0  # 0 disables EMA
    eval_every: int = 60  # steps between validation passes (and early-stopping checks)
    patience: int = 4  # stop after this many validation passes without improvement
    seed: int = 0
    max_minutes: float | None = None
    ckpt_every: int = 30
    log_every: int = 10
    threads: int | None = None
    bf16: bool = True  # autocast on CUDA only (bf16 is slower on this kind of CPU)
    channels_last: bool = True  # faster depthwise convs on CPU (measured ~1.5-2x)


@dataclass
class ClsDistillConfig:
    """Knowledge distillation (Hinton et al. 2015): the student also learns a trained teacher's
    probabilities on the very view it sees (the crop is cut at the larger of the two input
    sizes, and each network gets it at its own)."""
    #: a trained classifier's ``model.pt``; relative paths are read from the data folder
    #: (where runs live). None: plain labels
    teacher: str | None = None
    #: share of the loss that comes from the teacher; the rest from the labels
    alpha: float = 0.9
    #: both networks' logits are divided by this before the softmax (softer targets)
    temperature: float = 2.0


@dataclass
class ClassifierConfig:
    name: str = "classifier"
    model: ClsModelConfig = field(default_factory=ClsModelConfig)
    data: ClsDataConfig = field(default_factory=ClsDataConfig)
    train: ClsTrainConfig = field(default_factory=ClsTrainConfig)
    distill: ClsDistillConfig = field(default_factory=ClsDistillConfig)

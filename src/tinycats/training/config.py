"""The training-loop settings every flow-matching recipe shares (training/loop.py runs them);
each model's recipe subclasses it with its own defaults and extras."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainLoopConfig:
    batch_size: int = 64  # global batch
    steps: int = 3000
    lr: float = 3e-4
    warmup: int = 200
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    max_minutes: float | None = None  # stop (with a checkpoint) after this wall time
    #: size the schedule to this many minutes of wall time instead of ``steps``: the run times
    #: ``budget_calibration_steps`` steps (after as many unmeasured ones: compiling, warm
    #: caches), then fixes the step count (kept in the checkpoint) so that warmup + cosine end
    #: within the budget on whatever machine runs it. None: ``steps`` as written.
    budget_minutes: float | None = None
    budget_calibration_steps: int = 25
    ckpt_every: int = 250
    sample_every: int = 500
    log_every: int = 25
    threads: int | None = None  # torch CPU threads; None: torch's default
    bf16: bool = True  # bf16 autocast on CUDA
    #: bf16 autocast on a CPU with native bf16 (see training/precision.py); fp32 elsewhere
    cpu_bf16: bool = False
    compile: bool = False

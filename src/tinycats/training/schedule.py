"""Learning-rate schedule: linear warmup, then cosine decay to ``min_ratio`` of the peak."""

from __future__ import annotations

import math


def lr_at(step: int, *, peak: float, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    if total <= warmup:
        return peak
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


#: share of the remaining budget the sized schedule plans to use: the rest absorbs checkpoints,
#: sample grids, the final save and speed drifting down as the machine warms up.
BUDGET_MARGIN = 0.95


def steps_for_budget(step: int, elapsed_s: float, sec_per_step: float, budget_s: float) -> int:
    """Total steps that fit in ``budget_s`` seconds of wall time, given that ``step`` steps took
    ``elapsed_s`` so far and the measured speed is ``sec_per_step`` (at least one more step)."""
    if sec_per_step <= 0:
        raise ValueError("sec_per_step must be positive")
    remaining = max(0.0, budget_s - elapsed_s) * BUDGET_MARGIN
    return step + max(1, int(remaining / sec_per_step))

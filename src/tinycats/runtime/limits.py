"""What a caller may ask of the generator's sampler, checked in one place.

Kept free of onnxruntime and NumPy so the CLI can import it at start-up: ``tinycats generate
--help`` states these limits, and the command checks every option against them before it loads
the model. ``runtime/sample.py`` checks the same values (and the manifest's defaults) again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tinycats.errors import TinycatsError

# The shipped default is 10-20 steps; past 1000 nothing changes visibly, while a typo (100000)
# would keep a machine busy for hours.
MAX_STEPS = 1000
MAX_CFG_SCALE = 100.0
MAX_SHIFT = 100.0
MAX_SEED = 2**32 - 1  # the web app's limit too (web/src/engine/rng.ts)
SOLVERS = ("euler", "heun")
#: Most cats one ``tinycats generate`` makes (a 32 x 32 grid); more is a loop of calls.
MAX_CATS = 1024


class GenerateInputError(TinycatsError):
    pass


def check_settings(*, steps: int | None = None, cfg_scale: float | None = None,
                   solver: str | None = None, shift: float | None = None,
                   seed: int | None = None) -> None:
    """Refuse a setting the sampler cannot use, as one GenerateInputError line (None: not
    given). Callers run it before any work; ``Generator.settings`` runs it again on the
    resolved values."""
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise GenerateInputError(f"steps (--steps) must be between 1 and {MAX_STEPS}, "
                                 f"got {steps}")
    if cfg_scale is not None and not (math.isfinite(cfg_scale)
                                      and 0.0 <= cfg_scale <= MAX_CFG_SCALE):
        raise GenerateInputError(f"guidance scale (--cfg) must be a number from 0 to "
                                 f"{MAX_CFG_SCALE:g}, got {cfg_scale:g}")
    # shift 0 would divide by zero at t=0; a negative one folds the time grid over itself
    if shift is not None and not (math.isfinite(shift) and 0.0 < shift <= MAX_SHIFT):
        raise GenerateInputError(f"time-grid shift (--shift) must be above 0 and at most "
                                 f"{MAX_SHIFT:g}, got {shift:g}")
    if solver is not None and solver not in SOLVERS:
        raise GenerateInputError(f"unknown solver {solver!r}; use {' or '.join(SOLVERS)}")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise GenerateInputError(f"seed (--seed) must be between 0 and {MAX_SEED}, got {seed}")


def check_weights(weights: Sequence[float]) -> None:
    """Breed-mix weights: finite, non-negative, not all zero (they are normalised to sum 1)."""
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        shown = ", ".join(f"{w:g}" for w in weights)
        raise GenerateInputError(f"mix weights must be finite, non-negative and not all zero "
                                 f"(got {shown})")

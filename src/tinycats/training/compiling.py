"""Whether a training loop runs its model through ``torch.compile``.

On a 2-core CPU the generator's training step is bound by elementwise ops, not matmuls, and
compile fuses them (measured figures: docs/decisions/0005-generator-design.md). On a CPU, inductor
needs a C++ compiler at run time; without one the first step would fail deep inside torch, so
the recipe's switch falls back to eager mode with a message instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import torch
from torch import nn

CPU_COMPILERS = ("c++", "g++", "clang++", "cl")


def cpu_compiler() -> str | None:
    """The first C++ compiler on PATH that torch's CPU code generation can use, if any."""
    for name in CPU_COMPILERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def maybe_compile(model: nn.Module, enabled: bool, device: torch.device,
                  log: Callable[[str], None] = print) -> nn.Module:
    """``torch.compile(model)`` when the recipe asks for it and it can work here, else ``model``."""
    if not enabled:
        return model
    if device.type == "cpu" and cpu_compiler() is None:
        log("compile requested but no C++ compiler (c++/g++/clang++) is on PATH: training "
            "without torch.compile (about 1.5x slower on a CPU; install g++ to enable it)")
        return model
    return torch.compile(model)  # type: ignore[return-value]

"""Which floating-point precision a training loop runs its forward pass in.

bf16 autocast is the default on CUDA. On a CPU it is opt-in (``cpu_bf16`` in a recipe): it pays
only where the CPU has native bf16 dot products (AVX512-BF16 or AMX). On a 2-core CPU with
AVX512-BF16 (no AMX) it measured 2.7x the fp32 throughput of the shipped generator recipe (160 vs
60 img/s, 2 threads); on a CPU without those instructions it is slower than fp32, so it falls
back to fp32 there with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16() -> bool:
    """True when /proc/cpuinfo lists a native bf16 instruction set (Linux; False elsewhere)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in BF16_CPU_FLAGS)


def use_bf16(device: torch.device, *, cuda: bool, cpu: bool,
             log: Callable[[str], None] = print) -> bool:
    """Whether to autocast to bf16 on ``device`` given the recipe's two switches."""
    if device.type == "cuda":
        return cuda
    if device.type == "cpu" and cpu:
        if cpu_has_bf16():
            return True
        log("cpu_bf16 requested but this CPU has no native bf16 instructions "
            f"({' / '.join(BF16_CPU_FLAGS)}): training in fp32")
    return False

"""Model FLOPs utilisation (MFU): the share of an accelerator's bf16 peak that training reached.

FLOPs are counted, not estimated: torch's FlopCounterMode runs one forward and backward of the
real model on one example and counts every matmul/conv (elementwise ops are not counted, as in
the usual MFU definition). MFU = images/s x training FLOPs per image / the device's peak.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

#: dense bf16 tensor-core peaks from the vendors' data sheets (FLOP/s), by a substring of
#: torch.cuda.get_device_name(), checked in this order (A100 before A10, L40S before L4); the
#: H200 and H100 SXM share one peak (989.4 TFLOP/s).
PEAK_BF16_FLOPS = {
    "H200": 989.4e12,
    "H100": 989.4e12,
    "A100": 312e12,
    "L40S": 362.05e12,
    "L4": 121e12,
    "A10": 125e12,
    "T4": 65e12,
}


def train_flops_per_image(model: nn.Module, forward: Callable[[int], torch.Tensor]) -> float:
    """FLOPs of one training step per image: ``forward(batch)`` must run the model on a batch
    and return a scalar loss; counted at batch 2 (forward + backward) and divided by 2."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = 2
    counter = FlopCounterMode(display=False)
    with counter:
        forward(batch).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch


def peak_flops(device_name: str) -> float | None:
    """The bf16 dense peak of a named accelerator, or None when unknown (e.g. a CPU)."""
    for key, peak in PEAK_BF16_FLOPS.items():
        if key.lower() in device_name.lower():
            return peak
    return None


def mfu(img_per_s: float, flops_per_image: float, peak: float) -> float:
    return img_per_s * flops_per_image / peak

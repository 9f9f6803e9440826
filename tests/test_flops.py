"""MFU bookkeeping (training/flops.py): counted FLOPs and the peak lookup."""

import torch
from torch import nn

from tinycats.training.flops import mfu, peak_flops, train_flops_per_image


def test_counted_flops_of_a_linear_layer() -> None:
    layer = nn.Linear(10, 20, bias=False)
    # forward: 2*10*20 per image; backward: the weight gradient only (the input needs none)
    per_image = train_flops_per_image(layer, lambda b: layer(torch.randn(b, 10)).sum())
    assert per_image == 2 * 10 * 20 * 2
    assert layer.weight.grad is None  # the count leaves no gradient behind


def test_peak_lookup_and_mfu() -> None:
    assert peak_flops("NVIDIA H200") == 989.4e12
    assert peak_flops("NVIDIA A100-SXM4-80GB") == 312e12  # not the A10's
    assert peak_flops("NVIDIA L40S") == 362.05e12  # not the L4's
    assert peak_flops("cpu") is None
    assert mfu(1000.0, 1e9, 1e13) == 0.1

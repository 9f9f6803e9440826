"""Warm start for the upscaler: a run that begins from trained weights (an exported
``upscaler-fp32.onnx``, read back as training/onnx_weights.py says, or an ``ema.pt``):
``tinycats train upscaler -c <recipe> --init-from upscaler-fp32.onnx`` fine-tunes the shipped
upscaler with that recipe's schedule. The recipe's model must be the weights' architecture.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import cast

import torch

from tinycats.training.onnx_weights import WarmStartError, check_reproduces, read_into
from tinycats.upscaler.model import UNetConfig, UpscalerUNet


def _from_onnx(path: Path, cfg: UNetConfig) -> UpscalerUNet:
    """The model stored in ``path``, with ``cfg``'s architecture."""
    from tinycats.export.upscaler_onnx import export_fp32, parity

    model = UpscalerUNet(cfg)
    read_into(model, path, lambda m, p: export_fp32(cast(UpscalerUNet, m), p),
              lambda: UpscalerUNet(cfg), f"widths {cfg.widths}, blocks {cfg.blocks}")
    try:
        diff = parity(model.eval(), path)["max_abs_diff"]
    except Exception as e:  # wrong input/output shapes: another architecture
        raise WarmStartError(f"{path} does not run as an upscaler of this architecture "
                             f"({str(e).splitlines()[0]})") from e
    check_reproduces(diff, path)
    return model


def load_init_state(path: Path, cfg: UNetConfig) -> dict[str, torch.Tensor]:
    """The state dict a run of the model ``cfg`` starts from, read from ``path`` (``.onnx``,
    ``ema.pt`` or ``last.pt``)."""
    if not path.exists():
        raise WarmStartError(f"--init-from: {path} does not exist")
    if path.suffix == ".onnx":
        model = _from_onnx(path, cfg)
    else:
        from tinycats.upscaler.train import load_upscaler

        model = load_upscaler(path)[0]
    had, want = asdict(model.cfg), asdict(cfg)
    if had != want:
        raise WarmStartError(f"{path} holds another upscaler than the recipe's "
                             f"({had} vs {want})")
    return model.state_dict()

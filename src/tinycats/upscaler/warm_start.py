"""Warm start for the upscaler: a run that begins from trained weights (an exported
``upscaler-fp32.onnx``, read back as training/onnx_weights.py says, or an ``ema.pt``):
``tinycats train upscaler -c <recipe> --init-from upscaler-fp32.onnx`` fine-tunes the shipped
upscaler with that recipe's schedule.

The recipe may add breed conditioning to weights trained without it: the new breed table starts
at zero, so the run begins exactly where the given model is (its embedding gains nothing from
any breed) and learns what each breed adds from there. The opposite (dropping a breed input the
weights were trained with) is refused.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import cast

import torch

from tinycats.training.onnx_weights import (
    WarmStartError,
    check_reproduces,
    input_names,
    read_into,
)
from tinycats.upscaler.model import UNetConfig, UpscalerUNet


def _from_onnx(path: Path, cfg: UNetConfig) -> UpscalerUNet:
    """The model stored in ``path``, with ``cfg``'s architecture and the file's breed input."""
    from tinycats.export.upscaler_onnx import export_fp32, parity

    file_cfg = replace(cfg, breed="y" in input_names(path))
    model = UpscalerUNet(file_cfg)
    read_into(model, path, lambda m, p: export_fp32(cast(UpscalerUNet, m), p),
              lambda: UpscalerUNet(file_cfg), f"widths {cfg.widths}, blocks {cfg.blocks}")
    try:
        diff = parity(model.eval(), path)["max_abs_diff"]
    except Exception as e:  # wrong input/output shapes: another architecture
        raise WarmStartError(f"{path} does not run as an upscaler of this architecture "
                             f"({str(e).splitlines()[0]})") from e
    check_reproduces(diff, path)
    return model


def load_init_state(path: Path, cfg: UNetConfig) -> dict[str, torch.Tensor]:
    """The state dict a run of the model ``cfg`` starts from, read from ``path`` (``.onnx``,
    ``ema.pt`` or ``last.pt``); a breed table the weights lack starts at zero."""
    if not path.exists():
        raise WarmStartError(f"--init-from: {path} does not exist")
    if path.suffix == ".onnx":
        model = _from_onnx(path, cfg)
    else:
        from tinycats.upscaler.train import load_upscaler

        model = load_upscaler(path)[0]
    had, want = asdict(model.cfg), asdict(cfg)
    if {**had, "breed": False} != {**want, "breed": False} or (had["breed"] and not want["breed"]):
        raise WarmStartError(f"{path} holds another upscaler than the recipe's "
                             f"({had} vs {want}); only a breed input may be added")
    state = model.state_dict()
    if want["breed"] and not had["breed"]:
        state["class_table"] = torch.zeros(cfg.num_classes, cfg.emb_dim)
    return state

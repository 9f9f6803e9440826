"""Warm start for the generator: the weights a run begins from, read from an exported ONNX file
(training/onnx_weights.py says how) or a checkpoint:
``tinycats train generator --init-from generator-fp32.onnx``.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import torch

from tinycats.generator.dit import DiTConfig, TinyDiT
from tinycats.training.onnx_weights import WarmStartError, check_reproduces, read_into

__all__ = ["WarmStartError", "load_init_state", "onnx_difference", "state_from_onnx"]


def state_from_onnx(path: Path, cfg: DiTConfig) -> dict[str, torch.Tensor]:
    """The PyTorch state dict of a generator exported to ``path``, for the model ``cfg``;
    checked against the file (raises WarmStartError if it does not reproduce it)."""
    from tinycats.export.generator_onnx import export_fp32

    model = TinyDiT(cfg)
    read_into(model, path, lambda m, p: export_fp32(cast(TinyDiT, m), p), lambda: TinyDiT(cfg),
              f"width {cfg.width}, depth {cfg.depth}, patch {cfg.patch_size}")
    check_reproduces(onnx_difference(model.eval(), path), path)
    return model.state_dict()


def onnx_difference(model: TinyDiT, path: Path) -> float:
    """Max |model - ONNX file| on the export's fixed input (export/generator_onnx.parity)."""
    from tinycats.export.generator_onnx import parity
    from tinycats.generator.config import GeneratorConfig

    try:
        return parity(model, GeneratorConfig(model=model.cfg), path)["max_abs_diff"]
    except Exception as e:  # wrong input/output shapes: another architecture
        raise WarmStartError(f"{path} does not run as a generator of this architecture "
                             f"({str(e).splitlines()[0]})") from e


def load_init_state(path: Path, cfg: DiTConfig) -> dict[str, torch.Tensor]:
    """Weights to start a run from: an exported ``.onnx`` (fp32) or a tinycats checkpoint
    (``ema.pt``: its weights; ``last.pt``: its EMA weights)."""
    if not path.exists():
        raise WarmStartError(f"--init-from: {path} does not exist")
    if path.suffix == ".onnx":
        return state_from_onnx(path, cfg)
    from dataclasses import asdict

    from tinycats.generator.train import load_generator

    model, ck_cfg = load_generator(path)
    if asdict(ck_cfg.model) != asdict(cfg):
        raise WarmStartError(f"{path} was trained with another model config than the recipe's "
                             f"({asdict(ck_cfg.model)} vs {asdict(cfg)})")
    return model.state_dict()

"""Upscaler export: one denoiser call of the 64 -> 128 px stage as ONNX, in fp32 and fp16
(WebGPU).

The graph is the network only: inputs ``x`` (B,3,S,S), ``t`` (B,), ``cond`` (B,3,S/2,S/2) the
64 px image already noised at level ``s``, and ``s`` (B,); output ``out`` (B,3,S,S), the
predicted clean image. The sampling loop and the condition noise live in the runtimes
(docs/sampler.md, "The upscaler stage"). Weights are the EMA ones; every variant is
parity-checked against PyTorch and the figures go in the manifest.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tinycats.config import ConfigError
from tinycats.export import manifest as mf
from tinycats.export.onnx_common import (
    OPSET,
    ExportError,
    check_sampler_basics,
    to_fp16,
    update_sampler,
)
from tinycats.generator.flow import T_EPS
from tinycats.upscaler.config import UpscalerConfig
from tinycats.upscaler.model import UpscalerUNet

MODEL_KEY = "upscaler"
VARIANTS = ("fp32", "fp16")
#: recipe sampler setting -> manifest key (the generator's names where they mean the same)
SAMPLER_KEYS = {"steps": "default_steps", "solver": "solver", "shift": "shift", "s": "s"}
#: the graph's inputs, in the network's call order
INPUT_NAMES = ("x", "t", "cond", "s")


class _Graph(nn.Module):
    """The exported module. The network sits under ``model``, which prefixes every weight name
    in the shipped files: a warm start finds them by exporting a probe the same way."""

    def __init__(self, model: UpscalerUNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, s: torch.Tensor
                ) -> torch.Tensor:
        return self.model(x, t, cond, s)


def fixed_input(model: UpscalerUNet, batch: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """The export's example and the parity checks' input: seeded images, t and s spread out."""
    c, size = model.cfg.channels, model.cfg.image_size
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((batch, c, size, size), dtype=np.float32),
            "t": np.linspace(0.1, 0.9, batch, dtype=np.float32),
            "cond": np.tanh(rng.standard_normal((batch, c, size // 2, size // 2),
                                                dtype=np.float32)),
            "s": np.linspace(0.0, 0.2, batch, dtype=np.float32)}


def export_fp32(model: UpscalerUNet, path: Path) -> Path:
    model = model.eval()
    names = list(INPUT_NAMES)
    feeds = fixed_input(model)
    args = tuple(torch.from_numpy(feeds[n]) for n in names)
    batch = torch.export.Dim("batch", min=1, max=1024)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(_Graph(model), args, dynamo=True, verbose=False,
                                 external_data=False, input_names=names, output_names=["out"],
                                 dynamic_shapes={n: {0: batch} for n in names},
                                 opset_version=OPSET)
    if prog is None:
        raise ExportError("torch.onnx.export returned nothing")
    prog.save(str(path), external_data=False)
    return path


def parity(model: UpscalerUNet, path: Path) -> dict[str, float]:
    """Max and mean |ONNX - PyTorch| of the network output on the fixed input."""
    import onnxruntime as ort

    feeds = fixed_input(model)
    names = INPUT_NAMES
    with torch.no_grad():
        ref = _Graph(model)(*(torch.from_numpy(feeds[n]) for n in names)).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(["out"], {n: feeds[n] for n in names})[0]
    d = np.abs(out - ref)
    return {"max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean())}


def check_sampler(sampler: dict[str, Any]) -> None:
    """Refuse sampler defaults the runtimes could not use (clear message, not a trace)."""
    check_sampler_basics(sampler, SAMPLER_KEYS, "upscaler ")
    if int(sampler.get("steps", 1)) > 1000:
        raise ExportError("steps must be 1 to 1000")
    if not 0 <= float(sampler.get("s", 0.0)) <= 1:
        raise ExportError("the condition noise level s must be in [0, 1]")


def upscaler_entry(cfg: UpscalerConfig, files: dict[str, dict[str, Any]],
                   info: dict[str, Any], params: int) -> dict[str, Any]:
    sc = cfg.sampler
    m = cfg.model
    return {
        "task": "upscale",
        "image_size": m.image_size,
        "cond_size": m.image_size // 2,
        "channels": m.channels,
        "value_range": [-1, 1],
        "inputs": {n: n for n in INPUT_NAMES},
        "output": "out",
        "prediction": "x",
        "sampler": {"time": "t0_noise_t1_data", "interpolant": "x_t = t*x + (1-t)*eps",
                    "t_eps": T_EPS, "default_steps": sc.steps, "solver": sc.solver,
                    "shift": sc.shift, "s": sc.s,
                    "cond": "cond = image64 + s*eps_c, fed with s",
                    "noise": "the base stage's generator continued: eps_c (B,3,S/2,S/2), "
                             "then x0 (B,3,S,S)"},
        "files": files,
        "default_variant": "fp32",
        "model": {"params": params, "widths": list(m.widths), "blocks": m.blocks,
                  "mid_blocks": m.mid_blocks},
        "training": info,
    }


def export_upscaler(checkpoint: Path, out_dir: Path, *, variants: tuple[str, ...] = VARIANTS,
                    sampler: dict[str, Any] | None = None,
                    metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """Export ``checkpoint``'s EMA weights into ``out_dir`` and add the ``upscaler`` stage to
    its manifest. ``sampler`` overrides the recipe's sampler settings (steps, solver, shift, s),
    which are chosen by measuring the trained model (``tinycats eval upscaler``)."""
    import dataclasses

    from tinycats.training import checkpoint as ckpt
    from tinycats.upscaler.train import load_upscaler

    unknown = set(variants) - set(VARIANTS)
    if unknown or "fp32" not in variants:
        raise ExportError(f"variants must include fp32 and come from {VARIANTS}")
    try:
        model, cfg = load_upscaler(checkpoint)
    except (TypeError, KeyError, RuntimeError, ConfigError) as e:
        raise ExportError(f"{checkpoint} is not an upscaler checkpoint ({e})") from e
    if sampler:
        check_sampler(sampler)
        cfg = dataclasses.replace(cfg, sampler=dataclasses.replace(cfg.sampler, **sampler))
    ck = ckpt.load(checkpoint)
    info = {"steps": ck.get("step"), "summary": ck.get("summary", {}),
            "checkpoint": checkpoint.name, "config_name": cfg.name}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"fp32": export_fp32(model, out_dir / "upscaler-fp32.onnx")}
    if "fp16" in variants:
        paths["fp16"] = to_fp16(paths["fp32"], out_dir / "upscaler-fp16.onnx")
    files = {name: {**mf.file_entry(p), "parity_vs_torch": parity(model, p)}
             for name, p in paths.items()}
    params = sum(p.numel() for p in model.parameters())
    entry = upscaler_entry(cfg, files, info, params)
    if metrics:
        entry["metrics"] = metrics
    mf.update_model(out_dir / mf.MANIFEST_NAME, MODEL_KEY, entry)
    return entry


def set_sampler_defaults(manifest_path: Path, sampler: dict[str, Any]) -> dict[str, Any]:
    """Change the shipped upscaler's sampler settings without re-exporting; the stored metrics
    were measured at the old settings and are dropped when anything changes."""
    check_sampler(sampler)
    return update_sampler(manifest_path, MODEL_KEY,
                          {SAMPLER_KEYS[k]: v for k, v in sampler.items()})

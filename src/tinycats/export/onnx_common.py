"""What every ONNX export shares: the opset, the one error type, the fp16 conversion, and the
generator's fixed parity input (used by its export and by its int8 rebuild)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from tinycats.breeds import NULL_ID
from tinycats.errors import TinycatsError
from tinycats.export import manifest as mf

OPSET = 20  # what onnxruntime-web 1.30 loads


class ExportError(TinycatsError):
    """A checkpoint, variant or setting the export refuses: one clear line, no trace."""


# torch's exporter warns once per torchvision operator it cannot register; tinycats exports none,
# so on a machine without torchvision those lines would only alarm whoever runs an export.
logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)


def check_sampler_basics(sampler: dict[str, Any], keys: dict[str, str], what: str = "") -> None:
    """The sampler checks every model shares: known settings only, a known solver, at least one
    step, a positive time-grid shift (clear message, not a trace)."""
    bad = set(sampler) - set(keys)
    if bad:
        raise ExportError(f"unknown {what}sampler setting(s) {sorted(bad)}; "
                          f"known: {sorted(keys)}")
    if sampler.get("solver", "heun") not in ("euler", "heun"):
        raise ExportError(f"solver must be euler or heun, not {sampler['solver']!r}")
    if int(sampler.get("steps", 1)) < 1:
        raise ExportError("steps must be at least 1")
    if float(sampler.get("shift", 1.0)) <= 0:
        raise ExportError("the time-grid shift must be positive")


def update_sampler(manifest_path: Path, model_key: str, new: dict[str, Any]) -> dict[str, Any]:
    """Write checked sampler settings (manifest names) into one model's entry, without
    re-exporting: the ONNX files do not depend on them. The stored metrics were measured at the
    old settings and are dropped when anything changes."""
    entry = mf.model_entry(mf.load(manifest_path), model_key)
    if all(entry["sampler"].get(k) == v for k, v in new.items()):
        return entry
    entry["sampler"] = {**entry["sampler"], **new}
    entry.pop("metrics", None)
    mf.update_model(manifest_path, model_key, entry)
    return entry


def to_fp16(fp32: Path, out: Path) -> Path:
    """fp16 weights and compute, float32 inputs/outputs (the runtimes feed float32 either way)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    m = convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True)
    onnx.save(m, str(out))
    return out


def fixed_input(size: int, channels: int, num_classes: int, batch: int = 4, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The parity checks' input: seeded noise, t from 0.05 to 0.95, one class per row and the
    null class in the last."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
    t = np.linspace(0.05, 0.95, batch, dtype=np.float32)
    y = np.zeros((batch, num_classes), dtype=np.float32)
    y[np.arange(batch), np.arange(batch) % num_classes] = 1.0
    y[-1] = 0.0
    y[-1, NULL_ID] = 1.0
    return x, t, y

"""What every ONNX export shares: the opset, the one error type, the fp16 conversion, and the
generator's fixed parity input (used by its export and by its int8 rebuild)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinycats.breeds import NULL_ID
from tinycats.errors import TinycatsError

OPSET = 20  # what onnxruntime-web 1.30 loads


class ExportError(TinycatsError):
    """A checkpoint, variant or setting the export refuses: one clear line, no trace."""


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

"""Atomic checkpoints: written to a temporary file, fsynced, then renamed over the old one, so a
run killed at any moment leaves either the previous checkpoint or the new one, never half."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from tinycats.errors import TinycatsError


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class CheckpointError(TinycatsError, RuntimeError):
    pass


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    try:
        obj = torch.load(path, map_location=map_location, weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as e:  # a truncated or foreign file: say what it is, not a pickle trace
        raise CheckpointError(f"{path} is not a readable tinycats checkpoint ({e})") from e
    if not isinstance(obj, dict) or "model" not in obj:
        raise CheckpointError(f"{path} is not a tinycats checkpoint (no 'model' entry)")
    return obj

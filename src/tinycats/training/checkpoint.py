"""Atomic checkpoints: written to a temporary file, fsynced, then renamed over the old one, so a
run killed at any moment leaves either the previous checkpoint or the new one, never half."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from tinycats.errors import TinycatsError


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


C = TypeVar("C")
M = TypeVar("M", bound=nn.Module)


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


def check_same_model(ck: dict[str, Any], model_cfg: dict[str, Any], path: Path,
                     additive: frozenset[str] = frozenset()) -> None:
    """Refuse to resume ``ck`` (read from ``path``) into a model of another config. A setting
    the checkpoint lacks counts as its current value; one in ``additive`` (a switch that only
    adds a layer starting as the identity) may have been turned on since."""
    saved = ck.get("config", {}).get("model", {})
    if any(saved.get(k, v) != v for k, v in model_cfg.items()
           if not (k in additive and not saved.get(k))):
        raise CheckpointError(f"{path} was trained with a different model config; use a new "
                              "run folder or --fresh")


def load_ema_model(path: Path, device: str | torch.device, read_config: Callable[[Any], C],
                   make: Callable[[C], M]) -> tuple[M, C]:
    """A trained model in eval mode and its recipe: ``read_config`` reads the recipe the
    checkpoint carries, ``make`` builds the model from it, and the weights are the EMA, the
    ones sampling uses (a final ``ema.pt`` holds only those; a ``last.pt`` holds both)."""
    ck = load(path, map_location=device)
    cfg = read_config(ck["config"])
    model = make(cfg)
    model.load_state_dict(ck["ema"] if "ema" in ck else ck["model"])
    return model.to(device).eval(), cfg

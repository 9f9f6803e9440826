"""Warm start: the weights a run begins from, read from an exported ONNX file or a checkpoint.

Why: training checkpoints are too large to commit, so the only copy of a trained generator that
survives from one machine to the next is its shipped ONNX export (the EMA weights). To train the
shipped model further (on another machine, with more compute, or as a user fine-tuning it), a run
starts from those weights: ``tinycats train generator --init-from generator-fp32.onnx``.

How weights are read back from ONNX: the exporter renames weights and stores some of them
transposed (a Linear becomes a MatMul with W^T), so names cannot be mapped by rule. Instead a
*probe* model of the recipe's architecture, with every parameter filled with distinct random
values, is exported the same way; each of the probe's initializers is matched to the parameter
holding the same values (as is, transposed, or reshaped), and the file's initializer of the same
name is read back through the same transform. The recovered model is then run against the file
on a fixed input: a warm start never begins from silently wrong weights.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from tinycats.errors import TinycatsError
from tinycats.generator.dit import DiTConfig, TinyDiT

#: max |recovered PyTorch - ONNX file| allowed on the fixed input (fp32 export: ~1e-6)
PARITY_TOL = 1e-4


def _as_param(arr: np.ndarray, transposed: bool, shape: tuple[int, ...]) -> np.ndarray:
    """An initializer as the parameter it came from (MatMul stores a Linear weight as W^T)."""
    return (arr.T if transposed else arr).reshape(shape)


class WarmStartError(TinycatsError):
    pass


def _initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as e:  # a truncated or foreign file: say so, not a protobuf trace
        raise WarmStartError(f"{path} is not a readable ONNX file ({e})") from e
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _probe_mapping(cfg: DiTConfig) -> dict[str, tuple[str, bool]]:
    """parameter name -> (initializer name, whether the initializer is stored transposed)."""
    from tinycats.export.generator_onnx import export_fp32

    probe = TinyDiT(cfg)
    g = torch.Generator().manual_seed(12345)
    with torch.no_grad():
        for p in probe.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    with tempfile.TemporaryDirectory() as tmp:
        inits = _initializers(export_fp32(probe, Path(tmp) / "probe.onnx"))
    # Index the initializers by their sorted values: a transpose or reshape keeps the multiset.
    by_key: dict[bytes, list[str]] = {}
    for name, arr in inits.items():
        if arr.dtype == np.float32 and arr.size > 1:
            by_key.setdefault(np.sort(arr.ravel()).tobytes(), []).append(name)
    mapping: dict[str, tuple[str, bool]] = {}
    missing = []
    for pname, p in probe.named_parameters():
        want = p.detach().numpy()
        found = None
        for name in by_key.get(np.sort(want.ravel()).tobytes(), []):
            arr = inits[name]
            for transposed in ((True, False) if arr.ndim == 2 else (False,)):
                if np.array_equal(_as_param(arr, transposed, want.shape), want):
                    found = (name, transposed)
                    break
            if found:
                break
        if found is None:
            missing.append(pname)
        else:
            mapping[pname] = found
    if missing:
        raise WarmStartError(f"cannot locate {len(missing)} weights in the exported graph "
                             f"(e.g. {missing[:3]}); this tinycats exports this architecture "
                             "differently from the one that wrote the file")
    return mapping


def state_from_onnx(path: Path, cfg: DiTConfig) -> dict[str, torch.Tensor]:
    """The PyTorch state dict of a generator exported to ``path``, for the model ``cfg``;
    checked against the file (raises WarmStartError if it does not reproduce it)."""
    inits = _initializers(path)
    mapping = _probe_mapping(cfg)
    model = TinyDiT(cfg)
    state = model.state_dict()
    for pname, (iname, transposed) in mapping.items():
        arr = inits.get(iname)
        if arr is None or arr.size != state[pname].numel():
            raise WarmStartError(f"{path} does not fit the recipe's model (width {cfg.width}, "
                                 f"depth {cfg.depth}, patch {cfg.patch_size}): weight "
                                 f"{pname} is missing or has another shape there")
        param = _as_param(arr, transposed, tuple(state[pname].shape))
        state[pname] = torch.from_numpy(np.ascontiguousarray(param).astype(np.float32))
    model.load_state_dict(state)
    diff = onnx_difference(model.eval(), path)
    if not diff <= PARITY_TOL:
        raise WarmStartError(f"the weights read from {path} do not reproduce it (max difference "
                             f"{diff:.3g} > {PARITY_TOL:g}): it was exported from another "
                             "architecture than the recipe's")
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

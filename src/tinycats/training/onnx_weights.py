"""Weights read back from an exported ONNX file: how a run warm-starts from shipped weights.

Why: training checkpoints are too large to commit, so the only copy of a trained model that
survives from one machine to the next is its shipped ONNX export (the EMA weights). To train a
shipped model further, a run starts from those weights (``--init-from <model>-fp32.onnx``).

How: the exporter renames weights and stores some of them transposed (a Linear becomes a MatMul
with W^T), so names cannot be mapped by rule. Instead a *probe* model of the same architecture,
with every parameter filled with distinct random values, is exported the same way; each of the
probe's initializers is matched to the parameter holding the same values (as is, transposed, or
reshaped), and the file's initializer of the same name is read back through the same transform.
The caller then runs the recovered model against the file: a warm start never begins from
silently wrong weights.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinycats.errors import TinycatsError

#: max |recovered PyTorch - ONNX file| allowed on the export's fixed input (fp32: ~1e-6)
PARITY_TOL = 1e-4

#: writes ``model`` to ``path`` as the product's exporter does, returns the path
Exporter = Callable[[nn.Module, Path], Path]


class WarmStartError(TinycatsError):
    pass


def _as_param(arr: np.ndarray, transposed: bool, shape: tuple[int, ...]) -> np.ndarray:
    """An initializer as the parameter it came from (MatMul stores a Linear weight as W^T)."""
    return (arr.T if transposed else arr).reshape(shape)


def initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as e:  # a truncated or foreign file: say so, not a protobuf trace
        raise WarmStartError(f"{path} is not a readable ONNX file ({e})") from e
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def probe_mapping(probe: nn.Module, export: Exporter) -> dict[str, tuple[str, bool]]:
    """parameter name -> (initializer name, whether the initializer is stored transposed).
    ``probe``'s parameters are overwritten with distinct random values."""
    g = torch.Generator().manual_seed(12345)
    with torch.no_grad():
        for p in probe.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    with tempfile.TemporaryDirectory() as tmp:
        inits = initializers(export(probe, Path(tmp) / "probe.onnx"))
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


def read_into(model: nn.Module, path: Path, export: Exporter, make_probe: Callable[[], nn.Module],
              describe: str) -> None:
    """Load the weights stored in ``path`` into ``model`` (whose architecture the file must
    have; ``describe`` names it in the error when it does not)."""
    inits = initializers(path)
    state = model.state_dict()
    for pname, (iname, transposed) in probe_mapping(make_probe(), export).items():
        arr = inits.get(iname)
        if arr is None or arr.size != state[pname].numel():
            raise WarmStartError(f"{path} does not fit the recipe's model ({describe}): weight "
                                 f"{pname} is missing or has another shape there")
        param = _as_param(arr, transposed, tuple(state[pname].shape))
        state[pname] = torch.from_numpy(np.ascontiguousarray(param).astype(np.float32))
    model.load_state_dict(state)


def check_reproduces(diff: float, path: Path) -> None:
    if not diff <= PARITY_TOL:
        raise WarmStartError(f"the weights read from {path} do not reproduce it (max difference "
                             f"{diff:.3g} > {PARITY_TOL:g}): it was exported from another "
                             "architecture than the recipe's")

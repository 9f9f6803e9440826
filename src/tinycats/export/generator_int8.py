"""The generator's int8 variant: smoothed activations, per-channel 7-bit weights, dynamic int8.

Why not plain ``onnxruntime.quantization.quantize_dynamic`` (what shipped until 2026-12-01): it
quantises each weight per tensor and each activation per tensor at run time, and most of its error
(~9 breed-accuracy points) comes from the activations, whose channels differ widely in range
(docs/history.md). So, for every MatMul/Gemm with a constant weight:

- **Smoothing** (SmoothQuant, Xiao et al. 2023): the input is divided per channel by
  ``s = max|X|^alpha / max|W_row|^(1 - alpha)`` and the weight's rows multiplied by ``s``: the
  same product, with the activation's outlier channels moved into the weight. ``max|X|`` comes
  from the fp32 model's own sampler trajectories (``runtime/sample.py``), one per generator class.
- **Per-channel weights** (one scale per output column) with **7-bit** values (+-63): full 8-bit
  per-channel weights overflow the 16-bit lanes in which onnxruntime's int8 kernels add pairs of
  products on CPUs without VNNI (measured on AVX2: 0.35 RMS sample error instead of 0.08).
- The product itself is standard ONNX (``DynamicQuantizeLinear`` + ``MatMulInteger``, then the
  scales), which onnxruntime (native and WebAssembly) runs and fuses as before.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tinycats.export import manifest as mf

ALPHA = 0.5
WEIGHT_QMAX = 63  # 7-bit: no overflow in saturating 16-bit pair sums (u8 x s8)
CALIBRATION_SEED = 123


def _targets(model: Any) -> list[Any]:
    """MatMul/Gemm nodes whose second input is a constant 2-D weight (not the class-table
    lookup, whose input is the graph's own one-hot ``y``: exact and tiny, kept in float)."""
    inits = {i.name: i for i in model.graph.initializer}
    graph_inputs = {i.name for i in model.graph.input}
    return [n for n in model.graph.node
            if n.op_type in ("MatMul", "Gemm") and n.input[1] in inits
            and len(inits[n.input[1]].dims) == 2 and n.input[0] not in graph_inputs]


def activation_ranges(fp32: Path, entry: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per-channel max |input| of every target node, over one default-sampler trajectory per
    generator class (with guidance, so null-class rows are seen too)."""
    import onnx
    from onnx import TensorProto, helper

    from tinycats.runtime.sample import Generator, initial_noise

    model = onnx.load(str(fp32))
    names = sorted({n.input[0] for n in _targets(model)})
    have = {o.name for o in model.graph.output}
    for name in names:
        if name not in have:
            model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    ranges: dict[str, np.ndarray] = {}

    class Recorder(Generator):
        def denoise(self, x: np.ndarray, t: np.ndarray, y: np.ndarray) -> np.ndarray:
            feeds = {self.names["x"]: x.astype(np.float32), self.names["t"]: t.astype(np.float32),
                     self.names["y"]: y.astype(np.float32)}
            outs = self.session.run([self.output, *names], feeds)
            for name, a in zip(names, outs[1:], strict=True):
                m = np.abs(np.asarray(a)).reshape(-1, a.shape[-1]).max(axis=0)
                ranges[name] = np.maximum(ranges[name], m) if name in ranges else m
            return np.asarray(outs[0], dtype=np.float32)

    with tempfile.TemporaryDirectory(prefix="tinycats-int8-") as tmp:
        d = Path(tmp)
        onnx.save(model, str(d / "calibration.onnx"))
        staged = {**entry, "files": {"fp32": mf.file_entry(d / "calibration.onnx")},
                  "default_variant": "fp32"}
        (d / mf.MANIFEST_NAME).write_text(json.dumps(
            {"format": mf.FORMAT, "version": mf.VERSION, "models": {"generator": staged}}))
        gen = Recorder(d / mf.MANIFEST_NAME, variant="fp32")
        classes = [c["id"] for c in entry["classes"] if c["id"] != entry["null_class"]]
        gen.sample(initial_noise(CALIBRATION_SEED, len(classes), gen.size, gen.channels),
                   gen.one_hot(classes))
    return ranges


def quantize(fp32: Path, out: Path, ranges: dict[str, np.ndarray], *, alpha: float = ALPHA,
             qmax: int = WEIGHT_QMAX) -> Path:
    """Write the smoothed, per-channel int8 copy of ``fp32`` to ``out``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(fp32))
    inits = {i.name: i for i in model.graph.initializer}
    targets = {n.output[0] for n in _targets(model)}  # by output name: node objects are views
    nodes: list[Any] = []
    added: list[Any] = []
    for n in model.graph.node:
        if n.output[0] not in targets:
            nodes.append(n)
            continue
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        bias = None
        if n.op_type == "Gemm":
            a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
            if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
                nodes.append(n)  # not a plain x @ W + b: left in float
                continue
            w = w.T if a.get("transB", 0) else w
            bias = n.input[2] if len(n.input) > 2 else None
        base, x = n.name or n.output[0], n.input[0]
        # smoothing: x @ W == (x / s) @ (s * W), with s per input channel
        s = (np.maximum(ranges[x], 1e-5) ** alpha
             / np.maximum(np.abs(w).max(axis=1), 1e-5) ** (1 - alpha))
        s = np.clip(s, 1e-2, 1e2).astype(np.float32)
        w = w * s[:, None]
        scale = np.maximum(np.abs(w).max(axis=0) / qmax, 1e-12).astype(np.float32)
        wq = np.clip(np.round(w / scale), -qmax, qmax).astype(np.int8)
        added += [numpy_helper.from_array((1.0 / s).astype(np.float32), f"{base}_inv_s"),
                  numpy_helper.from_array(wq, f"{base}_wq"),
                  numpy_helper.from_array(scale, f"{base}_wscale")]
        y = n.output[0] if bias is None else f"{base}_nobias"
        nodes += [
            helper.make_node("Mul", [x, f"{base}_inv_s"], [f"{base}_xs"], name=f"{base}_smooth"),
            helper.make_node("DynamicQuantizeLinear", [f"{base}_xs"],
                             [f"{base}_xq", f"{base}_xscale", f"{base}_xzero"], name=f"{base}_dq"),
            helper.make_node("MatMulInteger", [f"{base}_xq", f"{base}_wq", f"{base}_xzero"],
                             [f"{base}_acc"], name=f"{base}_mmi"),
            helper.make_node("Cast", [f"{base}_acc"], [f"{base}_accf"], to=TensorProto.FLOAT,
                             name=f"{base}_cast"),
            helper.make_node("Mul", [f"{base}_xscale", f"{base}_wscale"], [f"{base}_scale"],
                             name=f"{base}_scale_mul"),
            helper.make_node("Mul", [f"{base}_accf", f"{base}_scale"], [y], name=f"{base}_out"),
        ]
        if bias is not None:
            nodes.append(helper.make_node("Add", [y, bias], [n.output[0]], name=f"{base}_bias"))
    used = {i for n in nodes for i in n.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept + added)
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out)
    return out


def to_int8(fp32: Path, out: Path, entry: dict[str, Any]) -> Path:
    """Calibrate on ``fp32``'s own sampler trajectories (``entry``: its manifest entry, files
    aside), then quantise."""
    return quantize(fp32, out, activation_ranges(fp32, entry))


def requantize(model_dir: Path) -> dict[str, Any]:
    """Rebuild ``model_dir``'s generator int8 file from its fp32 ONNX (no checkpoint needed),
    check it against that fp32 file, and update the manifest's int8 entry. The int8 figures in
    reports are then stale: measure with ``tinycats eval generator --variant int8``."""
    import onnxruntime as ort

    from tinycats.export.onnx_common import fixed_input

    man = model_dir / mf.MANIFEST_NAME
    entry = mf.model_entry(mf.load(man), "generator")
    fp32, _ = mf.resolve_file(man, entry, "fp32")
    int8 = model_dir / "generator-int8.onnx"
    with tempfile.TemporaryDirectory(prefix="tinycats-int8-") as tmp:
        built = to_int8(fp32, Path(tmp) / int8.name, entry)
        shutil.move(str(built), int8)
    x, t, y = fixed_input(int(entry["image_size"]), int(entry.get("channels", 3)),
                          len(entry["classes"]))
    feeds = {entry["inputs"]["x"]: x, entry["inputs"]["t"]: t, entry["inputs"]["y"]: y}
    outs = [np.asarray(ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
                       .run([entry["output"]], feeds)[0]) for p in (fp32, int8)]
    d = np.abs(outs[1] - outs[0])
    entry["files"]["int8"] = {**mf.file_entry(int8), "parity_vs_fp32_onnx": {
        "max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean())}}
    mf.update_model(man, "generator", entry)
    return entry

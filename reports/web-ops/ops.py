"""Where a model's time goes, operator type by operator type, in the browser's WASM build of
onnxruntime (under Node) and in native onnxruntime, on the same CPU and thread count. Hand-run
measurement behind docs/web.md ("Where the browser's time goes"):

    python reports/web-ops/ops.py generator --threads 1 --runs 20

The same input in both runtimes (the bench's units: a classify call at batch 1, a CFG step at
batch 2), the shipped fp32 file, the app's optimisation level, and the first 3 calls of each
runtime left out of the totals."""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

from tinycats.runtime.native_bench import cpu_description

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WARMUP = 3
LEVEL = {"classifier": "all", "generator": "basic"}  # as the app creates them (docs/web.md)


def feeds(model: str) -> dict[str, np.ndarray]:
    def wave(*shape: int) -> np.ndarray:
        return np.sin(np.arange(np.prod(shape), dtype=np.float32)).reshape(shape)

    if model == "classifier":
        return {"image": wave(1, 3, 224, 224)}
    return {"x": wave(2, 3, 64, 64), "t": np.full(2, 0.5, np.float32),
            "y": np.zeros((2, 14), np.float32)}


def kind(args: dict) -> str:
    """The operator type; convolutions split by weight shape (both runtimes fuse activations
    into them, under different names)."""
    op = args.get("op_name", "?")
    if op not in ("Conv", "FusedConv"):
        return op
    w = next(iter(args["input_type_shape"][1].values()))  # (out, in / group, k, k)
    if w[1] == 1 and w[0] > 1:
        return f"Conv depthwise {w[2]}x{w[3]}"
    return f"Conv {w[2]}x{w[3]}"


def per_op(events: list[dict], calls: int) -> dict[str, float]:
    """ms per call by operator type, from the last ``calls`` runs of a profile."""
    runs = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"]
    start = runs[-calls]["ts"] if len(runs) >= calls else 0
    total: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= start:
            total[kind(e["args"])] += e["dur"]
    return {k: v / calls / 1000 for k, v in total.items()}


def native(path: Path, model: str, threads: int, runs: int) -> dict[str, float]:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.enable_profiling = True
    so.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "native")
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                                   if LEVEL[model] == "all"
                                   else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    for _ in range(WARMUP + runs):
        s.run(None, feeds(model))
    return per_op(json.loads(Path(s.end_profiling()).read_text()), runs)


def wasm(path: Path, model: str, threads: int, runs: int) -> dict[str, float]:
    cmd = ["node", str(HERE / "ops.mjs"), str(path), str(threads), str(WARMUP + runs),
           LEVEL[model]]
    for _ in range(2):  # Node exited 1 now and then with helper threads (2 of ~20 runs)
        r = subprocess.run(cmd, cwd=ROOT / "web", capture_output=True, text=True)
        if r.returncode == 0:
            return per_op(json.loads(r.stdout[r.stdout.index("["):]), runs)
    raise SystemExit(f"node failed twice: {r.stderr.strip()[-500:]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["classifier", "generator"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    path = ROOT / "web" / "public" / "models" / f"{a.model}-fp32.onnx"
    w, n = wasm(path, a.model, a.threads, a.runs), native(path, a.model, a.threads, a.runs)
    tw, tn = sum(w.values()), sum(n.values())
    cpu = cpu_description()
    print(f"{a.model}, {a.threads} thread(s), {a.runs} calls, {cpu}")
    print(f"{'operator':20s} {'WASM ms':>8s} {'native ms':>9s} {'ratio':>6s} {'of WASM':>8s}")
    for k in sorted(w, key=lambda k: -w[k]):
        nk = n.get(k, 0.0)
        ratio = f"{w[k] / nk:6.1f}" if nk > 0 else f"{'-':>6s}"
        print(f"{k:20s} {w[k]:8.2f} {nk:9.2f} {ratio} {w[k] / tw:8.1%}")
    print(f"{'all operators':20s} {tw:8.2f} {tn:9.2f} {tw / tn:6.1f}")
    out = HERE / f"{a.model}-{a.threads}t.json"
    figures = {"model": a.model, "threads": a.threads, "runs": a.runs, "cpu": cpu,
               "onnxruntime": ort.__version__, "wasm_ms": w, "native_ms": n}
    out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()

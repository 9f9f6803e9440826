"""Native onnxruntime timings of exactly what the browser benchmark times, so that `npm run bench`
can print browser / native ratios measured in the same run on the same machine.

The units match web/src/engine/model.worker.ts ``bench``: classify = one onnxruntime run on a
pre-normalised batch-1 tensor (probabilities and class map); generate = one cat at the manifest's
default sampler, noise drawn as the runtimes draw it; upscale = the same cat then the upscaler at
its defaults, both stages timed in the same runs. An absolute time holds only for its machine;
the ratio is the figure to compare.
"""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinycats.export import manifest as mf
from tinycats.runtime.classify import Classifier
from tinycats.runtime.sample import Generator, initial_noise
from tinycats.runtime.upscale import Upscaler, has_upscaler, upscale_noise


def cpu_description(cpuinfo: str | None = None) -> str:
    """'2-vCPU Intel Xeon, AVX-512 + AMX': logical CPUs, the model and the vector features that
    decide onnxruntime's kernels, as the project names machines (Linux; the platform elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return platform.processor() or platform.machine()
    lines = cpuinfo.splitlines()
    names = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
    flag_lines = [ln for ln in lines if ln.startswith("flags")]
    flags = set(flag_lines[0].split(":", 1)[1].split()) if flag_lines else set()
    model = re.sub(r"\((R|TM)\)|\bProcessor\b|\bCPU\b.*$", "", names[0] if names else "")
    model = " ".join(model.split()) or platform.machine()
    if "amx_tile" in flags:
        vector = "AVX-512 + AMX"
    elif "avx512_bf16" in flags:
        vector = "AVX-512 + BF16"
    elif "avx512f" in flags:
        vector = "AVX-512"
    else:
        vector = "AVX2 only" if "avx2" in flags else "no AVX2"
    return f"{len(names) or 1}-vCPU {model}, {vector}"


def latency(fn: Callable[[], Any], runs: int, warmup: int) -> dict[str, float]:
    """Median and p90 milliseconds of ``runs`` calls after ``warmup`` untimed ones."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return summarise(ms)


def summarise(ms: list[float]) -> dict[str, float]:
    """Median and p90, NumPy's linear-interpolated quantiles (as web/src/engine/stats.ts)."""
    return {"median": float(np.quantile(ms, 0.5)), "p90": float(np.quantile(ms, 0.9))}


def classify_figures(manifest: Path, variant: str | None, threads: int, runs: int,
                     warmup: int) -> dict[str, Any]:
    clf = Classifier(manifest, variant=variant, threads=threads)
    s = clf.pre.size
    x = np.random.default_rng(1234).standard_normal((1, 3, s, s), dtype=np.float32)
    outs = [clf.probs_name, clf.cam_name]
    return {"variant": clf.variant, "unit": f"classify a {s}x{s} image, batch 1",
            "latencyMs": latency(lambda: clf.session.run(outs, {clf.input_name: x}), runs,
                                 warmup)}


def generate_figures(manifest: Path, variant: str | None, threads: int, runs: int,
                     warmup: int) -> dict[str, Any]:
    gen = Generator(manifest, variant=variant, threads=threads)
    y = gen.one_hot([0])
    seeds = iter(range(10**9))
    ms = latency(lambda: gen.sample(initial_noise(next(seeds), 1, gen.size), y), runs, warmup)
    return {"variant": gen.variant, "latencyMs": ms}


def upscale_figures(manifest: Path, gen_variant: str | None, up_variant: str | None,
                    threads: int | None, runs: int, warmup: int) -> dict[str, Any]:
    """Both stages of the same ``runs`` cats: the 64 px stage alone and the whole pipeline."""
    gen = Generator(manifest, variant=gen_variant, threads=threads)
    up = Upscaler(manifest, variant=up_variant, threads=threads)
    y = gen.one_hot([0])
    base_ms: list[float] = []
    all_ms: list[float] = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        x = gen.sample(initial_noise(i, 1, gen.size), y)
        t1 = time.perf_counter()
        up.upscale(x, *upscale_noise(i, 1, up.cond_size, up.size))
        t2 = time.perf_counter()
        if i >= warmup:
            base_ms.append((t1 - t0) * 1e3)
            all_ms.append((t2 - t0) * 1e3)
    st = up.default_settings
    return {"variant": up.variant, "generatorVariant": gen.variant, "size": gen.size,
            "upSize": up.size, "unit": f"{st.solver}, {st.steps} steps",
            "latencyMs": summarise(all_ms), "baseLatencyMs": summarise(base_ms)}


def native_figures(manifest: Path, *, only: set[str], threads: int = 2,
                   variants: dict[str, str | None] | None = None, runs: int = 100,
                   warmup: int = 30, gen_runs: int = 5, gen_warmup: int = 2) -> dict[str, Any]:
    """The figures of ``only`` (classify, generate, upscale) that the manifest's models allow."""
    v = variants or {}
    models = set(_models(manifest))
    out: dict[str, Any] = {"runtime": _ort_version(), "cpu": cpu_description(),
                           "threads": threads}
    if "classify" in only and "classifier" in models:
        out["classify"] = classify_figures(manifest, v.get("classifier"), threads, runs, warmup)
    if "generate" in only and "generator" in models:
        out["generate"] = generate_figures(manifest, v.get("generator"), threads, gen_runs,
                                           gen_warmup)
    if "upscale" in only and "generator" in models and has_upscaler(manifest):
        out["upscale"] = upscale_figures(manifest, v.get("generator"), v.get("upscaler"),
                                         threads, gen_runs, gen_warmup)
    return out


def _models(manifest: Path) -> list[str]:
    return list(mf.load(manifest).get("models", {}))


def _ort_version() -> str:
    import onnxruntime as ort

    return f"onnxruntime {ort.__version__}"

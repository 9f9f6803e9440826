"""`tinycats bench native`: the browser benchmark's units in native onnxruntime, on the shipped
models (real onnxruntime, few runs: figures, not speed targets)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tinycats.paths import shipped_models_dir
from tinycats.runtime.native_bench import cpu_description, native_figures, summarise

MANIFEST = shipped_models_dir() / "manifest.json"


def cpuinfo(model: str, flags: str, n: int = 2) -> str:
    block = f"processor\t: 0\nmodel name\t: {model}\nflags\t\t: fpu sse2 {flags}\n\n"
    return block * n


@pytest.mark.parametrize(("model", "flags", "expected"), [
    ("Intel(R) Xeon(R) Processor", "avx2 avx512f avx512_bf16 amx_tile",
     "2-vCPU Intel Xeon, AVX-512 + AMX"),
    ("AMD EPYC 9B45", "avx2 avx512f avx512_bf16", "2-vCPU AMD EPYC 9B45, AVX-512 + BF16"),
    ("AMD EPYC 7B13", "avx2", "2-vCPU AMD EPYC 7B13, AVX2 only"),
    ("Intel(R) Core(TM) i7-1165G7 CPU @ 2.80GHz", "avx2 avx512f",
     "2-vCPU Intel Core i7-1165G7, AVX-512"),
])
def test_cpu_is_named_as_the_project_names_machines(model: str, flags: str,
                                                    expected: str) -> None:
    assert cpu_description(cpuinfo(model, flags)) == expected


def test_quantiles_match_the_browsers() -> None:
    # web/src/engine/stats.ts: linear interpolation between order statistics
    assert summarise([4.0, 1.0, 3.0, 2.0]) == {"median": 2.5, "p90": pytest.approx(3.7)}


def test_figures_time_the_shipped_models_with_the_asked_variants() -> None:
    figs = native_figures(MANIFEST, only={"classify", "generate", "upscale"}, runs=2, warmup=1,
                          gen_runs=1, gen_warmup=0, variants={"classifier": "fp32"})
    assert figs["classify"]["variant"] == "fp32"
    assert figs["classify"]["unit"].startswith("classify a 224x224 image")
    for unit in ("classify", "generate", "upscale"):
        ms = figs[unit]["latencyMs"]
        assert 0 < ms["median"] <= ms["p90"] and np.isfinite(ms["p90"])
    # both stages of the same cats: the pipeline takes longer than its first stage alone
    assert figs["upscale"]["latencyMs"]["median"] > figs["upscale"]["baseLatencyMs"]["median"]


def test_cli_prints_json_and_refuses_unknown_units(cli: Any) -> None:
    r = cli("bench", "native", "--only", "classify", "--runs", "1", "--warmup", "0",
            "--json", "-")
    assert r.code == 0, r.out
    figs = json.loads(r.out.strip().splitlines()[-1])
    assert set(figs) == {"runtime", "cpu", "threads", "classify"}
    bad = cli("bench", "native", "--only", "classify,paint")
    assert bad.code == 2 and "--only takes" in bad.err

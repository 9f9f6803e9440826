"""Distributed generator training, for real: ``torchrun --standalone --nproc_per_node 2 -m tinycats
train generator`` with the gloo backend on this CPU, against a data folder prepared from the
committed Oxford mini set through the real cache path.

1. Equivalence: 2 processes (global batch 8 = 2 x 4, each rank in 2 micro-batches of 2) give the
   same per-step loss curve, gradient norms and per-t-bin losses as 1 process with the same global
   batch (8 = 4 micro-batches of 2), and the same EMA weights at the end. Tolerance: the logged
   values are rounded to 5 decimals; we allow |a - b| <= 1e-4 + 1e-4 * |b| per step and 1e-4 on
   every EMA weight. Both sides differ only in float32 summation order; measured over 60 steps:
   loss 1e-5 (the rounding), EMA weights <= 7e-6 (Adam turns tiny gradient differences into
   update differences of order lr * 1e-3).
2. Kill + resume: a 2-process run gets SIGTERM (the signal torchrun forwards on preemption) after a
   few steps, checkpoints and stops on every rank at the same step; a 1-process run then resumes
   from ``last.pt`` and finishes. The joined curve has every step exactly once and matches an
   uninterrupted run, as do the final EMA weights.

The uninterrupted 1-process reference runs in this process (``train()`` directly) to save an
interpreter start; the resumed run goes through ``python -m tinycats``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from tinycats.config import load_yaml
from tinycats.data import cache
from tinycats.data.sources import Source, register
from tinycats.generator.config import GeneratorConfig
from tinycats.generator.data import load_gen_data
from tinycats.generator.train import train

HERE = Path(__file__).parent
CONFIG = HERE / "configs" / "scale-generator-tiny.yaml"
OXFORD_MINI = HERE / "fixtures" / "oxford-mini"
LOSS_KEYS = ("loss", "grad_norm", "loss_t0", "loss_t1", "loss_t2", "loss_t3", "loss_t4")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINYCATS_MLFLOW")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _torchrun() -> list[str]:
    exe = Path(sys.executable).parent / "torchrun"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "torch.distributed.run"]


def _train_cmd(data: Path, run: Path, nproc: int, *, fresh: bool = True) -> list[str]:
    launcher = ([*_torchrun(), "--standalone", "--nproc_per_node", str(nproc)] if nproc > 1
                else [sys.executable])
    return [*launcher, "-m", "tinycats", "train", "generator", "--config", str(CONFIG),
            "--data-dir", str(data), "--run-dir", str(run), "--device", "cpu",
            *(["--fresh"] if fresh else [])]


def metrics(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def ema_weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "ema.pt", map_location="cpu", weights_only=False)["model"]


def assert_same_curve(got: list[dict[str, Any]], ref: list[dict[str, Any]]) -> float:
    """Every step once, in order, each loss-like value within the tolerance; returns max diff."""
    assert [m["step"] for m in got] == [m["step"] for m in ref]
    worst = 0.0
    for g, r in zip(got, ref, strict=True):
        for k in LOSS_KEYS:
            diff = abs(g[k] - r[k])
            worst = max(worst, diff)
            assert diff <= 1e-4 + 1e-4 * abs(r[k]), (g["step"], k, g[k], r[k])
        assert g["lr"] == pytest.approx(r["lr"], rel=1e-12)
    return worst


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= 1e-4, worst
    return worst


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the mini Oxford set prepared at 16 px (the trainer's real input)."""
    root = tmp_path_factory.mktemp("scale-data")
    register(root, Source(name="oxford", kind="oxford", path=str(OXFORD_MINI.resolve())))
    cache.prepare_source(root, cache.load_registry(root)["oxford"], 16, workers=1)
    return root


@pytest.fixture(scope="module")
def reference(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted 1-process run of the tiny recipe."""
    run = tmp_path_factory.mktemp("scale-ref") / "run"
    cfg = load_yaml(GeneratorConfig, CONFIG)
    threads = torch.get_num_threads()
    try:
        train(cfg, load_gen_data(data_dir, cfg.data), run, device="cpu", resume=False,
              log=lambda _: None)
    finally:
        torch.set_num_threads(threads)
    return run


def test_two_processes_match_one_process(data_dir: Path, reference: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    proc = subprocess.run(_train_cmd(data_dir, run, 2), env=_env(), capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "x2" in proc.stdout  # the run really had 2 processes
    got, ref = metrics(run), metrics(reference)
    assert len(ref) == 60
    curve = assert_same_curve(got, ref)  # also proves only rank 0 wrote metrics (no duplicates)
    weights = assert_same_weights(ema_weights(run), ema_weights(reference))
    print(f"1 vs 2 processes: max |loss diff| {curve:.2e}, max |EMA weight diff| {weights:.2e}")
    ck = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    assert ck["step"] == 60 and ck["seen"] == 60 * 8


def test_sigterm_then_resume_with_another_process_count(data_dir: Path, reference: Path,
                                                        tmp_path: Path) -> None:
    run = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(data_dir, run, 2), env=_env(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        mfile = run / "metrics.jsonl"
        while not (mfile.exists() and len(mfile.read_text().splitlines()) >= 2):
            assert proc.poll() is None, proc.communicate()[0][-3000:]
            assert time.time() < deadline, "the 2-process run logged nothing in 120 s"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGTERM)  # torchrun forwards it to both workers
        out = proc.communicate(timeout=90)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stopped = torch.load(run / "last.pt", map_location="cpu", weights_only=False)["step"]
    assert 2 <= stopped < 60, f"the run was not stopped in the middle (step {stopped})\n{out}"
    assert f"stop requested (SIGTERM) at step {stopped}" in out
    assert [m["step"] for m in metrics(run)] == list(range(1, stopped + 1))

    resumed = subprocess.run(_train_cmd(data_dir, run, 1, fresh=False), env=_env(),
                             capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"resumed from {run / 'last.pt'} at step {stopped}" in " ".join(resumed.stdout.split())
    curve = assert_same_curve(metrics(run), metrics(reference))
    weights = assert_same_weights(ema_weights(run), ema_weights(reference))
    print(f"stopped at {stopped}, resumed with 1 process: max |loss diff| {curve:.2e}, "
          f"max |EMA weight diff| {weights:.2e}")

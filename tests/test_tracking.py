"""Experiment tracking with MLflow, against a real local file store (nothing mocked): a tiny
generator run logs its recipe as parameters, every logged step as metrics, its sample grids and
summary as artifacts; a resumed run continues the same MLflow run; training without mlflow
installed (import blocked) or with a tracking URI that cannot work still trains."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tinycats.config import load_yaml, replace_train
from tinycats.generator.config import GeneratorConfig
from tinycats.generator.data import GenData, from_arrays
from tinycats.generator.train import train
from tinycats.training import tracking
from tinycats.training.runlog import RunLog
from tinycats.training.tracking import TrackingSettings

CONFIG = Path(__file__).parent / "configs" / "scale-generator-tiny.yaml"

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(autouse=True)
def _no_tracking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in (tracking.ENV_ENABLE, tracking.ENV_URI, tracking.ENV_EXPERIMENT):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture(autouse=True)
def _keep_threads() -> object:
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def tiny_data() -> GenData:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, 16, 16, 3), dtype=np.uint8)
    return from_arrays(images, np.arange(24) % 12)


def tiny_cfg(steps: int = 4) -> GeneratorConfig:
    return replace_train(load_yaml(GeneratorConfig, CONFIG), steps=steps, sample_every=2)


def client(run: Path) -> tuple[Any, str]:
    from mlflow.tracking import MlflowClient

    rec = json.loads((run / tracking.RUN_FILE).read_text())
    return MlflowClient(tracking_uri=rec["uri"]), rec["run_id"]


def test_settings_from_env() -> None:
    assert not TrackingSettings.from_env({}).enabled
    assert TrackingSettings.from_env({"TINYCATS_MLFLOW": "1"}) == TrackingSettings(True)
    s = TrackingSettings.from_env({"TINYCATS_MLFLOW_URI": "http://h:5000",
                                   "TINYCATS_MLFLOW_EXPERIMENT": "cats"})
    assert s == TrackingSettings(True, "http://h:5000", "cats")
    assert not TrackingSettings.from_env({"TINYCATS_MLFLOW": "0",
                                          "TINYCATS_MLFLOW_URI": "http://h"}).enabled
    assert TrackingSettings.from_env(s.to_env()) == s


def test_flatten_nested_params() -> None:
    assert tracking.flatten({"train": {"lr": 0.001, "betas": [0.9, 0.99]}, "name": "x"}) == {
        "train.lr": "0.001", "train.betas": "[0.9, 0.99]", "name": "x"}


def test_training_run_is_tracked_and_resume_continues_the_same_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tracking.ENV_ENABLE, "1")
    run = tmp_path / "run"
    cfg, data = tiny_cfg(4), tiny_data()
    train(cfg, data, run, device="cpu", log=lambda _: None, stop_after_steps=2)
    c, run_id = client(run)
    assert (run / "mlruns").is_dir()  # the default: a file store inside the run folder
    assert c.get_run(run_id).info.status == "KILLED"  # stopped before its last step

    train(cfg, data, run, device="cpu", log=lambda _: None)  # resumes from last.pt
    _, run_id2 = client(run)
    assert run_id2 == run_id
    r = c.get_run(run_id)
    assert r.info.status == "FINISHED"
    assert r.data.params["train.lr"] == "0.001"
    assert r.data.params["model.width"] == "32"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    hist = c.get_metric_history(run_id, "loss")
    assert [m.step for m in hist] == [1, 2, 3, 4]
    assert [m.value for m in hist] == [m["loss"] for m in logged]
    assert {m.step for m in c.get_metric_history(run_id, "loss_t2")} == {1, 2, 3, 4}
    files = {a.path for a in c.list_artifacts(run_id)}
    assert {"config.yaml", "summary.yaml", "samples"} <= files
    samples = {a.path for a in c.list_artifacts(run_id, "samples")}
    assert samples == {"samples/step000002.png", "samples/step000004.png", "samples/final.png"}

    report = tmp_path / "eval-report.json"
    report.write_text(json.dumps({"fid": 123.4}))
    assert tracking.attach(run, report)
    assert "reports/eval-report.json" in {a.path for a in c.list_artifacts(run_id, "reports")}


def test_without_mlflow_installed_training_still_works(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    monkeypatch.setenv(tracking.ENV_ENABLE, "1")
    with pytest.raises(ImportError):
        import mlflow  # noqa: F401
    run = tmp_path / "run"
    summary = train(tiny_cfg(2), tiny_data(), run, device="cpu", log=lambda _: None)
    assert summary["step"] == 2
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert not (run / "mlruns").exists()
    err = capsys.readouterr().err
    assert err.count("mlflow is not installed") == 1


def test_a_tracking_uri_that_fails_does_not_stop_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = RunLog(tmp_path / "run", tracking=TrackingSettings(True, "nosuchscheme://x"))
    log.log(1, loss=0.5)
    log.close()
    assert log.tracker is None
    assert "MLflow tracking disabled" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "metrics.jsonl").read_text())["loss"] == 0.5


def test_runlog_is_unchanged_without_tracking(tmp_path: Path) -> None:
    log = RunLog(tmp_path / "a")
    log.log(3, loss=1.5, lr=0.1)
    rec = json.loads((tmp_path / "a" / "metrics.jsonl").read_text())
    assert rec["step"] == 3 and rec["loss"] == 1.5 and "time" in rec
    assert log.tracker is None
    quiet = RunLog(tmp_path / "b", enabled=False)
    quiet.log(1, loss=1.0)
    quiet.close()
    assert not (tmp_path / "b").exists()

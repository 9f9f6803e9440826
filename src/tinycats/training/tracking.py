"""Optional experiment tracking with MLflow: parameters, per-step metrics, sample grids, reports.

Off unless asked for. Both trainers get it through ``RunLog`` (runlog.py), so turning it on needs
no code, only the environment:

- ``TINYCATS_MLFLOW=1``: track, in a local file store under the run folder
  (``<run_dir>/mlruns``; browse it with ``mlflow ui --backend-store-uri <run_dir>/mlruns``);
- ``TINYCATS_MLFLOW_URI=<uri>``: track to any MLflow tracking URI (``http://host:5000``,
  ``sqlite:///mlflow.db``, ``databricks``, ``file:/path``); setting it also turns tracking on;
- ``TINYCATS_MLFLOW_EXPERIMENT=<name>``: the experiment (default ``tinycats``).

A resumed run (preemption, ``last.pt``) continues the same MLflow run: its id is kept in
``<run_dir>/mlflow_run.json``. Tracking never stops training: without ``mlflow`` installed, or
with a tracking server that fails, it prints one warning line and training goes on.
``mlflow-skinny`` is enough (the full ``mlflow`` adds the UI server).

MLflow 3 keeps the file store in "maintenance mode" and refuses it unless
``MLFLOW_ALLOW_FILE_STORE=true``; we set that (only when the URI is a file store) because the
file store needs no database packages and no server, which is what "local by default" means here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_ENABLE = "TINYCATS_MLFLOW"
ENV_URI = "TINYCATS_MLFLOW_URI"
ENV_EXPERIMENT = "TINYCATS_MLFLOW_EXPERIMENT"
RUN_FILE = "mlflow_run.json"
DEFAULT_EXPERIMENT = "tinycats"


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TrackingSettings:
    enabled: bool = False
    uri: str | None = None  # None: a file store in <run_dir>/mlruns
    experiment: str = DEFAULT_EXPERIMENT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TrackingSettings:
        env = os.environ if env is None else env
        uri = env.get(ENV_URI) or None
        flag = env.get(ENV_ENABLE, "").strip().lower()
        enabled = flag in ("1", "true", "yes", "on") or (uri is not None and flag not in
                                                        ("0", "false", "no", "off"))
        return cls(enabled, uri, env.get(ENV_EXPERIMENT) or DEFAULT_EXPERIMENT)

    def to_env(self) -> dict[str, str]:
        """The environment that turns these settings on in a child process (torchrun, Modal)."""
        if not self.enabled:
            return {}
        out = {ENV_ENABLE: "1", ENV_EXPERIMENT: self.experiment}
        if self.uri:
            out[ENV_URI] = self.uri
        return out


def default_uri(run_dir: Path) -> str:
    return (run_dir.resolve() / "mlruns").as_uri()


def _is_file_store(uri: str) -> bool:
    return uri.startswith(("file:", "/", "./", "../", "~"))


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"train": {"lr": 3e-4}}`` -> ``{"train.lr": "0.0003"}`` (MLflow params are strings)."""
    out: dict[str, str] = {}
    for k, v in params.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = str(v)[:6000]
    return out


class MlflowTracker:
    """One MLflow run, driven through ``MlflowClient`` (no global "active run" state)."""

    def __init__(self, run_dir: Path, settings: TrackingSettings) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = settings.uri or default_uri(run_dir)
        if _is_file_store(self.uri):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=self.uri)
        self.run_dir = run_dir
        self.run_id = self._resume_or_create(settings.experiment)
        self.params: dict[str, str] = {}

    def _resume_or_create(self, experiment: str) -> str:
        rec_file = self.run_dir / RUN_FILE
        if rec_file.exists():
            rec = json.loads(rec_file.read_text())
            if rec.get("uri") == self.uri:
                self.client.update_run(rec["run_id"], status="RUNNING")
                return str(rec["run_id"])
        exp = self.client.get_experiment_by_name(experiment)
        exp_id = exp.experiment_id if exp else self.client.create_experiment(experiment)
        run = self.client.create_run(exp_id, run_name=self.run_dir.name,
                                     tags={"tinycats.run_dir": str(self.run_dir.resolve())})
        rec_file.parent.mkdir(parents=True, exist_ok=True)
        rec_file.write_text(json.dumps({"uri": self.uri, "run_id": run.info.run_id,
                                        "experiment_id": exp_id}) + "\n")
        return str(run.info.run_id)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log new parameters; a value that changed on resume (MLflow params are immutable) is
        recorded as a tag ``changed.<key>`` instead of failing the run."""
        from mlflow.entities import Param, RunTag

        flat = flatten(params)
        if not self.params:
            self.params = dict(self.client.get_run(self.run_id).data.params)
        new = {k: v for k, v in flat.items() if k not in self.params}
        changed = {k: v for k, v in flat.items() if k in self.params and self.params[k] != v}
        items = sorted(new.items())
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in items[i:i + 100]])
        if changed:
            self.client.log_batch(self.run_id, tags=[RunTag(f"changed.{k}", v)
                                                     for k, v in sorted(changed.items())])
        self.params.update(new)

    def log_metrics(self, step: int, metrics: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()
                 if isinstance(v, int | float) and not isinstance(v, bool)]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def close(self, finished: bool = True) -> None:
        self.client.set_terminated(self.run_id, "FINISHED" if finished else "KILLED")


def start(run_dir: Path, settings: TrackingSettings) -> MlflowTracker | None:
    """An MLflow run for ``run_dir`` when tracking is on and possible; None otherwise."""
    if not settings.enabled:
        return None
    try:
        import mlflow  # noqa: F401
    except ImportError:
        warn(f"experiment tracking was asked for ({ENV_ENABLE}/{ENV_URI}) but mlflow is not "
             "installed (pip install mlflow-skinny); training continues without it")
        return None
    try:
        return MlflowTracker(run_dir, settings)
    except Exception as e:  # a tracking server that cannot be reached must not stop training
        warn(f"MLflow tracking disabled: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
        return None


def attach(run_dir: Path, path: Path, artifact_path: str = "reports") -> bool:
    """Add a file (an evaluation report, say) to the MLflow run of a finished training run.

    Does nothing (returns False) when that run was not tracked or mlflow is missing; used by
    commands that run after training, such as evaluation."""
    rec_file = run_dir / RUN_FILE
    if not rec_file.exists():
        return False
    try:
        from mlflow.tracking import MlflowClient

        rec = json.loads(rec_file.read_text())
        if _is_file_store(rec["uri"]):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        MlflowClient(tracking_uri=rec["uri"]).log_artifact(rec["run_id"], str(path),
                                                           artifact_path)
        return True
    except Exception as e:
        warn(f"could not attach {path.name} to the MLflow run: {type(e).__name__}: {e}")
        return False

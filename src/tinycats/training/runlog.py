"""Training logs: one JSON object per line (metrics.jsonl) plus a short human line on stdout.

Experiment tracking (MLflow, tracking.py) rides along when asked for (``TINYCATS_MLFLOW=1`` or
``TINYCATS_MLFLOW_URI``): every ``log`` call also goes to the tracker, the recipe the trainer
wrote (``config.yaml``) becomes the run's parameters, and new files in the run folder (sample
grids in ``samples/``, reports in ``reports/`` and ``*.json``, ``summary.yaml``) become
artifacts. A trainer needs nothing beyond ``RunLog(run_dir).log(step, ...)``; ``close()`` at the
end marks the tracked run finished (an exit handler does it otherwise). This file imports
nothing extra: without mlflow installed, tracking reduces to one warning line.
"""

from __future__ import annotations

import atexit
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tinycats.training import tracking as tracking_mod
from tinycats.training.tracking import TrackingSettings

#: files of a run folder sent to the tracker as artifacts: (glob, artifact folder)
ARTIFACT_GLOBS: tuple[tuple[str, str | None], ...] = (
    ("samples/*.png", "samples"),
    ("reports/*", "reports"),
    ("*.json", "reports"),
    ("config.yaml", None),
    ("summary.yaml", None),
)


class RunLog:
    def __init__(self, run_dir: Path, enabled: bool = True, *,
                 tracking: TrackingSettings | None = None) -> None:
        """``enabled=False`` (every rank but 0) writes nothing. ``tracking`` overrides the
        settings read from the environment."""
        self.enabled = enabled
        self.run_dir = run_dir
        self.path = run_dir / "metrics.jsonl"
        self.t0 = time.time()
        self.tracker: tracking_mod.MlflowTracker | None = None
        self._sent: dict[Path, int] = {}
        self._params_sent = False
        if enabled:
            run_dir.mkdir(parents=True, exist_ok=True)
            settings = tracking if tracking is not None else TrackingSettings.from_env()
            self.tracker = tracking_mod.start(run_dir, settings)
            if self.tracker is not None:
                atexit.register(self.close)

    def log(self, step: int, **metrics: Any) -> None:
        if not self.enabled:
            return
        rec = {"step": step, "time": round(time.time() - self.t0, 2), **metrics}
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if self.tracker is not None:
            self._track(self._send_params)
            self._track(lambda t: t.log_metrics(step, metrics))
            self.sync_artifacts()

    def params(self, params: dict[str, Any]) -> None:
        """Log parameters explicitly (the recipe in ``config.yaml`` is logged without this)."""
        if self.tracker is not None:
            self._track(lambda t: t.log_params(params))

    def artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if self.tracker is not None:
            self._track(lambda t: t.log_artifact(path, artifact_path))

    def sync_artifacts(self) -> None:
        """Send files of the run folder that are new or changed since the last call."""
        if self.tracker is None:
            return
        for pattern, dest in ARTIFACT_GLOBS:
            for f in sorted(self.run_dir.glob(pattern)):
                if not f.is_file() or f.name == tracking_mod.RUN_FILE:
                    continue
                stamp = f.stat().st_mtime_ns
                if self._sent.get(f) != stamp:
                    self._sent[f] = stamp
                    self.artifact(f, dest)

    def close(self, finished: bool = True) -> None:
        """Send the last artifacts and end the tracked run (``finished=False``: stopped early,
        e.g. preempted; a resume reopens it)."""
        if self.tracker is None:
            return
        self._track(self._send_params)
        self.sync_artifacts()
        self._track(lambda t: t.close(finished))
        self.tracker = None
        atexit.unregister(self.close)

    def _send_params(self, t: tracking_mod.MlflowTracker) -> None:
        cfg = self.run_dir / "config.yaml"
        if self._params_sent or not cfg.exists():
            return
        self._params_sent = True
        data = yaml.safe_load(cfg.read_text()) or {}
        if isinstance(data, dict):
            t.log_params(data)

    def _track(self, fn: Callable[[tracking_mod.MlflowTracker], object]) -> None:
        """Run one tracker call; the first failure disables tracking with one warning line."""
        if self.tracker is None:
            return
        try:
            fn(self.tracker)
        except Exception as e:
            tracking_mod.warn(f"MLflow tracking stopped: {type(e).__name__}: "
                              f"{str(e).splitlines()[0][:300] if str(e) else ''}")
            self.tracker = None
            atexit.unregister(self.close)

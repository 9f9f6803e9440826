"""Training logs: one JSON object per line (metrics.jsonl) plus a short human line on stdout.
MLflow is used when installed and asked for (tracking.py); this file needs nothing extra."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class RunLog:
    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.path = run_dir / "metrics.jsonl"
        self.t0 = time.time()
        if enabled:
            run_dir.mkdir(parents=True, exist_ok=True)

    def log(self, step: int, **metrics: Any) -> None:
        if not self.enabled:
            return
        rec = {"step": step, "time": round(time.time() - self.t0, 2), **metrics}
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")

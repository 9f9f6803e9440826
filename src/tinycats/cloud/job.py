"""One training job on a machine with a persistent folder: the body of the Modal functions.

Plain Python (no ``modal`` import), so it runs the same in a Modal container (the folder is the
mounted Volume), on any GPU box, and on this CPU in the tests (the folder is a temp dir):

1. the data: if the cache the recipe needs is missing, ``tinycats data fetch`` (when no Oxford
   source is registered yet) and ``tinycats data prepare --size S`` put it into the folder;
2. the run: ``python -m tinycats train <kind>`` (1 GPU) or ``torchrun --standalone
   --nproc_per_node N -m tinycats train <kind>`` (N GPUs), in ``<folder>/runs/<name>``; it
   resumes from ``last.pt`` when one is there, so a retried or restarted job continues;
3. preemption: SIGINT (what Modal sends) or SIGTERM is passed to the trainer as SIGTERM, which
   makes every rank checkpoint and stop at the same step; the folder is committed and the job
   raises ``Preempted`` so the platform restarts it, and the restart resumes;
4. time limits: the trainer gets ``--max-minutes`` a little under the job's timeout, so it stops
   with a fresh checkpoint before the platform kills it; the job then raises ``Incomplete``,
   which a retry policy turns into the next leg of the same run.

The trainers are reached only through their CLI (``python -m tinycats ...``), the same commands
a user types: this module does not import them, and does not care how they are written.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from tinycats.errors import TinycatsError

Kind = Literal["generator", "classifier"]
KINDS: tuple[str, ...] = ("generator", "classifier")
DEFAULT_CONFIGS: dict[str, str] = {
    "generator": "configs/generator-gpu.yaml",
    "classifier": "configs/classifier.yaml",
}
MAX_GPUS = 8  # GPUs in one Modal container
#: minutes kept between the trainer's own time limit and the platform's timeout
TIME_MARGIN_MIN = 10.0
JOB_FILE = "job.json"


class JobError(TinycatsError):
    """Bad job settings or a step of the job that failed; the message says which."""


class Preempted(RuntimeError):
    """The job was interrupted after checkpointing; running it again resumes."""


class Incomplete(RuntimeError):
    """The trainer stopped at its time limit before the last step; running it again resumes."""


@dataclass
class JobSpec:
    kind: str
    config_text: str  # the recipe YAML itself (read on the user's machine, sent with the job)
    run_name: str
    gpus: int = 1
    steps: int | None = None  # override of the recipe's step count
    fresh: bool = False  # start over (once: a retry of the same job_id resumes)
    job_id: str = ""
    time_limit_min: float | None = None  # the platform's timeout for one attempt
    data_size: int | None = None  # cache size to prepare; None: the recipe's data.size
    tracking: dict[str, str] = field(default_factory=dict)  # TINYCATS_MLFLOW* variables
    extra_args: list[str] = field(default_factory=list)  # passed to `tinycats train <kind>`

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobSpec:
        return cls(**d)


def plan(kind: str, config: Path | str | None = None, *, gpus: int = 1, steps: int | None = None,
         run_name: str | None = None, fresh: bool = False, time_limit_min: float | None = None,
         data_size: int | None = None, tracking: dict[str, str] | None = None,
         epochs: float | None = None, extra_args: Sequence[str] = (),
         repo: Path | None = None) -> JobSpec:
    """Check the user's settings and read the recipe; every problem is one JobError line."""
    if kind not in KINDS:
        raise JobError(f"unknown trainer {kind!r}; use one of: {', '.join(KINDS)}")
    if not 1 <= gpus <= MAX_GPUS:
        raise JobError(f"--gpus must be between 1 and {MAX_GPUS} (one container), not {gpus}")
    if steps is not None and steps <= 0:
        raise JobError(f"--steps must be positive, not {steps}")
    if steps is not None and kind == "classifier":
        raise JobError("the classifier trains for a number of epochs: use --epochs, not --steps")
    if epochs is not None and (kind != "classifier" or epochs <= 0):
        raise JobError("--epochs is for the classifier and must be positive")
    if time_limit_min is not None and time_limit_min <= TIME_MARGIN_MIN:
        raise JobError(f"the timeout must be above {TIME_MARGIN_MIN:g} minutes")
    path = Path(config or DEFAULT_CONFIGS[kind])
    if not path.is_absolute() and not path.exists() and repo is not None:
        path = repo / path
    if not path.exists():
        have = sorted(p.name for p in (repo or Path.cwd()).glob("configs/*.yaml"))
        raise JobError(f"recipe {path} does not exist; recipes in configs/: "
                       f"{', '.join(have) or 'none'}")
    text = path.read_text()
    try:
        recipe = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise JobError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(recipe, dict):
        raise JobError(f"{path} must hold a mapping of settings")
    name = run_name or str(recipe.get("name") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise JobError(f"run name {name!r} may hold only letters, digits, '.', '_' and '-'")
    return JobSpec(kind=kind, config_text=text, run_name=name, gpus=gpus, steps=steps,
                   fresh=fresh, job_id=f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}",
                   time_limit_min=time_limit_min, data_size=data_size,
                   tracking=dict(tracking or {}),
                   extra_args=[*(["--epochs", f"{epochs:g}"] if epochs else []), *extra_args])


def recipe_size(spec: JobSpec) -> int:
    """The image size whose cache the recipe trains on."""
    if spec.data_size:
        return spec.data_size
    recipe = yaml.safe_load(spec.config_text) or {}
    for section, key in (("data", "size"), ("data", "cache_size"), ("model", "image_size")):
        value = (recipe.get(section) or {}).get(key)
        if isinstance(value, int):
            return value
    raise JobError("the recipe names no data.size; pass the cache size to prepare (--data-size)")


def cli(*args: str, python: str | None = None) -> list[str]:
    return [python or sys.executable, "-m", "tinycats", *args]


def ensure_data(root: Path, size: int, *, run: Callable[[list[str]], None],
                python: str | None = None) -> bool:
    """Fetch and prepare the Oxford cache at ``size`` into ``root`` unless it is there.
    Returns True when it had to prepare it."""
    from tinycats.data.cache import cache_path
    from tinycats.data.sources import load_registry

    if (cache_path(root, "oxford", size) / "manifest.json").exists():
        return False
    if "oxford" not in load_registry(root):
        run(cli("data", "fetch", "--data-dir", str(root), python=python))
    run(cli("data", "prepare", "--data-dir", str(root), "--size", str(size), python=python))
    if not (cache_path(root, "oxford", size) / "manifest.json").exists():
        raise JobError(f"`tinycats data prepare --size {size}` left no Oxford cache in {root}")
    return True


def train_command(spec: JobSpec, recipe: Path, root: Path, run_dir: Path, *,
                  max_minutes: float | None, python: str | None = None) -> list[str]:
    py = python or sys.executable
    launcher = ([py, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                 str(spec.gpus)] if spec.gpus > 1 else [py])
    cmd = [*launcher, "-m", "tinycats", "train", spec.kind, "--config", str(recipe),
           "--data-dir", str(root), "--run-dir", str(run_dir)]
    if spec.steps:
        cmd += ["--steps", str(spec.steps)]
    if max_minutes is not None:
        cmd += ["--max-minutes", f"{max_minutes:g}"]
    return cmd + list(spec.extra_args)


def supports_option(kind: str, option: str, python: str | None = None) -> bool:
    """Whether ``tinycats train <kind>`` has ``option`` (the two trainers evolve separately)."""
    out = subprocess.run(cli("train", kind, "--help", python=python), capture_output=True,
                         text=True, env={**os.environ, "COLUMNS": "200"})
    return option in out.stdout


def finished(run_dir: Path, since: float) -> bool | None:
    """The trainer's own verdict (``done`` in a ``summary.yaml`` written after ``since``, a
    time.time()); None when it gives none (then the step count decides)."""
    summary = run_dir / "summary.yaml"
    if not summary.exists() or summary.stat().st_mtime < since:
        return None
    data = yaml.safe_load(summary.read_text()) or {}
    done = data.get("done") if isinstance(data, dict) else None
    return done if isinstance(done, bool) else None


def progress(run_dir: Path) -> tuple[int, int | None] | None:
    """(step reached, steps planned) from the run's ``last.pt``; None without a checkpoint."""
    last = run_dir / "last.pt"
    if not last.exists():
        return None
    from tinycats.training import checkpoint

    ck = checkpoint.load(last)
    total = (ck.get("config") or {}).get("train", {}).get("steps")
    return int(ck.get("step", 0)), (int(total) if isinstance(total, int) else None)


def _prepare_run_dir(spec: JobSpec, run_dir: Path) -> Path:
    """Write the recipe into the run folder; a ``fresh`` job clears the folder once."""
    job_file = run_dir / JOB_FILE
    first_attempt = not job_file.exists() or json.loads(job_file.read_text()).get(
        "job_id") != spec.job_id
    if spec.fresh and first_attempt and run_dir.exists():  # set aside, never deleted
        run_dir.rename(run_dir.with_name(f"{run_dir.name}.replaced-{spec.job_id}"))
    run_dir.mkdir(parents=True, exist_ok=True)
    recipe = run_dir / "recipe.yaml"
    recipe.write_text(spec.config_text)
    job_file.write_text(json.dumps({"job_id": spec.job_id, "kind": spec.kind,
                                    "gpus": spec.gpus}) + "\n")
    return recipe


def _stop(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM to the trainer (torchrun passes it to every rank), then SIGKILL after grace_s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_job(spec: JobSpec, root: Path, *, commit: Callable[[], None] = lambda: None,
            workdir: Path | None = None, python: str | None = None, grace_s: float = 25.0,
            commit_every_s: float = 600.0, log: Callable[[str], None] = print
            ) -> dict[str, Any]:
    """Run ``spec`` with ``root`` as the data folder (the Volume). Returns a summary dict;
    raises Preempted/Incomplete when running the same spec again should continue it."""
    root.mkdir(parents=True, exist_ok=True)
    workdir = workdir or Path.cwd()

    def run(cmd: list[str]) -> None:
        log("$ " + " ".join(cmd))
        rc = subprocess.run(cmd, cwd=workdir).returncode
        if rc != 0:
            raise JobError(f"`{' '.join(cmd[1:])}` failed (exit code {rc})")

    if ensure_data(root, recipe_size(spec), run=run, python=python):
        commit()
    run_dir = root / "runs" / spec.run_name
    recipe = _prepare_run_dir(spec, run_dir)
    max_minutes = None
    if spec.time_limit_min is not None and (
            spec.kind == "generator" or supports_option(spec.kind, "--max-minutes", python)):
        max_minutes = spec.time_limit_min - TIME_MARGIN_MIN
    cmd = train_command(spec, recipe, root, run_dir, max_minutes=max_minutes, python=python)
    before = progress(run_dir)
    log(("resuming " if before else "starting ") + f"{spec.kind} run {run_dir}"
        + (f" at step {before[0]}" if before else ""))
    log("$ " + " ".join(cmd))
    env = {**os.environ, **spec.tracking}
    t0, started = time.monotonic(), time.time()
    next_commit = t0 + commit_every_s
    # Own session: a signal meant for this job reaches the trainer only through _stop().
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, start_new_session=True)
    interrupted = {"sig": 0}

    def on_signal(signum: int, frame: object) -> None:
        interrupted["sig"] = signum

    handlers = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        # outside the main thread this fails; then KeyboardInterrupt lands in the except below
        with contextlib.suppress(ValueError):
            handlers[sig] = signal.signal(sig, on_signal)
    try:
        while True:
            try:
                rc = proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                if interrupted["sig"]:
                    log(f"signal {interrupted['sig']}: stopping the trainer (it checkpoints)")
                    _stop(proc, grace_s)
                    commit()
                    raise Preempted(f"{spec.kind} run {run_dir} was interrupted at step "
                                    f"{(progress(run_dir) or (0, None))[0]}; "
                                    "running the job again resumes it") from None
                if time.monotonic() >= next_commit:  # keep the checkpoints durable
                    commit()
                    next_commit += commit_every_s
    except BaseException:  # KeyboardInterrupt outside the main thread, a failed commit, ...
        _stop(proc, grace_s)
        with contextlib.suppress(Exception):
            commit()
        raise
    finally:
        for sig, h in handlers.items():
            signal.signal(sig, h)
    commit()
    if rc != 0:
        raise JobError(f"training failed (exit code {rc}); see the log above")
    after = progress(run_dir)
    step, total = after if after else (0, None)
    verdict = finished(run_dir, started)
    complete = verdict if verdict is not None else (total is None or step >= total)
    minutes = (time.monotonic() - t0) / 60
    if not complete and max_minutes is not None and minutes >= max_minutes - 0.5:
        raise Incomplete(f"{spec.kind} run {run_dir} reached step {step}/{total} in its time "
                         "limit; running the job again continues it")
    return {"kind": spec.kind, "run_dir": str(run_dir), "step": step, "total": total,
            "complete": complete, "minutes": round(minutes, 2), "gpus": spec.gpus}

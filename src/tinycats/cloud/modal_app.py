"""tinycats on Modal's cloud GPUs: the same trainers, the same CLI, one Volume for data and runs.

    modal run -m tinycats.cloud.modal_app --kind generator --gpu H100 --gpus 1
    modal run --detach -m tinycats.cloud.modal_app --kind generator --gpu H100 --gpus 8 \\
        --config configs/generator-gpu.yaml --timeout-hours 12

(``-m``: the container imports this module from the installed package; docs/training-at-scale.md)

- Image: Debian slim + Python 3.12, torch (pinned), the project's dependencies read from
  ``pyproject.toml`` (a cached layer), then the project folder itself copied in and installed
  with ``pip install /opt/tinycats[train]``: the package in the container is exactly what a
  ``pip install .`` of this checkout gives, never a hand-picked list of files.
- Volume ``tinycats-data`` mounted at ``/data``: the data folder (``TINYCATS_DATA``), holding the
  Oxford download, the prepared cache and ``runs/<name>/`` (checkpoints, logs, samples). The first
  job fetches and prepares the dataset into it; later jobs reuse it.
- GPU type and count are options of the entry point (``Function.with_options``); more than one
  GPU runs ``torchrun --standalone --nproc_per_node N`` inside the container.
- Preemption: Modal restarts the input; the job body (``cloud/job.py``) checkpoints on the way
  down and resumes from ``last.pt`` on the way up. Timeouts: the trainer stops a few minutes
  before the function's timeout, with a checkpoint, and ``retries`` run the next leg.
- Tracking: ``--mlflow`` logs to an MLflow file store inside the run folder on the Volume (or
  to ``--mlflow-uri``); fetch it with ``modal volume get tinycats-data runs/<name>/mlruns``.

This module only describes the app; ``cloud/job.py`` does the work and runs anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import modal

from tinycats.cloud import job
from tinycats.paths import repo_root

APP_NAME = "tinycats"
VOLUME_NAME = "tinycats-data"
VOLUME_PATH = "/data"
SRC_IN_IMAGE = "/opt/tinycats"
PYTHON_VERSION = "3.12"
TORCH_PIN = "torch==2.13.0"
#: installed beside the package: experiment tracking is optional in the package, on in the image
IMAGE_EXTRAS = ("mlflow-skinny>=3",)
DEFAULT_GPU = "H100"
DEFAULT_TIMEOUT_S = 12 * 3600
MAX_TIMEOUT_S = 24 * 3600  # Modal's limit for one attempt
RETRIES = modal.Retries(max_retries=8, backoff_coefficient=1.0, initial_delay=15.0)
#: the checkout this file belongs to (the folder holding pyproject.toml)
REPO = repo_root()
#: what never goes into the image: environments, caches, build output, the web app, local data
IGNORE = modal.FilePatternMatcher(
    ".git", ".venv", "venv", "**/__pycache__", "**/*.pyc", ".mypy_cache", ".ruff_cache",
    ".pytest_cache", "**/*.egg-info", "build", "dist", "web", "node_modules", "data", "runs",
    "reports", "tests", "shared", "*.pt", "*.png",
)
# the image trains: the package goes in without the shipped models (setup.py, TINYCATS_BUNDLE)
INSTALL_COMMAND = f"TINYCATS_BUNDLE=0 python -m pip install '{SRC_IN_IMAGE}[train]'"


def build_image(repo: Path = REPO) -> modal.Image:
    return (
        modal.Image.debian_slim(python_version=PYTHON_VERSION)
        .pip_install(TORCH_PIN, *IMAGE_EXTRAS)
        .pip_install_from_pyproject(str(repo / "pyproject.toml"), optional_dependencies=["train"])
        .add_local_dir(repo, SRC_IN_IMAGE, copy=True, ignore=IGNORE)
        .run_commands(INSTALL_COMMAND)
        .env({"TINYCATS_DATA": VOLUME_PATH, "PYTHONUNBUFFERED": "1"})
        .workdir(SRC_IN_IMAGE)
    )


# include_source=False: the container runs this module from the installed package, not from a
# separate upload of the source files (run it with `modal run -m tinycats.cloud.modal_app`).
app = modal.App(APP_NAME, include_source=False)
image = build_image()
volume = modal.Volume.from_name(VOLUME_NAME, create_if_missing=True)


def gpu_spec(gpu: str, gpus: int) -> str:
    """Modal's GPU string: ``H100`` for one, ``H100:8`` for eight."""
    return gpu if gpus == 1 else f"{gpu}:{gpus}"


def run_in_container(spec: dict[str, Any]) -> dict[str, Any]:
    """The function body: the job, with the Volume as the data folder."""
    return job.run_job(job.JobSpec.from_dict(spec), Path(VOLUME_PATH), commit=volume.commit,
                       workdir=Path(SRC_IN_IMAGE))


_common: dict[str, Any] = {"image": image, "gpu": DEFAULT_GPU, "volumes": {VOLUME_PATH: volume},
                           "timeout": DEFAULT_TIMEOUT_S, "retries": RETRIES}


@app.function(**_common)
def train_generator(spec: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume) the generator on GPUs."""
    return run_in_container(spec)


@app.function(**_common)
def train_classifier(spec: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume) the classifier on GPUs."""
    return run_in_container(spec)


FUNCTIONS = {"generator": train_generator, "classifier": train_classifier}


def make_spec(kind: str, config: str, gpus: int, steps: int, run_name: str, fresh: bool,
              timeout_hours: float, data_size: int, mlflow: bool, mlflow_uri: str,
              epochs: float = 0.0, repo: Path = REPO) -> tuple[job.JobSpec, int]:
    """The entry point's options as a checked JobSpec and the timeout in seconds."""
    timeout_s = round(timeout_hours * 3600)
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise job.JobError(f"--timeout-hours must be in (0, {MAX_TIMEOUT_S // 3600}], "
                           f"not {timeout_hours:g}; retries continue longer runs")
    from tinycats.training.tracking import TrackingSettings

    tracking = TrackingSettings(mlflow or bool(mlflow_uri), mlflow_uri or None).to_env()
    spec = job.plan(kind, config or None, gpus=gpus, steps=steps or None,
                    run_name=run_name or None, fresh=fresh, time_limit_min=timeout_s / 60,
                    data_size=data_size or None, tracking=tracking, epochs=epochs or None,
                    repo=repo)
    return spec, timeout_s


@app.local_entrypoint()
def main(kind: Literal["generator", "classifier"] = "generator", config: str = "",
         gpu: str = DEFAULT_GPU, gpus: int = 1, steps: int = 0, epochs: float = 0.0,
         run_name: str = "", fresh: bool = False,
         timeout_hours: float = DEFAULT_TIMEOUT_S / 3600, data_size: int = 0,
         mlflow: bool = False, mlflow_uri: str = "") -> None:
    """Train on Modal. 0 / "" mean "the recipe's value" (--steps: generator, --epochs:
    classifier)."""
    spec, timeout_s = make_spec(kind, config, gpus, steps, run_name, fresh, timeout_hours,
                                data_size, mlflow, mlflow_uri, epochs)
    fn = FUNCTIONS[kind].with_options(gpu=gpu_spec(gpu, gpus), timeout=timeout_s)
    print(f"{kind} run {spec.run_name!r} on {gpu_spec(gpu, gpus)}, timeout {timeout_s}s, "
          f"volume {VOLUME_NAME}")
    print(fn.remote(spec.to_dict()))

"""The Modal app, offline.

Covered here, for real: the app, its functions, Volume and image definition are built by the
real ``modal`` client (nothing contacts Modal); the files the image copies from this checkout
(selected by Modal's own mount code with our ignore rules) make a project that ``pip install``
turns into the complete ``tinycats`` package; the ``modal run`` entry point's options are parsed
by Modal's own CLI parser; and the function BODY (``train_generator.local``) runs on this CPU
against a temporary folder standing in for the Volume: it prepares the data through
``tinycats data prepare`` on first use, trains a few steps, commits; SIGINT (what Modal sends on
preemption) makes it checkpoint and raise ``Preempted``, and running it again resumes.

Not covered (needs the Modal cloud, which cannot be reached here): building the image on Modal's
builders (downloading torch and the dependencies), GPUs and CUDA, ``torchrun`` across several
GPUs in a container (covered on CPU by test_distributed.py), the real Volume and its commits
(replaced by a counter), Modal's preemption/restart and retry machinery, timeouts, and
``tinycats data fetch`` downloading the dataset (the test registers the committed mini set).
Private modal API used: ``modal.mount._Mount`` (file selection) and
``modal.cli.run._get_click_command_for_local_entrypoint`` (argument parsing).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath
from typing import Any

import click
import pytest

modal = pytest.importorskip("modal")

from tinycats.cloud import job, modal_app  # noqa: E402
from tinycats.data.sources import Source, register  # noqa: E402

HERE = Path(__file__).parent
TINY = HERE / "configs" / "scale-generator-tiny.yaml"
OXFORD_MINI = HERE / "fixtures" / "oxford-mini"


class FakeVolume:
    """Stands in for modal.Volume inside the function body: counts commits."""

    def __init__(self) -> None:
        self.commits = 0

    def commit(self) -> None:
        self.commits += 1


def test_app_functions_volume_and_image_are_defined() -> None:
    assert isinstance(modal_app.app, modal.App)
    assert isinstance(modal_app.image, modal.Image)
    assert isinstance(modal_app.volume, modal.Volume)
    for fn in (modal_app.train_generator, modal_app.train_classifier):
        assert isinstance(fn, modal.Function)
        spec = fn._spec_  # private: the options Modal will create the function with
        assert spec.gpus == "H100"
        assert set(spec.volumes) == {modal_app.VOLUME_PATH}
        # include_source=False: no separate upload of the tinycats sources beside the image
        assert not any("tinycats" in repr(m) for m in spec.mounts)
        assert isinstance(fn.with_options(gpu="A100-80GB:4", timeout=3600), modal.Function)
    assert modal_app.gpu_spec("H100", 1) == "H100"
    assert modal_app.gpu_spec("A100-80GB", 8) == "A100-80GB:8"


def image_files() -> list[tuple[Path, PurePosixPath]]:
    from modal.mount import _Mount

    mount = _Mount._add_local_dir(modal_app.REPO, PurePosixPath(modal_app.SRC_IN_IMAGE),
                                  ignore=modal_app.IGNORE)
    return list(mount.entries[0].get_files_to_upload())


def test_image_installs_the_whole_package_from_the_project_folder(tmp_path: Path) -> None:
    files = image_files()
    rel = {str(remote.relative_to(modal_app.SRC_IN_IMAGE)) for _, remote in files}
    assert {"pyproject.toml", "README.md", "configs/generator.yaml"} <= rel
    assert not any(r.startswith((".venv/", ".git/", "web/", "tests/")) for r in rel)
    assert not any("__pycache__" in r for r in rel)
    # Build what the image builds: copy exactly those files, `pip install` the folder.
    src = tmp_path / "image-src"
    for local, remote in files:
        dst = src / remote.relative_to(modal_app.SRC_IN_IMAGE)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(local, dst)
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "--target", str(site), str(src)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TINYCATS_BUNDLE": "0"})  # as INSTALL_COMMAND
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "TINYCATS_BUNDLE=0" in modal_app.INSTALL_COMMAND
    want = {p.relative_to(modal_app.REPO / "src").as_posix()
            for p in (modal_app.REPO / "src" / "tinycats").rglob("*.py")}
    got = {p.relative_to(site).as_posix() for p in (site / "tinycats").rglob("*.py")}
    assert want - got == set(), "modules missing from the installed package"
    assert "tinycats/cloud/modal_app.py" in got  # the container imports the app from here


def parse_entrypoint(*args: str) -> dict[str, Any]:
    from modal.cli.run import _get_click_command_for_local_entrypoint

    cmd = _get_click_command_for_local_entrypoint(modal_app.app, modal_app.main)
    return dict(cmd.make_context("main", list(args)).params)


def test_entrypoint_parses_its_arguments() -> None:
    params = parse_entrypoint("--kind", "generator", "--config", str(TINY), "--gpu", "A100-80GB",
                              "--gpus", "4", "--steps", "100", "--fresh", "--mlflow",
                              "--timeout-hours", "2.5")
    assert params["kind"] == "generator" and params["gpus"] == 4 and params["fresh"] is True
    gpu = params.pop("gpu")
    spec, timeout_s = modal_app.make_spec(**params)
    assert (gpu, timeout_s) == ("A100-80GB", 9000)
    assert spec.kind == "generator" and spec.gpus == 4 and spec.steps == 100 and spec.fresh
    assert spec.run_name == "scale-tiny" and spec.config_text == TINY.read_text()
    assert spec.time_limit_min == 150 and spec.tracking["TINYCATS_MLFLOW"] == "1"
    assert job.JobSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec

    defaults = parse_entrypoint()
    assert defaults["kind"] == "generator" and defaults["gpu"] == "H100"
    assert defaults["gpus"] == 1 and defaults["fresh"] is False
    with pytest.raises(click.BadParameter):
        parse_entrypoint("--kind", "dog")
    with pytest.raises(click.BadParameter):
        parse_entrypoint("--gpus", "two")


@pytest.mark.parametrize(("change", "message"), [
    ({"gpus": 9}, "--gpus must be between 1 and 8"),
    ({"timeout_hours": 30.0}, "--timeout-hours must be in (0, 24]"),
    ({"config": "configs/nope.yaml"}, "configs/nope.yaml does not exist; recipes in configs/:"),
    ({"run_name": "../x"}, "run name '../x' may hold only letters"),
    ({"kind": "classifier", "steps": 10}, "the classifier trains for a number of epochs"),
    ({"epochs": 2.0}, "--epochs is for the classifier"),
])
def test_bad_options_are_one_clear_error(change: dict[str, Any], message: str) -> None:
    opts: dict[str, Any] = {"kind": "generator", "config": str(TINY), "gpus": 1, "steps": 0,
                            "run_name": "", "fresh": False, "timeout_hours": 1.0,
                            "data_size": 0, "mlflow": False, "mlflow_uri": "", "epochs": 0.0}
    with pytest.raises(job.JobError) as e:
        modal_app.make_spec(**{**opts, **change})
    assert message in str(e.value) and "\n" not in str(e.value)


def test_classifier_job_options() -> None:
    spec, _ = modal_app.make_spec("classifier", str(TINY), 2, 0, "cls", False, 1.0, 0, False,
                                  "", epochs=3.5)
    assert spec.extra_args == ["--epochs", "3.5"] and spec.steps is None
    cmd = job.train_command(spec, Path("/r.yaml"), Path("/d"), Path("/d/runs/cls"),
                            max_minutes=None, python="py")
    assert cmd[6:] == ["-m", "tinycats", "train", "classifier", "--config", "/r.yaml",
                       "--data-dir", "/d", "--run-dir", "/d/runs/cls", "--epochs", "3.5"]


def test_multi_gpu_jobs_run_torchrun() -> None:
    spec = job.plan("generator", TINY, gpus=4)
    cmd = job.train_command(spec, Path("/r/recipe.yaml"), Path("/data"), Path("/data/runs/x"),
                            max_minutes=50.0, python="py")
    assert cmd[:6] == ["py", "-m", "torch.distributed.run", "--standalone",
                       "--nproc_per_node", "4"]
    assert cmd[6:11] == ["-m", "tinycats", "train", "generator", "--config"]
    assert cmd[-2:] == ["--max-minutes", "50"]


@pytest.fixture
def volume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, FakeVolume]:
    """A temp folder as the Volume (the mini Oxford set registered, nothing prepared yet) and
    the checkout as the image's source folder."""
    root = tmp_path / "volume"
    register(root, Source(name="oxford", kind="oxford", path=str(OXFORD_MINI.resolve())))
    vol = FakeVolume()
    monkeypatch.setattr(modal_app, "VOLUME_PATH", str(root))
    monkeypatch.setattr(modal_app, "SRC_IN_IMAGE", str(modal_app.REPO))
    monkeypatch.setattr(modal_app, "volume", vol)
    return root, vol


@pytest.mark.filterwarnings("ignore:The train_generator function is executing locally")
def test_function_body_prepares_data_survives_preemption_and_resumes(
        volume: tuple[Path, FakeVolume], tmp_path: Path) -> None:
    root, vol = volume
    # Long enough (the recipe has 60 steps) that the signal always lands mid-run, even on an
    # idle machine where the tiny model trains at >100 steps/s.
    n = 600
    spec, _ = modal_app.make_spec("generator", str(TINY), 1, n, "", False, 1.0, 0, False, "")
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec.to_dict()))
    # First attempt, in its own process (it gets the signal): the body as the container runs it.
    script = ("import json, sys; from pathlib import Path; from tinycats.cloud import job\n"
              "spec = job.JobSpec.from_dict(json.loads(Path(sys.argv[1]).read_text()))\n"
              "try:\n"
              "    job.run_job(spec, Path(sys.argv[2]))\n"
              "except job.Preempted as e:\n"
              "    print('PREEMPTED', e); sys.exit(3)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(spec_file), str(root)],
                            cwd=modal_app.REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    run = root / "runs" / "scale-tiny"
    metrics = run / "metrics.jsonl"
    try:
        deadline = time.time() + 120
        while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
            assert proc.poll() is None, proc.communicate()[0][-3000:]
            assert time.time() < deadline
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGINT)  # what Modal sends on preemption
        out = proc.communicate(timeout=90)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (root / "cache" / "oxford" / "s16" / "manifest.json").exists()  # prepared on first use
    assert "data prepare" in out
    assert proc.returncode == 3, out[-3000:]
    assert "PREEMPTED" in out and "running the job again resumes it" in out
    stopped = job.progress(run)
    assert stopped is not None and 2 <= stopped[0] < n, out[-3000:]

    # The restart: Modal runs the same input again; here the real function body, locally.
    result = modal_app.train_generator.local(spec.to_dict())
    assert result == {"kind": "generator", "run_dir": str(run), "step": n, "total": n,
                      "complete": True, "minutes": result["minutes"], "gpus": 1}
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert steps == list(range(1, n + 1))  # continued where it stopped: every step once
    assert (run / "ema.pt").exists() and (run / "recipe.yaml").read_text() == TINY.read_text()
    assert vol.commits >= 1

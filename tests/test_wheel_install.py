"""The wheel as a user gets it: built (``python -m build``: the sdist, then the wheel from the
sdist), installed into a fresh virtual environment, and run from a temporary folder outside the
checkout: ``tinycats --version``, ``classify``, ``generate`` and ``serve``.

Offline and hermetic: the build runs without isolation on this environment's setuptools, and the
runtime dependencies come from wheels repacked from this environment's installed distributions
(``pip install --no-index --find-links``, no pip configuration), so nothing is downloaded and
the fresh environment holds tinycats and what its base install requires: no torch.

Slow (a minute or more on a free 2-core machine: a ~57 MB wheel and a ~100 MB venv are written):
``make test-package``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "tests" / "fixtures" / "oxford-mini" / "images" / "Bengal_1.jpg"
MODELS = ROOT / "web" / "public" / "models"
WEB_DIST = ROOT / "web" / "dist"
BUNDLE = "tinycats/_shipped"
#: PyPI refuses a file above this without a granted exception
PYPI_FILE_LIMIT = 100 * 1024 * 1024


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without pip configuration, virtual env, PYTHONPATH or
    TINYCATS_* settings: the fresh venv sees only what it installed."""
    drop = ("PIP_", "PYTHON", "VIRTUAL_ENV", "TINYCATS", "CONDA")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1", PYTHONNOUSERSITE="1")
    env.update(extra)
    return env


def run(cmd: Sequence[str | Path], *, cwd: Path, env: dict[str, str], ok: bool = True,
        timeout: float = 900) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    if ok and res.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {res.returncode}\n"
                             f"stdout:\n{res.stdout[-4000:]}\nstderr:\n{res.stderr[-4000:]}")
    return res


# ---- the runtime dependencies, repacked from this environment ------------------------------

def runtime_closure() -> list[metadata.Distribution]:
    """The installed distributions the base install of tinycats needs (no extras)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [Requirement(r) for r in metadata.requires("tinycats") or []]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            pytest.skip(f"{req.name} (a runtime dependency) is not installed here")
        seen[key] = dist
        todo += [Requirement(r) for r in dist.requires or []]
    return list(seen.values())


def repack(dist: metadata.Distribution, out: Path) -> Path:
    """A wheel of an installed distribution: its files below site-packages as its RECORD lists
    them (scripts are left out: pip writes the entry points again), with a fresh RECORD."""
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [ln.split(":", 1)[1].strip() for ln in wheel_meta.splitlines()
            if ln.startswith("Tag:")]
    if not tags or not dist.files:
        pytest.skip(f"{dist.metadata['Name']} has no WHEEL tags or RECORD to repack")
    tag = "-".join(".".join(sorted({t.split("-")[i] for t in tags})) for i in range(3))
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    path = out / f"{name}-{dist.version}-{tag}.whl"
    site = Path(str(dist.locate_file("")))
    info_dir = None
    rows = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for f in dist.files:
            parts = Path(str(f)).parts
            if parts[0] == ".." or "__pycache__" in parts or str(f).endswith(".pyc"):
                continue
            if parts[0].endswith(".dist-info"):
                info_dir = parts[0]
                if parts[-1] in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
                    continue
            src = site / f
            if not src.is_file():
                continue
            data = src.read_bytes()
            zf.writestr(f.as_posix(), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.append((f.as_posix(), f"sha256={digest.decode()}", str(len(data))))
        assert info_dir is not None, dist.metadata["Name"]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([*rows, (f"{info_dir}/RECORD", "", "")])
        zf.writestr(f"{info_dir}/RECORD", buf.getvalue())
    return path


# ---- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sdist + wheel, built from a copy of the project's sources (the models and the built
    web app are linked in, read-only), so the checkout gains no build folders."""
    src = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (src / "web" / "public").mkdir(parents=True)
    (src / "web" / "public" / "models").symlink_to(MODELS)
    if (WEB_DIST / "index.html").is_file():
        (src / "web" / "dist").symlink_to(WEB_DIST)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src],
        cwd=src, env=clean_env())
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture(scope="module")
def venv(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed, offline, from repacked dependency wheels."""
    house = tmp_path_factory.mktemp("wheelhouse")
    for dist in runtime_closure():
        repack(dist, house)
    env_dir = tmp_path_factory.mktemp("venv")
    work = tmp_path_factory.mktemp("work")
    run([sys.executable, "-m", "venv", "--clear", env_dir], cwd=work, env=clean_env())
    run([env_dir / "bin" / "python", "-m", "pip", "install", "--no-index", "--find-links", house,
         built["wheel"]], cwd=work, env=clean_env())
    return env_dir


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    """The folder the installed commands run in: no checkout anywhere above it."""
    d = tmp_path / "work"
    d.mkdir()
    assert not any((p / "pyproject.toml").exists() for p in [d, *d.parents])
    return d


def user_env(tmp: Path) -> dict[str, str]:
    return clean_env(TINYCATS_DATA=str(tmp / "data"), HOME=str(tmp / "home"))


# ---- the checks ----------------------------------------------------------------------------

def bundled_manifest() -> dict[str, Any]:
    return dict(json.loads((MODELS / "manifest.json").read_text()))


def test_wheel_carries_the_default_variants_and_the_web_app(built: dict[str, Path]) -> None:
    size = built["wheel"].stat().st_size
    print(f"wheel {built['wheel'].name}: {size / 1e6:.1f} MB; sdist "
          f"{built['sdist'].stat().st_size / 1e6:.1f} MB")
    assert size < PYPI_FILE_LIMIT
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    checkout = bundled_manifest()["models"]
    wanted = {e["files"][e["default_variant"]]["file"] for e in checkout.values()}
    onnx = {Path(n).name for n in names if n.endswith(".onnx")}
    assert onnx == wanted  # the default variants, nothing else
    assert {f"{BUNDLE}/web/public/models/{f}" for f in wanted} <= names
    assert f"{BUNDLE}/web/public/models/manifest.json" in names
    assert not any(n.startswith(f"{BUNDLE}/web/dist/models/") for n in names)
    assert (f"{BUNDLE}/web/dist/index.html" in names) == (WEB_DIST / "index.html").is_file()
    with tarfile.open(built["sdist"]) as tf:  # a wheel built from the sdist is the same
        in_sdist = {Path(n).name for n in tf.getnames() if "/web/public/models/" in n}
    assert in_sdist == wanted | {"manifest.json"}


def test_installed_wheel_is_torch_free_and_finds_its_models(venv: Path, work: Path) -> None:
    probe = ("import importlib.util as u, json, tinycats.paths as p; print(json.dumps({"
             "'torch': u.find_spec('torch') is not None, 'checkout': p.checkout_root() is not "
             "None, 'models': str(p.shipped_models_dir())}))")
    res = run([venv / "bin" / "python", "-c", probe], cwd=work, env=user_env(work))
    seen = json.loads(res.stdout)
    assert seen["torch"] is False and seen["checkout"] is False
    assert Path(seen["models"]).is_relative_to(venv)

    res = run([venv / "bin" / "tinycats", "--version"], cwd=work, env=user_env(work))
    lines = res.stdout.splitlines()
    assert lines[0] == f"tinycats {metadata.version('tinycats')}"
    for key, entry in bundled_manifest()["models"].items():
        sha = entry["files"].get("fp32", entry["files"][entry["default_variant"]])["sha256"]
        assert any(ln.startswith(f"{key} ") and sha[:8] in ln and "trained 20" in ln
                   for ln in lines), (key, lines)
    assert lines[-1] == f"models: {seen['models']}"


def test_installed_classify_matches_the_checkout(venv: Path, work: Path) -> None:
    from tinycats.runtime.classify import Classifier, read_image

    res = run([venv / "bin" / "tinycats", "classify", IMAGE, "--json"], cwd=work,
              env=user_env(work))
    got = json.loads(res.stdout.strip().splitlines()[-1])
    clf = Classifier(MODELS / "manifest.json")  # the checkout's default variant, in-process
    want = clf.predict([read_image(IMAGE)])[0]
    assert got["variant"] == clf.variant
    assert got["label"] == "bengal"
    keys = [lab["key"] for lab in clf.entry["labels"]]
    assert max(abs(got["probs"][k] - float(want[i])) for i, k in enumerate(keys)) < 1e-4

    # only the default variant is inside: another one is a clear one-line error
    other = next(v for v in bundled_manifest()["models"]["classifier"]["files"]
                 if v != clf.variant)
    res = run([venv / "bin" / "tinycats", "classify", IMAGE, "--variant", other], cwd=work,
              env=user_env(work), ok=False)
    assert res.returncode == 2 and f"unknown model variant {other!r}" in res.stderr


def test_installed_generate(venv: Path, work: Path) -> None:
    from PIL import Image

    res = run([venv / "bin" / "tinycats", "generate", "--breed", "Bengal", "-n", "2", "--seed",
               "3", "-o", "cats.png"], cwd=work, env=user_env(work))
    assert "wrote cats.png (2 cats at 128 px" in res.stdout
    with Image.open(work / "cats.png") as im:
        assert min(im.size) >= 128


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def test_installed_serve(venv: Path, work: Path, built: dict[str, Path]) -> None:
    has_app = f"{BUNDLE}/web/dist/index.html" in zipfile.ZipFile(built["wheel"]).namelist()
    cmd = [str(venv / "bin" / "tinycats"), "serve", "--quiet", "--port", str(_free_port())]
    if not has_app:
        res = run(cmd, cwd=work, env=user_env(work), ok=False, timeout=60)
        assert res.returncode == 2 and "carries no web app" in res.stderr
        return
    proc = subprocess.Popen(cmd, cwd=work, env=user_env(work), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{cmd[-1]}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                status, headers, body = _get(base)
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "tinycats serve did not answer"
                time.sleep(0.5)
        assert status == 200 and b"<html" in body.lower()
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        status, _, body = _get(base + "models/manifest.json")
        served = json.loads(body)
        assert "bundled" in served
        for entry in served["models"].values():
            (variant, fe), = entry["files"].items()
            assert variant == entry["default_variant"]
            status, headers, data = _get(base + "models/" + fe["file"])
            assert status == 200 and len(data) == fe["bytes"]
            assert hashlib.sha256(data).hexdigest() == fe["sha256"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)

"""Packaging, fast: what the wheel bundles (setup.py's plan), where an installed package finds
its models and web app (tinycats.paths), `tinycats serve` of the bundled app, the manifest's
model version and training date, `tinycats --version`, and the declared Python versions.

The real wheel, built and installed into a fresh venv, is tests/test_wheel_install.py (slow).
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import json
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tinycats import __version__, paths
from tinycats.export import manifest as mf
from tinycats.serve import ServeError, make_server, serving

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / paths.SHIPPED_MODELS
IMAGE = ROOT / "tests" / "fixtures" / "oxford-mini" / "images" / "Bengal_1.jpg"


@pytest.fixture(scope="module")
def setup_py() -> ModuleType:
    """The project's setup.py as a module (its setup() call runs only as __main__)."""
    spec = importlib.util.spec_from_file_location("tinycats_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fake_tree(root: Path, *, tamper: bool = False) -> Path:
    """A checkout-shaped folder: two classifier variants (int8 the default), a built app."""
    models = root / paths.SHIPPED_MODELS
    models.mkdir(parents=True)
    files = {}
    for variant, data in (("fp32", b"fp32 weights"), ("int8", b"int8 weights")):
        name = f"classifier-{variant}.onnx"
        (models / name).write_bytes(data)
        files[variant] = {"file": name, "bytes": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()}
    if tamper:
        (models / "classifier-int8.onnx").write_bytes(b"int8 weightz")
    manifest = {"format": mf.FORMAT, "version": mf.VERSION, "models": {"classifier": {
        "task": "classify", "files": files, "default_variant": "int8",
        "exported": "2026-01-02T03:04:05+00:00"}}}
    (models / mf.MANIFEST_NAME).write_text(json.dumps(manifest))
    app = root / paths.WEB_APP
    (app / "assets").mkdir(parents=True)
    (app / "models").mkdir()
    (app / "index.html").write_text("<!doctype html><title>tinycats</title>")
    (app / "assets" / "app.js").write_text("export {};")
    (app / "models" / "classifier-fp32.onnx").write_bytes(b"a copy the wheel leaves out")
    (app / ".DS_Store").write_bytes(b"")
    return root


# ---- what the wheel bundles ----------------------------------------------------------------

def test_bundle_keeps_the_default_variant_and_the_app_without_its_models(
        setup_py: ModuleType, tmp_path: Path) -> None:
    manifest, files = setup_py.bundle_plan(fake_tree(tmp_path / "src"))
    assert set(files) == {f"{paths.SHIPPED_MODELS}/classifier-int8.onnx",
                          f"{paths.WEB_APP}/index.html", f"{paths.WEB_APP}/assets/app.js"}
    entry = manifest["models"]["classifier"]
    assert list(entry["files"]) == ["int8"] and entry["default_variant"] == "int8"
    assert entry["trained"] == "2026-01-02"
    sha_fp32 = hashlib.sha256(b"fp32 weights").hexdigest()
    assert entry["model_version"] == f"2026.01.02-{sha_fp32[:8]}"  # named by the fp32 weights
    assert "bundled" in manifest

    out = tmp_path / "bundle"
    setup_py.write_bundle(out, manifest, files)
    written = mf.load(out / paths.SHIPPED_MODELS / mf.MANIFEST_NAME)
    path, _ = mf.resolve_file(out / paths.SHIPPED_MODELS / mf.MANIFEST_NAME,
                              written["models"]["classifier"])  # size + sha256 hold
    assert path.read_bytes() == b"int8 weights"


def test_bundle_refuses_a_damaged_model_or_no_manifest(setup_py: ModuleType,
                                                        tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"cannot be bundled: model file .* does not match"):
        setup_py.bundle_plan(fake_tree(tmp_path / "a", tamper=True))
    (tmp_path / "b").mkdir()
    with pytest.raises(SystemExit, match=r"manifest\.json is missing"):
        setup_py.bundle_plan(tmp_path / "b")


def test_bundle_of_this_checkout_is_its_default_variants(setup_py: ModuleType) -> None:
    manifest, files = setup_py.bundle_plan(ROOT)
    checkout = mf.load(MODELS / mf.MANIFEST_NAME)["models"]
    assert set(manifest["models"]) == set(checkout)
    for key, entry in checkout.items():
        default = entry["default_variant"]
        assert manifest["models"][key]["files"] == {default: entry["files"][default]}
        assert f"{paths.SHIPPED_MODELS}/{entry['files'][default]['file']}" in files
    assert not any(rel.startswith(f"{paths.WEB_APP}/models/") for rel in files)


# ---- where an installed package finds things -----------------------------------------------

def test_a_checkout_is_found_first() -> None:
    assert paths.checkout_root() == ROOT
    assert paths.repo_root() == ROOT
    assert paths.shipped_models_dir() == MODELS
    assert paths.web_app_dir() == ROOT / paths.WEB_APP
    assert paths.bundled_app_models(ROOT / paths.WEB_APP) is None  # it has its own models/


@pytest.fixture()
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup_py: ModuleType) -> Path:
    """This package as if installed from the wheel: no checkout, the bundle in tmp_path (the
    checkout's bundled manifest, its classifier file, and a stand-in web app)."""
    bundle = tmp_path / "_shipped"
    manifest, files = setup_py.bundle_plan(ROOT)
    entry = manifest["models"]["classifier"]
    clf = f"{paths.SHIPPED_MODELS}/{entry['files'][entry['default_variant']]['file']}"
    setup_py.write_bundle(bundle, manifest, {clf: files[clf]})
    app = bundle / paths.WEB_APP
    app.mkdir(parents=True)
    (app / "index.html").write_text("<!doctype html><title>tinycats</title>")
    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    monkeypatch.setattr(paths, "bundle_root", lambda: bundle)
    return bundle


def test_installed_package_uses_its_bundle(installed: Path) -> None:
    assert paths.repo_root() == installed
    assert paths.shipped_models_dir() == installed / paths.SHIPPED_MODELS
    assert paths.bundled_app_models(installed / paths.WEB_APP) == (
        installed / paths.SHIPPED_MODELS)


def test_installed_classify_and_version(installed: Path, cli: Callable[..., Any],
                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # web/public/models does not exist from here
    res = cli("classify", str(IMAGE), "--json")
    assert res.code == 0, res.err
    assert json.loads(res.out.strip().splitlines()[-1])["label"] == "bengal"
    res = cli("--version")
    assert res.code == 0 and res.out.splitlines()[-1] == (
        f"models: {installed / paths.SHIPPED_MODELS}")


def _get(server: Any, path: str) -> tuple[int, bytes]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.fixture()
def served(installed: Path) -> Iterator[Any]:
    with serving(installed / paths.WEB_APP) as srv:
        yield srv


def test_serve_gives_the_bundled_app_the_package_models(served: Any, installed: Path) -> None:
    status, body = _get(served, "/models/manifest.json")
    assert status == 200 and "bundled" in json.loads(body)
    entry = json.loads(body)["models"]["classifier"]
    fe = entry["files"][entry["default_variant"]]
    status, body = _get(served, "/models/" + fe["file"])
    assert status == 200 and hashlib.sha256(body).hexdigest() == fe["sha256"]
    assert _get(served, "/")[0] == 200
    for bad in ("/models/../index.html", "/models/%2e%2e/%2e%2e/web/public/models/manifest.json",
                "/models/", "/models/nothing.onnx"):
        assert _get(served, bad)[0] == 404, bad


def test_serve_of_a_wheel_without_its_app_says_so(installed: Path, tmp_path: Path) -> None:
    with pytest.raises(ServeError, match="carries no web app"):
        make_server(tmp_path / "nowhere", "127.0.0.1", 0)


# ---- the manifest's model version and training date ----------------------------------------

def test_update_model_writes_and_backfills_version_and_date(tmp_path: Path) -> None:
    path = tmp_path / mf.MANIFEST_NAME
    old = {"task": "generate", "exported": "2025-05-06T07:08:09+00:00",
           "files": {"fp32": {"file": "g.onnx", "bytes": 1, "sha256": "ab" * 32}},
           "default_variant": "fp32"}
    path.write_text(json.dumps({"format": mf.FORMAT, "version": 1,
                                "models": {"generator": old}}))
    new = {"task": "classify", "files": {"int8": {"file": "c.onnx", "bytes": 1,
                                                  "sha256": "cd" * 32}},
           "default_variant": "int8"}
    m = mf.update_model(path, "classifier", new)
    gen, clf = m["models"]["generator"], m["models"]["classifier"]
    assert (gen["trained"], gen["model_version"]) == ("2025-05-06", "2025.05.06-abababab")
    assert clf["trained"] == clf["exported"][:10]
    assert clf["model_version"] == clf["trained"].replace("-", ".") + "-cdcdcdcd"
    # a metrics update passes the entry back: its version and date stay
    kept = {**clf, "trained": "2024-01-01", "model_version": "mine", "metrics": {"x": 1}}
    m = mf.update_model(path, "classifier", kept)
    assert (m["models"]["classifier"]["trained"],
            m["models"]["classifier"]["model_version"]) == ("2024-01-01", "mine")
    assert json.loads(path.read_text())["models"]["generator"]["trained"] == "2025-05-06"


def test_release_fields_survive_odd_entries() -> None:
    assert mf.release_fields({}) == {"model_version": "unknown", "trained": "unknown"}
    assert mf.release_fields({"exported": 5, "files": []}) == {
        "model_version": "unknown", "trained": "unknown"}


def test_version_prints_package_and_model_versions(cli: Callable[..., Any]) -> None:
    res = cli("--version")
    assert res.code == 0
    lines = res.out.splitlines()
    assert lines[0] == f"tinycats {__version__}"
    for key, entry in mf.load(MODELS / mf.MANIFEST_NAME)["models"].items():
        rel = mf.release_fields(entry)
        assert f"{key} {rel['model_version']} (trained {rel['trained']}" in res.out
    assert lines[-1] == f"models: {MODELS}"
    assert cli("version").out == res.out
    assert cli("-V").out == res.out


# ---- what pyproject.toml declares ----------------------------------------------------------

def test_pyproject_declares_python_3_11_to_3_13_and_a_torch_free_base() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    versions = {c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                if c.startswith("Programming Language :: Python :: 3.")}
    assert versions == {"3.11", "3.12", "3.13"}
    heavy = ("torch", "onnx>", "onnxscript", "opencv", "safetensors", "modal", "mlflow")
    assert not [d for d in project["dependencies"] if d.startswith(heavy)]

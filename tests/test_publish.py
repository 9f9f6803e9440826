"""``tinycats publish``: the folder is built for real from a tiny trained generator, a classifier
checkpoint, an export folder (manifest + ONNX file) and a report, then checked file by file.

Mocked: only the Hugging Face Hub calls (``HfApi.create_repo`` and ``HfApi.upload_folder``),
because the Hub cannot be reached from here; the test checks what they were asked to upload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from tinycats.config import load_yaml, replace_train
from tinycats.export import manifest as mf
from tinycats.generator.config import GeneratorConfig
from tinycats.generator.data import from_arrays
from tinycats.generator.train import train
from tinycats.publish import MARKER, PublishError, publish, push
from tinycats.training import checkpoint

safetensors_torch = pytest.importorskip("safetensors.torch")

CONFIG = Path(__file__).parent / "configs" / "scale-generator-tiny.yaml"


@pytest.fixture(scope="module")
def gen_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generator trained for 2 steps (ema.pt, samples/final.png, summary)."""
    run = tmp_path_factory.mktemp("scale-pub") / "gen"
    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (24, 16, 16, 3), dtype=np.uint8),
                       np.arange(24) % 12)
    threads = torch.get_num_threads()
    try:
        train(replace_train(load_yaml(GeneratorConfig, CONFIG), steps=2), data, run, device="cpu",
              log=lambda _: None)
    finally:
        torch.set_num_threads(threads)
    return run


@pytest.fixture
def classifier_ckpt(tmp_path: Path) -> Path:
    """A checkpoint in the classifier trainer's ``model.pt`` layout (weights of a small net)."""
    net = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 13))
    path = tmp_path / "cls" / "model.pt"
    checkpoint.save_atomic({"model": net.state_dict(), "config": {"name": "classifier-test"},
                            "step": 7, "kind": "classifier", "weights": "ema"}, path)
    return path


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """An export folder: a (tiny, valid) ONNX file and its manifest entry with metrics."""
    d = tmp_path / "models"
    d.mkdir()
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), d / "classifier-fp32.onnx")
    mf.update_model(d / mf.MANIFEST_NAME, "classifier", {
        "task": "classify", "files": {"fp32": mf.file_entry(d / "classifier-fp32.onnx")},
        "default_variant": "fp32", "metrics": {"test": {"top1": 0.9125, "images": 754}}})
    return d


@pytest.fixture
def reports_dir(tmp_path: Path) -> Path:
    d = tmp_path / "reports"
    d.mkdir()
    (d / "generator-eval.json").write_text(json.dumps(
        {"fid": 87.25, "kid": 0.0412, "images": 1000, "per_breed": {"siamese": {"fid": 80.5}}}))
    return d


def test_publish_writes_a_hub_ready_folder(gen_run: Path, classifier_ckpt: Path,
                                          models_dir: Path, reports_dir: Path, tmp_path: Path,
                                          cli: Callable[..., Any]) -> None:
    out = tmp_path / "hub"
    r = cli("publish", "--out", str(out), "--generator", str(gen_run), "--classifier",
            str(classifier_ckpt.parent), "--models", str(models_dir), "--reports",
            str(reports_dir))
    assert r.code == 0, r.err
    assert "2 safetensors, 1 ONNX files, 1 reports" in r.out
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == {MARKER, "README.md", "generator.safetensors", "generator.config.json",
                     "classifier.safetensors", "classifier.config.json", "manifest.json",
                     "classifier-fp32.onnx", "reports/generator-eval.json",
                     "generator-samples.png"}

    # safetensors: exactly the EMA weights, with the recipe in the metadata
    ema = torch.load(gen_run / "ema.pt", map_location="cpu", weights_only=False)
    loaded = safetensors_torch.load_file(str(out / "generator.safetensors"))
    assert loaded.keys() == ema["model"].keys()
    assert all(torch.equal(loaded[k], ema["model"][k]) for k in loaded)
    from safetensors import safe_open

    with safe_open(str(out / "generator.safetensors"), "pt") as f:
        meta = f.metadata()
    assert meta["kind"] == "generator" and meta["weights"] == "ema" and meta["step"] == "2"
    assert json.loads(meta["config"])["model"]["width"] == 32
    cls = safetensors_torch.load_file(str(out / "classifier.safetensors"))
    assert set(cls) == {"0.weight", "0.bias", "2.weight", "2.bias"}

    # ONNX + manifest copied unchanged, and still verifiable by the runtime's own check
    assert (out / "manifest.json").read_bytes() == (models_dir / "manifest.json").read_bytes()
    m = mf.load(out / "manifest.json")
    mf.resolve_file(out / "manifest.json", mf.model_entry(m, "classifier"))

    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-sa-4.0\n")
    for measured in ("0.9125", "87.25", "0.0412", "per_breed.siamese.fid"):
        assert measured in card
    assert "Oxford-IIIT Pet" in card and "## Limitations" in card and "## Intended use" in card
    assert "Images the generator was trained on, per class: abyssinian 2" in card
    assert "No measured report" not in card


def test_card_without_reports_says_nothing_was_measured(gen_run: Path, tmp_path: Path) -> None:
    res = publish(tmp_path / "hub", generator=gen_run / "ema.pt",
                  models_dir=tmp_path / "none", reports_dir=tmp_path / "none")
    card = (res.out / "README.md").read_text()
    assert "No measured report was found" in card
    assert "image-classification" not in card  # no classifier in this folder


def test_a_modified_onnx_file_is_refused(models_dir: Path, tmp_path: Path) -> None:
    onnx_file = models_dir / "classifier-fp32.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    with pytest.raises(mf.ModelIntegrityError, match="does not match the manifest"):
        publish(tmp_path / "hub", models_dir=models_dir)


@pytest.mark.parametrize("case", ["nothing", "not_ours", "wrong_kind", "earlier"])
def test_bad_input_is_one_error_line(case: str, gen_run: Path, tmp_path: Path,
                                     cli: Callable[..., Any]) -> None:
    out = tmp_path / "hub"
    args = ["publish", "--out", str(out), "--models", str(tmp_path / "none"), "--reports",
            str(tmp_path / "none")]
    if case == "nothing":
        want = "nothing to publish"
    elif case == "not_ours":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        args += ["--generator", str(gen_run)]
        want = "is not empty and was not written by tinycats publish"
    elif case == "wrong_kind":
        args += ["--classifier", str(gen_run / "ema.pt")]
        want = "is a generator-ema checkpoint, not a classifier one"
    else:
        assert cli(*args, "--generator", str(gen_run)).code == 0
        args += ["--generator", str(gen_run)]
        want = "holds an earlier publish; pass --force"
    r = cli(*args)
    assert r.code == 2
    assert want in r.err and len(r.err.strip().splitlines()) == 1, r.err
    if case == "not_ours":
        assert (out / "notes.txt").read_text() == "mine"  # never deleted


def test_push_uploads_the_folder_with_huggingface_hub(
        gen_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        cli: Callable[..., Any]) -> None:
    hub = pytest.importorskip("huggingface_hub")
    calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self: Any, repo_id: str, **kw: Any) -> str:
        calls.append(("create_repo", {"repo_id": repo_id, "token": self.token, **kw}))
        return f"https://huggingface.co/{repo_id}"

    class Info:
        commit_url = "https://huggingface.co/me/tinycats/commit/abc"

    def upload_folder(self: Any, **kw: Any) -> Info:
        calls.append(("upload_folder", kw))
        files = sorted(p.name for p in Path(kw["folder_path"]).iterdir())
        calls.append(("files", {"names": files}))
        return Info()

    monkeypatch.setattr(hub.HfApi, "create_repo", create_repo)  # the Hub is unreachable here
    monkeypatch.setattr(hub.HfApi, "upload_folder", upload_folder)
    for env in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(env, raising=False)
    out = tmp_path / "hub"
    base = ["publish", "--out", str(out), "--generator", str(gen_run), "--models",
            str(tmp_path / "none"), "--reports", str(tmp_path / "none")]

    r = cli(*base, "--push", "me/tinycats")  # no token: refused before any work
    assert r.code == 2 and "needs a Hugging Face token" in r.err and not out.exists()

    monkeypatch.setenv("HF_TOKEN", "hf_test")
    r = cli(*base, "--push", "me/tinycats", "--private")
    assert r.code == 0, r.err
    assert "uploaded to https://huggingface.co/me/tinycats/commit/abc" in r.out
    assert calls[0] == ("create_repo", {"repo_id": "me/tinycats", "token": "hf_test",
                                        "repo_type": "model", "private": True,
                                        "exist_ok": True})
    assert calls[1][1]["repo_id"] == "me/tinycats" and calls[1][1]["folder_path"] == out
    assert calls[1][1]["ignore_patterns"] == [MARKER]
    assert "README.md" in calls[2][1]["names"] and "generator.safetensors" in calls[2][1]["names"]

    with pytest.raises(PublishError, match="repo id like owner/name"):
        push(out, "not a repo", token="x")

"""Classifier training on the committed Oxford mini set: a run stopped mid-way and resumed ends
with exactly the weights of an uninterrupted run; the CLI trains from a recipe file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tinycats.classifier.config import (
    ClassifierConfig,
    ClsDataConfig,
    ClsModelConfig,
    ClsTrainConfig,
)
from tinycats.classifier.data import load_split, sample_weights
from tinycats.classifier.train import load_classifier, total_steps, train
from tinycats.config import load_yaml, to_dict
from tinycats.data.augment import AugmentConfig
from tinycats.data.cache import prepare_source
from tinycats.data.sources import load_registry

REPO = Path(__file__).resolve().parents[1]


def tiny_config() -> ClassifierConfig:
    # 64 px input from an 80 px cache, everything but the last blocks frozen: ~0.1 s a step.
    return ClassifierConfig(
        name="tiny",
        model=ClsModelConfig(backbone="lite0", input_size=64, freeze_blocks=12, dropout=0.2),
        data=ClsDataConfig(sources=["oxford"], cache_size=80,
                           augment=AugmentConfig(lowres_p=0.5, lowres_sizes=(24, 40))),
        train=ClsTrainConfig(batch_size=8, epochs=2.0, warmup_steps=2, eval_every=2,
                             ckpt_every=2, log_every=1, patience=100, ema_decay=0.9,
                             threads=2))


@pytest.fixture
def prepared(data_root: Path) -> Path:
    src = load_registry(data_root)["oxford"]
    for size in (64, 80):
        prepare_source(data_root, src, size, workers=1)
    return data_root


def states_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_stop_and_resume_equals_uninterrupted(prepared: Path, tmp_path: Path) -> None:
    cfg = tiny_config()
    tr = load_split(prepared, ["oxford"], 80, "train")
    va = load_split(prepared, ["oxford"], 64, "val")
    steps = total_steps(cfg, len(tr))
    assert steps >= 5
    quiet = lambda s: None  # noqa: E731

    ref = train(cfg, tr, va, tmp_path / "a", log=quiet)
    assert ref["step"] == steps and ref["done"]
    part = train(cfg, tr, va, tmp_path / "b", log=quiet, stop_after_steps=3)
    assert part["step"] == 3 and not part["done"]
    resumed = train(cfg, tr, va, tmp_path / "b", log=quiet)
    assert resumed["step"] == steps

    a = torch.load(tmp_path / "a" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=False)
    assert states_equal(a["model"], b["model"])
    assert states_equal(a["ema"], b["ema"])
    assert a["history"] == b["history"] and len(a["history"]) == steps // 2 + steps % 2
    ma = torch.load(tmp_path / "a" / "model.pt", weights_only=False)
    mb = torch.load(tmp_path / "b" / "model.pt", weights_only=False)
    assert ma["step"] == mb["step"] and states_equal(ma["model"], mb["model"])
    # the deliverable loads as a model and carries its recipe
    model, loaded_cfg = load_classifier(tmp_path / "a" / "model.pt")
    assert to_dict(loaded_cfg) == to_dict(cfg) and not model.training


def test_class_balancing_weights() -> None:
    labels = torch.tensor([0, 0, 0, 1, 12])
    w = sample_weights(labels, 1.0)
    per_class = torch.zeros(13, dtype=torch.float64).index_add_(0, labels, w)
    assert per_class[0] == per_class[1] == per_class[12]
    assert torch.equal(sample_weights(labels, 0.0), torch.ones(5, dtype=torch.float64))


def test_shipped_recipe_parses() -> None:
    cfg = load_yaml(ClassifierConfig, REPO / "configs" / "classifier.yaml")
    assert cfg.model.input_size % 32 == 0 and cfg.train.max_minutes is not None
    assert cfg.train.max_minutes <= 45


def test_train_cli_from_a_recipe(prepared: Path, tmp_path: Path) -> None:
    recipe = to_dict(tiny_config())
    recipe["train"]["epochs"] = 0.7  # a few steps (how many depends on the fixture count)
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(yaml.safe_dump(recipe))
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "tinycats", "train", "classifier", "--config",
                        str(cfg_file), "--data-dir", str(prepared), "--run-dir", str(run),
                        "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    done = re.search(r"done: step (\d+)/(\d+)", " ".join(r.stdout.split()))
    assert done is not None and done.group(1) == done.group(2), r.stdout
    assert (run / "model.pt").exists() and (run / "metrics.jsonl").exists()
    fitted = torch.load(run / "model.pt", weights_only=False)["calibration"]  # fitted at the end
    # calibrate-classifier (for weights whose run was stopped): refits T and stores it
    r = subprocess.run([sys.executable, "-m", "tinycats", "train", "calibrate-classifier",
                        "--checkpoint", str(run / "model.pt"), "--data-dir", str(prepared),
                        "--refit"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    ck = torch.load(run / "model.pt", weights_only=False)
    assert ck["temperature"] == ck["calibration"]["temperature"] == fitted["temperature"]
    assert ck["calibration"]["val_nll_after"] <= ck["calibration"]["val_nll_before"]
    assert f"T = {fitted['temperature']:.3f}" in " ".join(r.stdout.split())
    r = subprocess.run([sys.executable, "-m", "tinycats", "train", "calibrate-classifier",
                        "--checkpoint", str(tmp_path / "nope.pt"), "--data-dir", str(prepared)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  backbon: lite0\n")
    r = subprocess.run([sys.executable, "-m", "tinycats", "train", "classifier", "--config",
                        str(bad), "--data-dir", str(prepared)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "backbon" in r.stderr and "Traceback" not in r.stderr


def test_distill_loss_is_the_labels_at_alpha_0_and_zero_when_student_matches_teacher() -> None:
    from tinycats.classifier.train import distill_loss

    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 13, generator=g), torch.randn(6, 13, generator=g)
    y = torch.randint(0, 13, (6,), generator=g)
    hard = torch.nn.functional.cross_entropy(s, y, label_smoothing=0.1)
    assert torch.allclose(distill_loss(s, t, y, alpha=0.0, temperature=2.0,
                                       label_smoothing=0.1), hard)
    assert float(distill_loss(t, t, y, alpha=1.0, temperature=3.0,
                              label_smoothing=0.1)) == pytest.approx(0.0, abs=1e-6)
    # the soft term pulls the student's probabilities toward the teacher's
    s = s.clone().requires_grad_(True)
    distill_loss(s, t, y, alpha=1.0, temperature=1.0, label_smoothing=0.0).backward()
    assert s.grad is not None
    step = s.detach() - 1.0 * s.grad
    kl = lambda a: torch.nn.functional.kl_div(  # noqa: E731
        a.log_softmax(1), t.log_softmax(1), reduction="batchmean", log_target=True)
    assert kl(step) < kl(s.detach())


def test_distillation_from_a_teacher_trains_resumes_and_refuses_a_missing_one(
        prepared: Path, tmp_path: Path) -> None:
    """A 64 px teacher teaches a 32 px student on the view it sees; the teacher changes what
    the student learns; a run stopped and resumed ends as an uninterrupted one; the CLI names
    a missing teacher in one line."""
    prepare_source(prepared, load_registry(prepared)["oxford"], 32, workers=1)
    quiet = lambda s: None  # noqa: E731
    tr = load_split(prepared, ["oxford"], 80, "train")
    teacher_cfg = tiny_config()
    teacher_cfg.train.epochs, teacher_cfg.train.eval_every = 0.5, 1000  # it only has to exist
    train(teacher_cfg, tr, load_split(prepared, ["oxford"], 64, "val"), tmp_path / "teacher",
          log=quiet)
    va = load_split(prepared, ["oxford"], 32, "val")
    student = tiny_config()
    student.model.input_size = 32
    student.train.eval_every = 1000  # validation only at the end: not what is tested here
    plain = train(student, tr, va, tmp_path / "plain", log=quiet)
    student.distill.teacher = str(tmp_path / "teacher" / "model.pt")
    student.distill.alpha = 1.0
    ref = train(student, tr, va, tmp_path / "a", log=quiet)
    assert ref["done"] and ref["step"] == plain["step"]
    train(student, tr, va, tmp_path / "b", log=quiet, stop_after_steps=3)
    train(student, tr, va, tmp_path / "b", log=quiet)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=False)
    p = torch.load(tmp_path / "plain" / "last.pt", weights_only=False)
    assert states_equal(a["model"], b["model"])
    assert not states_equal(a["model"], p["model"])

    recipe = to_dict(student)
    recipe["distill"]["teacher"] = "runs/no-such-teacher/model.pt"
    cfg_file = tmp_path / "student.yaml"
    cfg_file.write_text(yaml.safe_dump(recipe))
    r = subprocess.run([sys.executable, "-m", "tinycats", "train", "classifier", "--config",
                        str(cfg_file), "--data-dir", str(prepared), "--run-dir",
                        str(tmp_path / "c")], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert str(prepared / "runs" / "no-such-teacher" / "model.pt") in " ".join(r.stderr.split())

"""``tinycats classify`` with the shipped model (web/public/models), through the real CLI and real
onnxruntime: table and --json output, the class-activation overlay, every kind of bad input
(one clear line each, the other images still classified), a missing or tampered model file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinycats.breeds import CLASSIFIER_LABELS, OTHER_ID, breed_from_oxford_name
from tinycats.data.images import load_square
from tinycats.export.manifest import ModelIntegrityError
from tinycats.runtime.classify import Classifier, decide

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "web" / "public" / "models"
KEYS = [lab.key for lab in CLASSIFIER_LABELS]


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A private copy of the shipped classifier files, for tests that break them."""
    dst = tmp_path / "models"
    dst.mkdir()
    for f in [SHIPPED / "manifest.json", *SHIPPED.glob("classifier-*.onnx")]:
        shutil.copy(f, dst / f.name)
    return dst


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "tinycats", "classify", *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env)


def cat_files(oxford_mini: Path, split: str) -> list[Path]:
    names = [ln.split()[0] for ln in (oxford_mini / "annotations" / f"{split}.txt")
             .read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return [oxford_mini / "images" / f"{n}.jpg" for n in names
            if (oxford_mini / "images" / f"{n}.jpg").exists()]


def test_runtime_does_not_import_torch() -> None:
    code = ("import sys, tinycats.runtime.classify, tinycats.cli.main; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_shipped_model_knows_the_breeds(oxford_mini: Path) -> None:
    """The fixture images of the official test split were never trained on."""
    files = cat_files(oxford_mini, "test")
    truth = np.array([(b.id if (b := breed_from_oxford_name(f.stem)) else OTHER_ID)
                      for f in files])
    images = [Image.open(f).convert("RGB") for f in files]
    right = {}
    for variant in ("fp32", "int8"):
        probs = Classifier(SHIPPED / "manifest.json", variant).predict(images)
        assert probs.shape == (len(files), 13)
        right[variant] = int((decide(probs, OTHER_ID) == truth).sum())
    # a floor, not a score (random weights get ~1 in 13): these 26 photos are harder than the
    # split, five of them missed by every shipped classifier so far, which score 73-81% here
    # and 88-89% on the whole test split (reports/classifier.json)
    assert right["fp32"] >= 0.7 * len(files), right
    # int8 may flip one borderline image of these 26, not more: the full-range int8 file that
    # overflowed on a CPU without VNNI got two more wrong here (export/classifier_onnx.py)
    assert right["int8"] >= right["fp32"] - 1, right


def test_table_and_json(models: Path, oxford_mini: Path) -> None:
    files = cat_files(oxford_mini, "test")[:3]
    r = cli(*files, "--model-dir", models)
    assert r.returncode == 0, r.stderr
    assert "tinycats classifier (int8)" in r.stdout and files[0].name in r.stdout

    r = cli(*files, "--model-dir", models, "--json", "--top-k", "2", "--variant", "fp32")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3
    for f, line in zip(files, lines, strict=True):
        obj = json.loads(line)
        assert obj["path"] == str(f) and obj["variant"] == "fp32"
        assert list(obj["probs"]) == KEYS  # label key -> probability, label-id order
        p = np.array(list(obj["probs"].values()))
        assert abs(p.sum() - 1) < 1e-3 and obj["label"] == KEYS[obj["top"]]
        assert obj["top"] == int(decide(p[None], OTHER_ID)[0])
        rest = [i for i in np.argsort(-p) if i != obj["top"]]
        assert [t["id"] for t in obj["top_k"]] == [obj["top"], rest[0]]


def test_a_picture_enlarged_as_blocks_is_read_as_its_source(oxford_mini: Path,
                                                            tmp_path: Path) -> None:
    photo = Image.open(cat_files(oxford_mini, "test")[0]).convert("RGB")
    thumb = photo.resize((64, 64), Image.Resampling.LANCZOS)
    thumb.save(tmp_path / "thumb.png")
    thumb.resize((450, 450), Image.Resampling.NEAREST).save(tmp_path / "blocks.png")
    r = cli(tmp_path / "thumb.png", tmp_path / "blocks.png", "--json")
    assert r.returncode == 0, r.stderr
    small, blocks = (json.loads(line) for line in r.stdout.strip().splitlines())
    assert "read_as" not in small and blocks["read_as"] == [64, 64]
    assert blocks["probs"] == small["probs"]  # the same pixels reach the model
    r = cli(tmp_path / "blocks.png")
    assert "blocks.png: read as the 64x64 picture it enlarges" in " ".join(r.stdout.split())


def test_cam_overlay(models: Path, oxford_mini: Path, tmp_path: Path) -> None:
    f = cat_files(oxford_mini, "test")[0]
    out = tmp_path / "cam.png"
    r = cli(f, "--model-dir", models, "--cam", out)
    assert r.returncode == 0, r.stderr
    size = json.loads((models / "manifest.json").read_text())["models"]["classifier"]["input"][
        "size"]
    with Image.open(out) as im:
        assert im.size == (size, size)
        overlay = np.asarray(im.convert("RGB"), dtype=np.float32)
    # the overlay is the crop blended with a heatmap: close to, but not equal to, the crop
    crop = load_square(f, size).astype(np.float32)
    assert 5 < np.abs(overlay - crop).mean() < 128


def test_bad_inputs_each_one_line_others_still_classified(models: Path, oxford_mini: Path,
                                                          tmp_path: Path) -> None:
    good = cat_files(oxford_mini, "test")[:2]
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture of a cat\n")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    huge = tmp_path / "huge.png"
    Image.new("1", (12000, 12000)).save(huge)  # tiny file, 144 million pixels once decoded
    missing = tmp_path / "nowhere.jpg"
    r = cli(good[0], text, empty, huge, missing, good[1], "--model-dir", models, "--json")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    objs = [json.loads(line) for line in r.stdout.strip().splitlines()]
    assert [o["path"] for o in objs] == list(map(str, [good[0], text, empty, huge, missing,
                                                       good[1]]))
    assert "top" in objs[0] and "top" in objs[5]
    errors = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(errors) == 4, r.stderr
    assert "not an image" in errors[0] and "notes.jpg" in errors[0]
    assert "empty" in errors[1]
    assert "12000x12000" in errors[2]
    assert "no such file" in errors[3]


def test_missing_model_file(models: Path, oxford_mini: Path) -> None:
    (models / "classifier-int8.onnx").unlink()
    r = cli(cat_files(oxford_mini, "test")[0], "--model-dir", models)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "missing" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli(cat_files(oxford_mini, "test")[0], "--model-dir", models / "nope")
    assert r.returncode == 2 and "no manifest" in r.stderr and "Traceback" not in r.stderr


def test_tampered_model_refused(models: Path, oxford_mini: Path) -> None:
    f = models / "classifier-int8.onnx"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    f.write_bytes(bytes(data))
    r = cli(cat_files(oxford_mini, "test")[0], "--model-dir", models)
    assert r.returncode == 2 and "sha256" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ModelIntegrityError):
        Classifier(models / "manifest.json", "int8")
    Classifier(models / "manifest.json", "fp32")  # the untouched variant still loads


def set_unsure_below(models: Path, value: object) -> None:
    path = models / "manifest.json"
    man = json.loads(path.read_text())
    man["models"]["classifier"]["unsure_below"] = value
    path.write_text(json.dumps(man))


def test_unsure_answers_show_three_labels(models: Path, oxford_mini: Path) -> None:
    """A threshold no real photo reaches makes every answer unsure: the table says so and shows
    three labels even with --top-k 1; --json carries the flag. The model is the shipped one."""
    # two test photos it answers with confidence > 0.95 (the web tests' clear photos too)
    files = [oxford_mini / "images" / f"{name}.jpg" for name in ("Egyptian_Mau_2", "Bombay_2")]
    r = cli(*files, "--model-dir", models, "--json", "--top-k", "1")
    assert r.returncode == 0, r.stderr
    sure = [json.loads(line) for line in r.stdout.splitlines()]
    assert [len(o["top_k"]) for o in sure] == [1, 1]
    set_unsure_below(models, 0.0)  # nothing is unsure: the table has no "answer" column
    r = cli(*files, "--model-dir", models, "--top-k", "1")
    assert r.returncode == 0, r.stderr
    assert "probability" in r.stdout and "answer" not in r.stdout and "not sure" not in r.stdout
    set_unsure_below(models, 0.999999)
    r = cli(*files, "--model-dir", models, "--top-k", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("not sure") == 3  # one per image, and the line saying why
    assert "answer" in r.stdout
    r = cli(*files, "--model-dir", models, "--json", "--top-k", "1")
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert all(o["unsure"] for o in objs) and [len(o["top_k"]) for o in objs] == [3, 3]
    assert [o["top"] for o in objs] == [o["top"] for o in sure]  # the decision itself is kept
    for o in objs:  # no label put first: the three most probable, in order
        probs = sorted(o["probs"].values(), reverse=True)
        assert [t["prob"] for t in o["top_k"]] == probs[:3]


def test_a_threshold_outside_zero_one_is_one_clear_line(models: Path, oxford_mini: Path) -> None:
    set_unsure_below(models, 1.5)
    r = cli(cat_files(oxford_mini, "test")[0], "--model-dir", models)
    assert r.returncode != 0 and "unsure_below" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1

"""ONNX export of the classifier on real images: fp32 parity with PyTorch, an int8 file, the
manifest entry (other models' entries kept), the runtime's preprocessing = the training one,
and the evaluation metrics' definitions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tinycats.breeds import CLASSIFIER_LABELS, OTHER_ID, breed_from_oxford_name
from tinycats.classifier.evaluate import (
    confusion_png,
    expected_calibration_error,
    manifest_metrics,
    metrics,
)
from tinycats.classifier.model import build_classifier
from tinycats.data import augment as aug
from tinycats.data.images import load_square
from tinycats.export import manifest as mf
from tinycats.export.classifier_onnx import export_classifier, normalize_np
from tinycats.runtime.classify import Classifier

SIZE = 96


@pytest.fixture(scope="module")
def fixture_set(oxford_mini: Path) -> tuple[np.ndarray, np.ndarray]:
    files = sorted((oxford_mini / "images").glob("*.jpg"))
    labels = [(b.id if (b := breed_from_oxford_name(f.stem)) else OTHER_ID) for f in files]
    return np.stack([load_square(f, SIZE) for f in files]), np.array(labels)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory,
             fixture_set: tuple[np.ndarray, np.ndarray]) -> tuple[Path, dict, object]:
    """ImageNet backbone + a random 13-way head (sharper than the default init, so the
    parity check has distinct probabilities to compare), exported at 96 px."""
    torch.manual_seed(0)
    model = build_classifier("lite0", pretrained=True).eval()
    torch.nn.init.normal_(model.fc.weight, std=0.05)
    out = tmp_path_factory.mktemp("models")
    # another model's entry already in the manifest: export must keep it
    mf.update_model(out / "manifest.json", "generator", {"task": "generate", "files": {}})
    images, _ = fixture_set
    logs: list[str] = []
    entry = export_classifier(model, SIZE, out, parity_images=images[:24],
                              calibration=images[24:], int8_mode="static",
                              log=logs.append)
    return out, entry, model


def test_export_parity_and_files(exported: tuple[Path, dict, object]) -> None:
    out, entry, _ = exported
    fp32, int8 = entry["parity"]["fp32"], entry["parity"]["int8"]
    assert fp32["argmax_agreement"] == 1.0 and fp32["max_abs_diff_probs"] < 1e-4
    assert int8["argmax_agreement"] >= 0.75  # int8 costs a little; the real cost is in eval
    assert (out / "classifier-int8.onnx").stat().st_size < 0.35 * (
        out / "classifier-fp32.onnx").stat().st_size


def test_manifest_entry_follows_the_schema(exported: tuple[Path, dict, object]) -> None:
    out, _, _ = exported
    m = json.loads((out / "manifest.json").read_text())
    assert set(m["models"]) == {"classifier", "generator"}
    c = m["models"]["classifier"]
    assert [(lab["id"], lab["key"]) for lab in c["labels"]] == [
        (lab.id, lab.key) for lab in CLASSIFIER_LABELS]
    assert c["other_id"] == OTHER_ID and c["input"]["size"] == SIZE
    assert c["input"]["mean"] == pytest.approx(aug.MEAN) and c["input"]["std"] == pytest.approx(
        aug.STD) and c["input"]["scale"] == aug.SCALE
    for fe in c["files"].values():
        assert fe["sha256"] == mf.sha256_file(out / fe["file"])


def test_the_runtimes_read_the_decision_thresholds_from_the_entry(
        exported: tuple[Path, dict, object]) -> None:
    from tinycats.runtime.classify import OTHER_THRESHOLD, UNSURE_BELOW, Classifier

    out, entry, _ = exported
    clf = Classifier(out / "manifest.json")
    assert clf.other_threshold == entry["other_threshold"] == OTHER_THRESHOLD
    assert clf.unsure_below == entry["unsure_below"] == UNSURE_BELOW


def test_dynamic_batch_and_runtime_matches_torch(exported: tuple[Path, dict, object],
                                                 fixture_set: tuple[np.ndarray, np.ndarray]
                                                 ) -> None:
    out, _, model = exported
    images, _ = fixture_set
    clf = Classifier(out / "manifest.json", "fp32")
    for n in (1, 5):
        probs, cam = clf.run(images[:n], with_cam=True)
        assert probs.shape == (n, 13) and cam is not None and cam.shape == (n, 13, 3, 3)
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    # the runtime's normalisation is the training one (augment.normalize), bit for bit close
    x_rt = clf.pre.normalize(images[:4])
    x_tr = aug.normalize(aug.nhwc_to_nchw(images[:4])).numpy()
    np.testing.assert_allclose(x_rt, x_tr, atol=1e-6)
    np.testing.assert_allclose(normalize_np(images[:4]), x_tr, atol=1e-6)
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(x_tr))  # type: ignore[operator]
    np.testing.assert_allclose(clf.predict(images[:4]), torch.softmax(logits, 1).numpy(),
                               atol=1e-5)
    # any size in, resized + cropped like the caches; a 64x64 generator sample works too
    small = images[:3, ::2, ::2][:, :48, :48]
    assert clf.predict(np.ascontiguousarray(small)).shape == (3, 13)


def test_metrics_definitions(tmp_path: Path) -> None:
    labels = np.array([0, 1, 2, OTHER_ID])
    probs = np.full((4, 13), 0.01)
    probs[0, 0] = 0.9  # right
    probs[1, 2] = 0.9  # wrong breed, true one second
    probs[1, 1] = 0.05
    probs[2, OTHER_ID] = 0.9  # a cat called other, its breed last
    probs[2, 2] = 0.001
    probs[3, OTHER_ID] = 0.9  # right
    probs /= probs.sum(1, keepdims=True)
    m = metrics(probs, labels)
    assert m["top1_breeds"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["top3_breeds"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["cat_vs_other"] == 0.75 and m["cats_called_other"] == 1
    assert m["per_breed"]["abyssinian"] == 1.0 and m["per_breed"]["bengal"] == 0.0
    assert np.asarray(m["confusion"]).sum() == 4 and m["confusion"][2][OTHER_ID] == 1
    # ECE: confident and always right -> 0; confident and always wrong -> the confidence
    sure = np.eye(13)[[0, 1]]
    assert expected_calibration_error(sure, np.array([0, 1])) == 0.0
    assert expected_calibration_error(sure, np.array([1, 0])) == 1.0
    png = confusion_png(m["confusion"], tmp_path / "c.png", "test")
    assert png.stat().st_size > 1000
    # the manifest keeps what the About page draws (bars, the confusion picture), not the rest
    kept = manifest_metrics({"onnx_fp32": m, "onnx_fp32_from_64px": m})
    assert kept["onnx_fp32"]["per_breed"] == m["per_breed"]
    assert kept["onnx_fp32"]["confusion"] == m["confusion"] and "nll" not in kept["onnx_fp32"]
    assert set(kept["onnx_fp32_from_64px"]) == {"top1_breeds", "top3_breeds", "cat_vs_other",
                                                 "ece", "images"}
    json.dumps(kept)  # plain JSON, as the manifest needs


def test_requantize_from_the_fp32_onnx(exported: tuple[Path, dict, object], tmp_path: Path,
                                       fixture_set: tuple[np.ndarray, np.ndarray]) -> None:
    """`tinycats export classifier --requantize`: a new int8 file from the listed fp32 ONNX, its
    manifest entry and parity updated, old metrics dropped; a changed fp32 file is refused."""
    import shutil

    from tinycats.export.classifier_onnx import requantize_classifier
    from tinycats.export.onnx_common import ExportError

    out, _, _ = exported
    d = tmp_path / "m"
    shutil.copytree(out, d)
    entry = mf.model_entry(mf.load(d / "manifest.json"), "classifier")
    entry["metrics"] = {"onnx_int8": {"top1_breeds": 0.5}}
    mf.update_model(d / "manifest.json", "classifier", entry)
    (d / "classifier-int8.onnx").write_bytes(b"stale")
    images, _ = fixture_set
    new = requantize_classifier(d, images[24:], images[:24], log=lambda s: None)
    assert new["files"]["int8"] == mf.file_entry(d / "classifier-int8.onnx")
    assert new["parity"]["int8"]["reference"] == "fp32 ONNX"
    assert new["parity"]["int8"]["argmax_agreement"] >= 0.75 and "metrics" not in new
    assert mf.model_entry(mf.load(d / "manifest.json"), "generator")["task"] == "generate"
    (d / "classifier-fp32.onnx").write_bytes(b"tampered")
    with pytest.raises(ExportError, match="not the file the manifest lists"):
        requantize_classifier(d, images[24:], images[:24], log=lambda s: None)

"""Classifier metrics on the official test split, for PyTorch and the exported ONNX files.

Definitions (the report and the README use exactly these). The predicted label is the one the
runtimes show (``tinycats.runtime.classify.decide``): "other" when P(other) >= 0.5, else the
most probable breed; ``argmax_rule`` gives the main numbers for a plain 13-way argmax too.
- ``top1_breeds``: over the cat images of the split, the share whose predicted label is the true
  breed (a cat called "other" counts as wrong);
- ``top3_breeds``: the true breed is among the three most probable labels;
- ``per_breed``: top-1 per true breed; ``cat_vs_other``: over all images (cats and dogs), the
  share where "is the top label ``other``?" matches the truth;
- ``ece``: expected calibration error of the predicted label and its probability over all
  images, 15 equal-width confidence bins, ``sum_b |B|/N * |accuracy(B) - confidence(B)|``;
- ``unsure``: the share of all images whose answer is unsure (the decided label's probability
  is under the manifest's ``unsure_below``; 0 without one); ``top1_all_when_sure``: top-1 over
  the 13 labels among the other images, the answers the runtimes give with confidence;
- ``confusion``: rows are true labels, columns predicted labels (13 x 13, label-id order).

Test images are the prepared cache at the model's input size: the same resize-shorter-side +
centre-crop as the runtimes (tinycats.data.images.square_resize), decoded once.

The report (``tinycats eval classifier``, ``reports/classifier.json``): these metrics for the
PyTorch weights and every exported ONNX variant, each variant also on the test photos shrunk to
the generator's size, the default variant on the test photos degraded four ways
(``classifier.robustness``), with the model's manifest facts; the confusion matrix of the
default variant beside it as a PNG; the main figures in the manifest entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tinycats.breeds import BREEDS, CLASSIFIER_LABELS, NUM_BREEDS, NUM_CLASSIFIER_LABELS, OTHER_ID
from tinycats.runtime.classify import OTHER_THRESHOLD, Classifier, decide, unsure

ECE_BINS = 15
#: the figures the manifest keeps of every evaluated model
MANIFEST_FIGURES = ("top1_breeds", "top3_breeds", "cat_vs_other", "ece", "images")
# The About page's per-breed bars and confusion picture, kept for full-size inputs only (the
# 64 px rows are one sentence there): 13 x 13 counts per file is what makes them weigh.
DETAIL_FIGURES = ("per_breed", "confusion")
TEST_SPLIT = "official Oxford-IIIT Pet test split (cats: 12 breeds; other: the dogs)"



class TestSet(NamedTuple):
    images: np.ndarray  # uint8, N x size x size x 3
    labels: np.ndarray  # label ids

    @property
    def size(self) -> int:
        return int(self.images.shape[1])


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS,
                               pred: np.ndarray | None = None) -> float:
    """ECE of the predicted label (default: the argmax) and its probability."""
    pred = probs.argmax(1) if pred is None else pred
    conf = probs[np.arange(len(pred)), pred]
    correct = (pred == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def metrics(probs: np.ndarray, labels: np.ndarray, other_threshold: float = OTHER_THRESHOLD,
            unsure_below: float | None = None) -> dict[str, Any]:
    """All the numbers of one model on one split (definitions in the module docstring)."""
    labels = labels.astype(np.int64)
    pred = decide(probs, OTHER_ID, other_threshold)
    sure = ~unsure(probs, pred, unsure_below)
    argmax = probs.argmax(1)
    cats = labels < NUM_BREEDS
    top3 = np.argsort(-probs, axis=1)[:, :3]
    conf = np.zeros((NUM_CLASSIFIER_LABELS, NUM_CLASSIFIER_LABELS), dtype=np.int64)
    np.add.at(conf, (labels, pred), 1)
    per_breed = {}
    for b in BREEDS:
        m = labels == b.id
        per_breed[b.key] = round(float((pred[m] == b.id).mean()), 4) if m.any() else None
    is_other, pred_other = labels == OTHER_ID, pred == OTHER_ID
    eps = 1e-12
    nll = float(-np.log(np.clip(probs[np.arange(len(labels)), labels], eps, 1.0)).mean())
    return {
        "images": len(labels),
        "cat_images": int(cats.sum()),
        "other_images": int(is_other.sum()),
        "top1_breeds": round(float((pred[cats] == labels[cats]).mean()), 4),
        "top3_breeds": round(float((top3[cats] == labels[cats, None]).any(1).mean()), 4),
        "top1_breeds_among_breeds": round(float(
            (probs[cats][:, :NUM_BREEDS].argmax(1) == labels[cats]).mean()), 4),
        "cat_vs_other": round(float((is_other == pred_other).mean()), 4),
        "cats_called_other": int((cats & pred_other).sum()),
        "other_called_cat": int((is_other & ~pred_other).sum()),
        "top1_all": round(float((pred == labels).mean()), 4),
        "ece": round(expected_calibration_error(probs, labels, pred=pred), 4),
        # the same with a plain argmax over the 13 labels, for comparison
        "argmax_rule": {
            "top1_breeds": round(float((argmax[cats] == labels[cats]).mean()), 4),
            "cat_vs_other": round(float((is_other == (argmax == OTHER_ID)).mean()), 4)},
        "nll": round(nll, 4),
        "unsure": round(float(1 - sure.mean()), 4),
        "top1_all_when_sure": round(float((pred[sure] == labels[sure]).mean()), 4)
        if sure.any() else None,
        "per_breed": per_breed,
        "confusion": conf.tolist(),
    }


def confusion_png(conf: np.ndarray | list[list[int]], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix as a PNG (Pillow only: no plotting library needed)."""
    c = np.asarray(conf, dtype=np.float64)
    rows = c / np.maximum(c.sum(1, keepdims=True), 1)
    names = [lab.display for lab in CLASSIFIER_LABELS]
    cell, left, top = 44, 150, 150
    n = len(names)
    w, h = left + n * cell + 20, top + n * cell + 40
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=12)
    small = ImageFont.load_default(size=11)
    d.text((10, 10), title, fill="black", font=ImageFont.load_default(size=14))
    d.text((10, 30), "rows: true label, columns: predicted (share of the row, count)",
           fill="dimgray", font=small)
    for i, name in enumerate(names):
        d.text((left - 8, top + i * cell + cell // 2), name, fill="black", font=font,
               anchor="rm")
        # column labels written vertically: draw on a strip and rotate it
        strip = Image.new("RGB", (top - 60, cell), "white")
        ImageDraw.Draw(strip).text((4, cell // 2), name, fill="black", font=font, anchor="lm")
        im.paste(strip.rotate(90, expand=True), (left + i * cell, 55))
        for j in range(n):
            v = rows[i, j]
            shade = int(255 - 200 * v)
            color = (shade, shade, 255) if i == j else (255, shade, shade)
            x0, y0 = left + j * cell, top + i * cell
            d.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=color, outline="lightgray")
            if c[i, j]:
                ink = "white" if v > 0.6 else "black"
                d.text((x0 + cell // 2, y0 + cell // 2), f"{int(c[i, j])}", fill=ink,
                       font=small, anchor="mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def summary_line(name: str, m: dict[str, Any]) -> str:
    return (f"{name:<10} top-1 breeds {m['top1_breeds'] * 100:5.1f}%  top-3 "
            f"{m['top3_breeds'] * 100:5.1f}%  cat-vs-other {m['cat_vs_other'] * 100:5.2f}%  "
            f"ECE {m['ece']:.3f}  ({m['cat_images']} cats, {m['other_images']} other)")


def torch_metrics(checkpoint: Path, test: TestSet) -> dict[str, Any]:
    """The metrics of the PyTorch weights in ``checkpoint`` (imports torch: only here)."""
    from tinycats.classifier.train import load_classifier
    from tinycats.export.classifier_onnx import run_torch

    model, _ = load_classifier(checkpoint)
    return metrics(run_torch(model, test.images)[0], test.labels)


def onnx_metrics(manifest: Path, variants: Iterable[str], test: TestSet, small: TestSet | None,
                 log: Callable[[str], None]) -> dict[str, Any]:
    """The metrics of every exported variant, and with ``small`` (the same photos at a lower
    size) of the same from those; each said in one line as soon as it is measured."""
    results: dict[str, Any] = {}
    for variant in variants:
        clf = Classifier(manifest, variant)
        key = f"onnx_{variant}"
        results[key] = metrics(clf.predict(test.images), test.labels, clf.other_threshold,
                               clf.unsure_below)
        log(summary_line(f"onnx {variant}", results[key]))
        if small is not None:
            key = f"onnx_{variant}_from_{small.size}px"
            results[key] = metrics(clf.predict(small.images), small.labels, clf.other_threshold,
                                   clf.unsure_below)
            log(summary_line(f"  {small.size}px in", results[key]))
    return results


def robustness_metrics(manifest: Path, variant: str, source: TestSet,
                       log: Callable[[str], None]) -> dict[str, Any]:
    """The metrics of one variant on the test photos degraded each way of
    ``classifier.robustness`` (``source``: the photos at ``robustness.SOURCE_SIZE``)."""
    from tinycats.classifier import robustness

    clf = Classifier(manifest, variant)
    results: dict[str, Any] = {}
    for name in robustness.DEGRADATIONS:
        probs = clf.predict(robustness.degrade(source.images, name))
        results[f"onnx_{variant}_degraded_{name}"] = m = metrics(
            probs, source.labels, clf.other_threshold, clf.unsure_below)
        log(summary_line(f"  {name}", m))
    return results


def int8_cost(results: dict[str, Any]) -> float | None:
    """What int8 quantisation costs in top-1 breeds (a share, int8 minus fp32), when both
    variants were measured."""
    if "onnx_fp32" in results and "onnx_int8" in results:
        return float(results["onnx_int8"]["top1_breeds"] - results["onnx_fp32"]["top1_breeds"])
    return None


def build_report(entry: dict[str, Any], results: dict[str, Any], command: str
                 ) -> dict[str, Any]:
    """The report of ``results``, with the facts of the evaluated model's manifest ``entry``."""
    return {
        "command": command,
        "split": TEST_SPLIT,
        "input_size": int(entry["input"]["size"]),
        "model": {k: entry.get(k) for k in ("backbone", "params", "recipe", "trained_steps",
                                            "int8_mode", "val")},
        "files": {k: {"bytes": v["bytes"], "sha256": v["sha256"]}
                  for k, v in entry["files"].items()},
        "definitions": "see src/tinycats/classifier/evaluate.py",
        "results": results,
    }


def confusion_path(report: Path) -> Path:
    return report.with_name(report.stem + "-confusion.png")


def save_default_confusion(entry: dict[str, Any], results: dict[str, Any], path: Path) -> None:
    """The confusion matrix of the variant the runtimes use by default, when it was measured."""
    default = f"onnx_{entry.get('default_variant', 'int8')}"
    if default in results:
        confusion_png(results[default]["confusion"], path,
                      f"tinycats classifier ({default.replace('_', ' ')}), official test split")


def manifest_metrics(results: dict[str, Any]) -> dict[str, Any]:
    """What the manifest entry keeps of ``results``: MANIFEST_FIGURES of every model, and
    DETAIL_FIGURES of those measured at full size."""
    def kept(name: str) -> tuple[str, ...]:
        full_size = "_from_" not in name and "_degraded_" not in name
        return MANIFEST_FIGURES + (DETAIL_FIGURES if full_size else ())

    return {"split": "oxford-test", **{k: {m: v[m] for m in kept(k)} for k, v in results.items()}}

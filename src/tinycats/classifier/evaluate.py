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
- ``confusion``: rows are true labels, columns predicted labels (13 x 13, label-id order).

Test images are the prepared cache at the model's input size: the same resize-shorter-side +
centre-crop as the runtimes (tinycats.data.images.square_resize), decoded once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tinycats.breeds import BREEDS, CLASSIFIER_LABELS, NUM_BREEDS, NUM_CLASSIFIER_LABELS, OTHER_ID
from tinycats.runtime.classify import OTHER_THRESHOLD, decide

ECE_BINS = 15


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


def metrics(probs: np.ndarray, labels: np.ndarray,
            other_threshold: float = OTHER_THRESHOLD) -> dict[str, Any]:
    """All the numbers of one model on one split (definitions in the module docstring)."""
    labels = labels.astype(np.int64)
    pred = decide(probs, OTHER_ID, other_threshold)
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

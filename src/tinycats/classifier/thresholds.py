"""The two decision thresholds of the shipped classifier, chosen on the validation split.

The exported probabilities are calibrated (temperature scaling inside the ONNX softmax), so a
threshold on them means what it says. Both are chosen once, at export, on the validation
probabilities of the file the runtimes use by default, and stored in the manifest entry; the CLI
and the browser read them from there (``tinycats.runtime.classify.decide`` / ``unsure``).

- ``other_threshold``: "not a cat" when P(other) reaches it. Calibration sharpens the
  probabilities, so the uncalibrated rule's 0.5 no longer sits where cats and dogs separate: the
  threshold with the best cat-vs-other accuracy on validation is taken, ties going to the one
  nearest 0.5 (the middle of the widest run of equally good values would be as defensible; the
  validation split has too few dogs to tell them apart).
- ``unsure_below``: an answer whose probability is under it is "unsure" and shown as the top 3.
  It is the lowest threshold at which the answers kept are right at least ``SURE_ACCURACY`` of
  the time on validation: as few unsure answers as that promise allows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinycats.breeds import OTHER_ID
from tinycats.runtime.classify import OTHER_THRESHOLD, decide

#: the accuracy the app's confident answers promise (on validation)
SURE_ACCURACY = 0.95
#: candidate thresholds (a 0.01 grid: finer would fit noise on ~230 validation images)
GRID = np.round(np.arange(0.05, 1.0, 0.01), 2)


def choose_other_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """The P(other) threshold with the best cat-vs-other accuracy on (probs, labels)."""
    is_other = labels == OTHER_ID
    acc = np.array([((probs[:, OTHER_ID] >= t) == is_other).mean() for t in GRID])
    best = np.flatnonzero(acc == acc.max())
    return float(GRID[best[np.argmin(np.abs(GRID[best] - OTHER_THRESHOLD))]])


def choose_unsure_below(probs: np.ndarray, labels: np.ndarray, other_threshold: float,
                        sure_accuracy: float = SURE_ACCURACY) -> float:
    """The lowest threshold on the decided label's probability at which the answers at or
    above it are right at least ``sure_accuracy`` of the time."""
    top = decide(probs, OTHER_ID, other_threshold)
    conf = probs[np.arange(len(top)), top]
    right = top == labels
    for t in GRID:
        kept = conf >= t
        if kept.any() and right[kept].mean() >= sure_accuracy:
            return float(t)
    return float(GRID[-1])


def choose(probs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Both thresholds and what they give on the split they were chosen on."""
    labels = labels.astype(np.int64)
    other = choose_other_threshold(probs, labels)
    below = choose_unsure_below(probs, labels, other)
    top = decide(probs, OTHER_ID, other)
    sure = probs[np.arange(len(top)), top] >= below
    return {"other_threshold": other, "unsure_below": below,
            "chosen_on": {"split": "val", "images": len(labels),
                          "other_images": int((labels == OTHER_ID).sum()),
                          "sure_accuracy_target": SURE_ACCURACY,
                          "unsure_share": round(float(1 - sure.mean()), 4),
                          "sure_accuracy": round(float((top == labels)[sure].mean()), 4)
                          if sure.any() else None}}

"""The decision thresholds of the shipped classifier, stored in its manifest entry at export;
the CLI and the browser read them from there (``tinycats.runtime.classify.decide`` / ``unsure``).

The exported probabilities are calibrated (temperature scaling inside the ONNX softmax), so a
threshold on them means what it says.

- ``other_threshold`` stays 0.5: "not a cat" when P(other) >= P(some cat). On calibrated
  probabilities that is the rule with the fewest expected cat-vs-other errors, and it needs no
  fitting. Fitting it was tried: the validation split holds 51 dogs, and the threshold with the
  best validation accuracy (0.21, set by two dogs) called more test cats "not a cat" than 0.5.
- ``unsure_below``: an answer whose probability is under it is "unsure" and shown as the top 3.
  Chosen on the validation probabilities of the file the runtimes use by default: the lowest
  threshold at which the answers kept are right at least ``SURE_ACCURACY`` of the time, as few
  unsure answers as that promise allows.
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
    """Both thresholds and what they give on the split ``unsure_below`` was chosen on."""
    labels = labels.astype(np.int64)
    other = OTHER_THRESHOLD
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

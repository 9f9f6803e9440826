"""The "unsure" rule the runtimes apply and its figures in the evaluation, on probabilities made
so that the right answer is known."""

from __future__ import annotations

import numpy as np

from tinycats.breeds import OTHER_ID
from tinycats.classifier.evaluate import metrics
from tinycats.runtime.classify import decide, unsure


def probs_for(labels: list[int], confidence: list[float], guess: list[int]) -> np.ndarray:
    """Rows giving ``guess`` the probability ``confidence``, the rest spread evenly."""
    p = np.zeros((len(labels), 13))
    for i, (c, g) in enumerate(zip(confidence, guess, strict=True)):
        p[i] = (1 - c) / 12
        p[i, g] = c
    return p


def test_unsure_marks_answers_under_the_threshold_and_never_without_one() -> None:
    p = probs_for([0, 1], [0.9, 0.4], [0, 1])
    top = decide(p, OTHER_ID)
    assert unsure(p, top, 0.5).tolist() == [False, True]
    assert unsure(p, top, None).tolist() == [False, False]
    m = metrics(p, np.array([0, 2]), unsure_below=0.5)
    assert m["unsure"] == 0.5 and m["top1_all_when_sure"] == 1.0
    assert metrics(p, np.array([0, 2]))["unsure"] == 0.0

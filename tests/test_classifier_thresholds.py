"""The classifier's decision thresholds (chosen on validation at export) and the "unsure" rule
the runtimes apply, on probabilities made so that the right answer is known."""

from __future__ import annotations

import numpy as np

from tinycats.breeds import OTHER_ID
from tinycats.classifier import thresholds as th
from tinycats.classifier.evaluate import metrics
from tinycats.runtime.classify import decide, unsure


def probs_for(labels: list[int], confidence: list[float], guess: list[int]) -> np.ndarray:
    """Rows giving ``guess`` the probability ``confidence``, the rest spread evenly."""
    p = np.zeros((len(labels), 13))
    for i, (c, g) in enumerate(zip(confidence, guess, strict=True)):
        p[i] = (1 - c) / 12
        p[i, g] = c
    return p


def test_unsure_below_is_the_lowest_threshold_keeping_the_promised_accuracy() -> None:
    # 20 answers: right above 0.6, wrong below (0.3-0.55): the sure ones are all right only
    # from 0.56 up; at 0.05 only 10/20 are right
    conf = [0.3, 0.35, 0.4, 0.45, 0.5, 0.52, 0.53, 0.54, 0.55, 0.55] + [0.6 + 0.03 * i
                                                                      for i in range(10)]
    labels = list(range(10)) + list(range(10))
    guess = [(i + 1) % 10 for i in range(10)] + list(range(10))
    p = probs_for(labels, conf, guess)
    y = np.array(labels)
    below = th.choose_unsure_below(p, y, 0.5, sure_accuracy=1.0)
    assert 0.55 < below <= 0.6
    assert th.choose_unsure_below(p, y, 0.5, sure_accuracy=0.5) == th.GRID[0]
    chosen = th.choose(p, y)
    assert chosen["other_threshold"] == 0.5  # the calibrated Bayes rule, not fitted
    assert chosen["chosen_on"]["sure_accuracy"] >= th.SURE_ACCURACY
    assert chosen["chosen_on"]["images"] == 20


def test_unsure_marks_answers_under_the_threshold_and_never_without_one() -> None:
    p = probs_for([0, 1], [0.9, 0.4], [0, 1])
    top = decide(p, OTHER_ID)
    assert unsure(p, top, 0.5).tolist() == [False, True]
    assert unsure(p, top, None).tolist() == [False, False]
    m = metrics(p, np.array([0, 2]), unsure_below=0.5)
    assert m["unsure"] == 0.5 and m["top1_all_when_sure"] == 1.0
    assert metrics(p, np.array([0, 2]))["unsure"] == 0.0

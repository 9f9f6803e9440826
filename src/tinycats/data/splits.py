"""Deterministic, stratified validation carve-out from the official trainval split."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

VAL_FRACTION = 0.15


def _rank(name: str) -> str:
    # A hash of the name, not a RNG: the same image lands in the same split on every machine and
    # stays there when other images are added.
    return hashlib.sha1(name.encode()).hexdigest()


def carve_validation(names: Sequence[str], labels: Sequence[str],
                     fraction: float = VAL_FRACTION) -> set[str]:
    """Names chosen for validation: ``round(fraction * n)`` per label (at least 1 when n >= 2)."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for n, lab in zip(names, labels, strict=True):
        by_label[lab].append(n)
    chosen: set[str] = set()
    for members in by_label.values():
        k = round(fraction * len(members))
        if len(members) >= 2:
            k = max(k, 1)
        chosen.update(sorted(members, key=_rank)[:k])
    return chosen

"""Classifier data: prepared caches -> uint8 tensors per split; balanced batches from (seed, step).

Training images come from every source in the recipe (train split only for folders, which have
no other split); validation and test are the Oxford ones, so numbers stay comparable whatever
extra folders are added. Cache label ids 0..12 are the classifier label ids (cache.LABEL_KEYS
starts with them); unlabeled ``any_cat`` images have no breed and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinycats.breeds import CLASSIFIER_LABELS, NUM_CLASSIFIER_LABELS
from tinycats.data import cache
from tinycats.data.augment import nhwc_to_nchw
from tinycats.data.sources import load_registry
from tinycats.errors import TinycatsError


class ClassifierDataError(TinycatsError):
    pass


@dataclass
class LabeledImages:
    images: torch.Tensor  # (N, 3, S, S) uint8
    labels: torch.Tensor  # (N,) int64 classifier label ids

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def counts(self) -> dict[str, int]:
        c = torch.bincount(self.labels, minlength=NUM_CLASSIFIER_LABELS).tolist()
        return {lab.key: int(c[lab.id]) for lab in CLASSIFIER_LABELS}


def from_arrays(images: np.ndarray, labels: np.ndarray) -> LabeledImages:
    return LabeledImages(nhwc_to_nchw(images), torch.from_numpy(labels.astype(np.int64)))


def load_split(root: Path, sources: list[str], size: int, split: str) -> LabeledImages:
    """Images of ``split`` from ``sources`` at cache size ``size`` (classifier labels only)."""
    registry = load_registry(root)
    unknown = [s for s in sources if s not in registry]
    if unknown:
        raise ClassifierDataError(
            f"source(s) {', '.join(unknown)} are not registered in {root} "
            f"(registered: {', '.join(sorted(registry)) or 'none'}); add them with "
            "tinycats data fetch / tinycats data add, or remove them from the recipe")
    xs, ys = [], []
    for name in sources:
        cs = cache.load(root, name, size, mmap=True)
        keep = (cs.splits == cache.SPLITS.index(split)) & (cs.labels < NUM_CLASSIFIER_LABELS)
        if keep.any():
            xs.append(np.asarray(cs.images[keep]))
            ys.append(cs.labels[keep])
    if not xs:
        raise ClassifierDataError(f"no {split} images in sources {', '.join(sources)}")
    return from_arrays(np.concatenate(xs), np.concatenate(ys))


def sample_weights(labels: torch.Tensor, balance: float) -> torch.Tensor:
    """Per-image draw weights ``count(label) ** -balance`` (class balancing by sampling)."""
    counts = torch.bincount(labels, minlength=NUM_CLASSIFIER_LABELS).double()
    return counts[labels].pow(-balance)


def draw_indices(weights: torch.Tensor, batch: int, seed: int, step: int
                 ) -> tuple[torch.Tensor, torch.Generator]:
    """Indices of the global batch of ``step`` and the generator that drew them (the caller
    draws the augmentation from it too): a batch depends on (seed, step) only."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.multinomial(weights, batch, replacement=True, generator=g), g

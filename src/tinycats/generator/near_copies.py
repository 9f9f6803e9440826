"""Near-copies while training: how many of the EMA model's samples copy a training crop.

The evaluation's memorisation figure (generator/evaluate.py: ``memorisation_figures``), measured
on a fixed set of noise every ``train.track_every`` steps: the share of samples closer to a
labelled training crop (or its mirror) than the 5th percentile of the held-out test crops are.
A GPU run of this model once turned 99.7% of its samples into copies of its crops; this figure,
in ``metrics.jsonl`` and the log, says when a run starts down that road, and with
``train.keep_tracked_ema`` the EMA weights saved at each measurement let one export the last
checkpoint before it (``tinycats export generator --checkpoint <run>/ema-step<N>.pt``).

The cut comes from the test crops when the data folder has them; a data pack for a GPU box
holds train/val crops only, so ``tinycats data pack-generator`` records the cut it measured
(``near_copy_cut`` in the pack's Oxford manifest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinycats.breeds import NUM_BREEDS
from tinycats.data import cache
from tinycats.generator.crops import Crop
from tinycats.generator.evaluate import load_real_sets, near_copy_cut_of, nearest_distances

#: the key a data pack's Oxford manifest keeps the cut under
CUT_KEY = "near_copy_cut"
#: the noise of the tracked samples: the same at every measurement, apart from the training's
TRACK_SEED = 20_261_207


def near_copy_cut(root: Path, size: int, crop: Crop) -> float | None:
    """The evaluation's cut, from the test crops of ``root``, or the value a data pack
    recorded; None when neither exists."""
    real = load_real_sets(root, size, crop)
    if len(real.test):
        return near_copy_cut_of(nearest_distances(real.test, real.train))
    manifest = json.loads((cache.cache_path(root, "oxford", size) / "manifest.json").read_text())
    cut = manifest.get(CUT_KEY)
    return None if cut is None else float(cut)


@dataclass
class NearCopyTracker:
    train: np.ndarray  # (N, S, S, 3) uint8: the labelled crops the run trains on
    cut: float
    samples: int  # per measurement, the breeds in turn

    def labels(self) -> torch.Tensor:
        """The classes of the tracked samples: every breed in turn."""
        return torch.arange(self.samples) % NUM_BREEDS

    def measure(self, images: np.ndarray) -> dict[str, float]:
        """The share of ``images`` (B, S, S, 3) uint8 closer to a training crop than the cut,
        and their median distance."""
        dist = nearest_distances(images, self.train)
        return {"near_copies": round(float((dist < self.cut).mean()), 4),
                "near_copy_distance_median": round(float(np.median(dist)), 4)}

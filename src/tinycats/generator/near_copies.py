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
from typing import Any, cast

import numpy as np
import torch

from tinycats.breeds import NULL_ID, NUM_BREEDS
from tinycats.data import cache
from tinycats.generator import flow
from tinycats.generator.config import GeneratorConfig
from tinycats.generator.crops import Crop, load_cropped_oxford
from tinycats.generator.dit import TinyDiT, one_hot
from tinycats.generator.evaluate import nearest_distances
from tinycats.grid import to_uint8

#: the key a data pack's Oxford manifest keeps the cut under
CUT_KEY = "near_copy_cut"
#: the noise of the tracked samples: the same at every measurement, apart from the training's
TRACK_SEED = 20_261_207


def near_copy_cut(root: Path, size: int, crop: Crop) -> float | None:
    """The 5th percentile of the test crops' distances to their nearest training crop (the
    evaluation's definition), or the value a data pack recorded; None when neither exists."""
    ox = load_cropped_oxford(root, size, crop)
    cats = ox.labels < NUM_BREEDS
    test = cats & (ox.splits == cache.SPLITS.index("test"))
    if test.any():
        train = np.asarray(ox.images[cats & ~test])
        return float(np.percentile(nearest_distances(np.asarray(ox.images[test]), train), 5))
    manifest = json.loads((cache.cache_path(root, "oxford", size) / "manifest.json").read_text())
    cut = manifest.get(CUT_KEY)
    return None if cut is None else float(cut)


@dataclass
class NearCopyTracker:
    train: np.ndarray  # (N, S, S, 3) uint8: the labelled crops the run trains on
    cut: float
    samples: int  # per measurement, the breeds in turn

    def measure(self, model: TinyDiT, cfg: GeneratorConfig, device: torch.device
                ) -> dict[str, float]:
        """``samples`` samples of ``model`` with the recipe's sampler settings on fixed noise:
        the share closer to a training crop than the cut, and their median distance."""
        labels = torch.arange(self.samples) % NUM_BREEDS
        s = self.train.shape[1]
        g = torch.Generator().manual_seed(TRACK_SEED)
        noise = torch.randn(self.samples, 3, s, s, generator=g).to(device)
        y = one_hot(labels).to(device)
        y_null = one_hot(torch.full_like(labels, NULL_ID)).to(device)
        sc = cfg.sampler
        with torch.no_grad():
            x = flow.sample(model, noise, y, y_null, steps=sc.steps, cfg_scale=sc.cfg_scale,
                            prediction=cast(Any, cfg.prediction), solver=cast(Any, sc.solver),
                            shift=sc.shift)
        imgs = to_uint8(x.float().cpu().numpy())
        dist = nearest_distances(imgs, self.train)
        return {"near_copies": round(float((dist < self.cut).mean()), 4),
                "near_copy_distance_median": round(float(np.median(dist)), 4)}

"""Do random resized crops from the photos (``data.crop_views``) slow memorisation down?

A proxy small enough to run twice in an hour: the recipe's model, sampler and batch, trained on
only 4 labelled face crops per breed (48 photos, so each is drawn about once per step, the rate at
which the full run reaches ~2,000 passes per crop by step 30,000) plus the unlabeled faces, once
as the crops themselves and once as 8 views each. Every 250 steps the near-copy tracker measures
64 EMA samples against the 48 crops (the evaluation's cut, from the test crops); the kept EMAs
are then also measured against every view, since a model could copy a view rather than the crop.

    TINYCATS_DATA=<data> python reports/generator-2026-12-08-views/proxy.py <arm> <run-dir> \
        [steps] [threads]

arm: "crops" or "views"; the two arms ran side by side with one thread each. Prints one JSON
line per tracked step.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from tinycats.config import from_dict
from tinycats.generator.config import GeneratorConfig
from tinycats.generator.data import load_gen_data
from tinycats.generator.evaluate import nearest_distances
from tinycats.generator.near_copies import TRACK_SEED, near_copy_cut
from tinycats.generator.train import draw_samples, load_generator, train

PER_BREED = 4


def main() -> None:
    arm, run_dir = sys.argv[1], Path(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 1600
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    root = Path(os.environ["TINYCATS_DATA"])
    recipe = yaml.safe_load(Path("configs/generator.yaml").read_text())
    recipe["data"]["crop_views"] = 8 if arm == "views" else 0
    recipe["train"].update(steps=steps, warmup=min(100, steps // 2), max_minutes=None,
                           track_every=min(250, steps), track_samples=64, keep_tracked_ema=True,
                           sample_every=0, ckpt_every=250, threads=threads)
    cfg = from_dict(GeneratorConfig, recipe)
    full = load_gen_data(root, dataclasses.replace(cfg.data, crop_views=8))
    labels = full.labels.numpy()
    keep = np.concatenate([np.flatnonzero(labels == b)[:PER_BREED] for b in range(12)])
    data = dataclasses.replace(full, images=full.images[keep], labels=full.labels[keep],
                               views=full.views[keep] if arm == "views" else None)
    cut = near_copy_cut(root, cfg.data.size, cfg.data.crop_spec())
    train(cfg, data, run_dir, near_copy_cut=cut)

    crops = full.images[keep].permute(0, 2, 3, 1).numpy()
    views = full.views[keep].permute(0, 1, 3, 4, 2).reshape(-1, *crops.shape[1:]).numpy()
    for path in sorted(run_dir.glob("ema-step*.pt")):
        model, mcfg = load_generator(path)
        imgs = draw_samples(model, mcfg, torch.arange(64) % 12, TRACK_SEED, torch.device("cpu"))
        d_crop, d_view = nearest_distances(imgs, crops), nearest_distances(imgs, views)
        print(json.dumps({"arm": arm, "step": int(path.stem[-6:]), "cut": round(cut, 4),
                          "near_copies_of_crops": float((d_crop < cut).mean()),
                          "near_copies_of_views": float((d_view < cut).mean()),
                          "median_to_crop": round(float(np.median(d_crop)), 4),
                          "median_to_view": round(float(np.median(d_view)), 4)}), flush=True)


if __name__ == "__main__":
    main()

"""Experiment: how much breed information survives at the resolutions a generator could work at?

The generator's breed accuracy is measured by the shipped classifier on 64 px samples, so real
cats at the same resolution set its ceiling. Each Oxford test cat (the generator's FID
reference: the 64 px centre crop) is box-downscaled to ``--size`` px and bilinearly upscaled
back to 64 px (as a smaller generator's output would be shown), then classified. Prints the
mean over the 12 breeds of per-breed top-1 (the same statistic as ``tinycats eval generator``)
and the share called "other".

    TINYCATS_DATA=... python scripts/experiments/classifier_at_resolution.py [--size 32 ...]

Needs `tinycats data prepare --size 64`. A measurement for docs/decisions/0005, not a command.
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from tinycats.breeds import BREEDS
from tinycats.cli.common import resolve_data_dir
from tinycats.data.cam_crops import Crop
from tinycats.generator.evaluate import real_sets
from tinycats.paths import shipped_models_dir
from tinycats.runtime.classify import Classifier


def at_resolution(images: np.ndarray, size: int) -> np.ndarray:
    if size == images.shape[1]:
        return images
    side = images.shape[1]
    return np.stack([np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.BOX)
                                .resize((side, side), Image.Resampling.BILINEAR))
                     for a in images])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, action="append", help="resolutions (default 64 48 32)")
    args = ap.parse_args()
    model_dir = shipped_models_dir()
    clf = Classifier(model_dir / "manifest.json")
    test, labels, _ = real_sets(resolve_data_dir(None), 64, Crop("centre"), model_dir)
    for size in args.size or [64, 48, 32]:
        pred = clf.predict(at_resolution(test, size)).argmax(1)
        acc = np.mean([(pred[labels == b.id] == b.id).mean() for b in BREEDS])
        print(f"{size:3d} px: breeds {acc:.1%}  'other' {(pred == clf.other_id).mean():.1%}  "
              f"({len(test)} test cats, classifier {clf.variant})")


if __name__ == "__main__":
    main()

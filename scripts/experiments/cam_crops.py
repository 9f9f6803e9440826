"""Experiment: could the generator learn from "CAM crops" (cats zoomed on what the classifier
looks at) instead of full centre crops, and would the classifier still know the breed at 64 px?

For each Oxford test cat (224 px cache): the shipped classifier's class maps, weighted by its
breed probabilities, give a class-agnostic map; a square of ``zoom`` x the image side is cut
around the map's peak and downscaled to 64 px, then classified again (the generator's breed
accuracy is measured the same way: 64 px in, classifier upscales). Prints top-1 (12 breeds) for
the full image at 224 and 64 px and for each zoom, and writes a contact sheet per zoom.

    TINYCATS_DATA=... python scripts/experiments/cam_crops.py [--zoom 0.5 --zoom 0.65]

Needs `tinycats data prepare --size 224`. Not a product command: a measurement for the data
choice in docs/decisions/0005 (the crop itself is the product's, data/cam_crops.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from tinycats.breeds import NUM_BREEDS
from tinycats.cli.common import resolve_data_dir
from tinycats.data import cache
from tinycats.data.cam_crops import agnostic_maps, cam_crop, downscale
from tinycats.paths import shipped_models_dir
from tinycats.runtime.classify import Classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zoom", type=float, action="append")
    ap.add_argument("--out", type=Path, default=Path("/tmp/cam-crops"))
    args = ap.parse_args()
    zooms = args.zoom or [0.5, 0.65, 0.8]
    ox = cache.load(resolve_data_dir(None), "oxford", 224, mmap=True)
    keep = (ox.splits == cache.SPLITS.index("test")) & (np.asarray(ox.labels) < NUM_BREEDS)
    imgs, labels = np.asarray(ox.images)[keep], np.asarray(ox.labels)[keep]
    clf = Classifier(shipped_models_dir() / "manifest.json")
    probs, cams = clf.run(imgs, with_cam=True)
    assert cams is not None

    def top1(p: np.ndarray) -> str:
        pred = p.argmax(1)
        return f"top-1 {np.mean(pred == labels):.1%}, 'other' {np.mean(pred == clf.other_id):.1%}"

    print(f"{len(imgs)} test cats, classifier {clf.variant}")
    print(f"full image, 224 px: {top1(probs)}")
    print(f"full image, 64 px:  {top1(clf.predict(np.stack([downscale(a, 64) for a in imgs])))}")
    agnostic = agnostic_maps(probs, cams)
    args.out.mkdir(parents=True, exist_ok=True)
    for z in zooms:
        crops = np.stack([downscale(cam_crop(a, m, z), 64)
                          for a, m in zip(imgs, agnostic, strict=True)])
        print(f"CAM crop, zoom {z:g}, 64 px: {top1(clf.predict(crops))}")
        rows = [np.concatenate(list(crops[i:i + 12]), 1) for i in range(0, 96, 12)]
        Image.fromarray(np.concatenate(rows, 0)).save(args.out / f"zoom{z:g}.png")
    print(f"contact sheets: {args.out}")


if __name__ == "__main__":
    main()

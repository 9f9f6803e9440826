"""Experiment: does OpenCV's cat-face detector find the cats' faces in the Oxford photos, and does
the classifier still know the breed on 64 px face crops?

Uses the product's detector and crop (tinycats.data.face_crops, detections cached on first use).
Prints (1) the share of cat photos per breed with a detected face; (2) on the photos that have an
Oxford head box (annotations/xmls, a few breeds only), how much of the detected face box lies
inside the head box and the head/face side ratio; (3) the shipped classifier's top-1 (12 breeds,
mean over breeds) on 64 px crops of ``margin`` x the face box of the test cats with a face, as in
the generator's evaluation (64 px in, the classifier upscales). Writes a contact sheet per margin.

    TINYCATS_DATA=... python scripts/experiments/face_crops.py [--margin 1.5 --margin 1.8]

Not a product command: a measurement for the data choice in docs/decisions/0005.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from tinycats.breeds import BREEDS, NUM_BREEDS
from tinycats.cli.common import resolve_data_dir
from tinycats.data import cache
from tinycats.data.face_crops import face_crop, load_detections, oxford_head_box
from tinycats.data.images import open_rgb
from tinycats.paths import shipped_models_dir
from tinycats.runtime.classify import Classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--margin", type=float, action="append")
    ap.add_argument("--out", type=Path, default=Path("/tmp/face-crops"))
    args = ap.parse_args()
    margins = args.margin or [1.2, 1.5, 1.8, 2.2]
    root = resolve_data_dir(None)
    boxes = load_detections(root)
    ox = cache.load(root, "oxford", 64, mmap=True)
    src = Path(json.loads((cache.cache_path(root, "oxford", 64) / "manifest.json").read_text())
               ["source_path"])
    label = dict(zip(ox.names, np.asarray(ox.labels).tolist(), strict=True))
    split = dict(zip(ox.names, np.asarray(ox.splits).tolist(), strict=True))

    print("photos with a detected face, per breed:")
    for b in BREEDS:
        names = [n for n in boxes if label[n] == b.id]
        print(f"  {b.display:18s} {sum(boxes[n] is not None for n in names):4d} / {len(names)}")
    found = sum(v is not None for v in boxes.values())
    print(f"  {'all':18s} {found:4d} / {len(boxes)} ({found / len(boxes):.1%})")

    inside, ratio = [], []
    # the product's reading of the head boxes: scaled to the re-encoded photos (session 11; before
    # that this script compared unscaled xml boxes, which skewed the figures for smaller photos)
    heads = {n: hb for n in boxes if (hb := oxford_head_box(src, n)) is not None}
    for name, (x0, y0, x1, y1) in heads.items():
        box = boxes[name]
        if box is None:
            continue
        x, y, w, h = box
        ix = max(0, min(x + w, x1) - max(x, x0))
        iy = max(0, min(y + h, y1) - max(y, y0))
        inside.append(ix * iy / (w * h))
        ratio.append(((x1 - x0) * (y1 - y0)) ** 0.5 / w)
    if inside:
        a = np.array(inside)
        print(f"head boxes: {len(heads)} cat photos, {len(a)} with a face; face box inside the "
              f"head box: median {np.median(a):.2f}, >= 80% inside for {np.mean(a >= 0.8):.1%}; "
              f"head side / face side median {np.median(ratio):.2f}")

    clf = Classifier(shipped_models_dir() / "manifest.json")
    test = [n for n in boxes if boxes[n] is not None and split[n] == cache.SPLITS.index("test")
            and label[n] < NUM_BREEDS]
    labels = np.array([label[n] for n in test])
    photos = {n: open_rgb(src / "images" / f"{n}.jpg") for n in test}
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"classifier top-1 on 64 px face crops of the {len(test)} test cats with a face:")
    for m in margins:
        crops = np.stack([face_crop(photos[n], boxes[n], m, 64) for n in test])  # type: ignore[arg-type]
        pred = clf.predict(crops).argmax(1)
        per = [float((pred[labels == b.id] == b.id).mean()) for b in BREEDS]
        print(f"  margin {m:g}: mean {np.mean(per):.1%}  " +
              " ".join(f"{b.key[:4]} {p:.0%}" for b, p in zip(BREEDS, per, strict=True)))
        sheet = Image.new("RGB", (64 * 16, 64 * 4))
        for i, c in enumerate(crops[:64]):
            sheet.paste(Image.fromarray(c), (64 * (i % 16), 64 * (i // 16)))
        sheet.save(args.out / f"faces-m{m:g}.png")
    print(f"contact sheets: {args.out}")


if __name__ == "__main__":
    main()

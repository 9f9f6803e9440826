"""How far pseudo-labels for the unlabelled cat faces could be trusted: the shipped classifier
(int8, calibrated) on the held-out Oxford test face crops at 64 px (precision and coverage per
confidence threshold), and on the 15,747 unlabelled faces (how many it would label, per breed).

    cd reports/generator-pseudo-labels && TINYCATS_DATA=<data> python measure.py > measured.json

Not part of tinycats: evidence for docs/history.md. Precision on Oxford crops overstates it on
the unlabelled faces, which are mostly domestic cats of no breed: a closed-set classifier gives
every such face one of its 12 breeds.
"""

import json
import os
import time
from pathlib import Path

import numpy as np

from tinycats.breeds import BREEDS, NUM_BREEDS
from tinycats.data import cache
from tinycats.data.sources import load_registry
from tinycats.generator.crops import Crop
from tinycats.generator.evaluate import load_real_sets
from tinycats.runtime.classify import Classifier

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)
root = Path(os.environ["TINYCATS_DATA"])
clf = Classifier(Path(__file__).resolve().parents[2] / "web/public/models/manifest.json")
t0 = time.time()
real = load_real_sets(root, 64, Crop("face", 1.8))
p_test = clf.predict(real.test)
faces = np.concatenate([np.asarray(cache.load(root, s.name, 64, mmap=True).images)
                        for s in load_registry(root).values() if s.label == "any_cat"])
p_faces = clf.predict(faces)


def breed_choice(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The most probable breed and its probability (the "other" column left out)."""
    b = p[:, :NUM_BREEDS]
    return b.argmax(1), b.max(1)


out = {"classifier": f"shipped {clf.variant}", "test_crops": len(real.test),
       "unlabelled_faces": len(faces), "by_threshold": {}}
tb, tc = breed_choice(p_test)
fb, fc = breed_choice(p_faces)
for th in THRESHOLDS:
    kept = tc >= th
    right = tb[kept] == real.test_labels[kept]
    per_breed = {b.key: int(((fc >= th) & (fb == b.id)).sum()) for b in BREEDS}
    out["by_threshold"][str(th)] = {
        "test_coverage": round(float(kept.mean()), 4),
        "test_precision": round(float(right.mean()) if kept.any() else 0.0, 4),
        "test_precision_per_breed": {b.key: round(float(right[real.test_labels[kept] == b.id]
                                                        .mean()), 3)
                                     for b in BREEDS if (real.test_labels[kept] == b.id).any()},
        "faces_labelled": int((fc >= th).sum()),
        "faces_labelled_per_breed": per_breed}
out["seconds"] = round(time.time() - t0, 1)
print(json.dumps(out, indent=2))

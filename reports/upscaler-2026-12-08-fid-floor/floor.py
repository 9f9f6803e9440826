"""How low can FID at 128 px go against the Oxford test face crops? Other real face crops (the
train + val ones, never seen by the reference) scored against them by the same Inception as
`tinycats eval upscaler`, beside bicubic 64 -> 128 of the test crops themselves (hand-called):

    TINYCATS_DATA=<data> python floor.py
"""
import json
import os
from pathlib import Path

import numpy as np

from tinycats.breeds import NUM_BREEDS
from tinycats.data import cache
from tinycats.generator.evaluate import Inception, fid
from tinycats.generator.face_crops import load_face_crops
from tinycats.upscaler.evaluate import bicubic_upscale, half_size

root = Path(os.environ["TINYCATS_DATA"])
fc = load_face_crops(root, 128, 1.8)
cats = fc.labels < NUM_BREEDS
test = np.asarray(fc.images[cats & (fc.splits == cache.SPLITS.index("test"))])
other = np.asarray(fc.images[cats & (fc.splits != cache.SPLITS.index("test"))])
inc = Inception()
ref = inc.features(test)
out = {"test_faces": len(test), "train_val_faces": len(other),
       "fid_train_val_faces": round(fid(inc.features(other), ref), 2),
       "fid_bicubic_of_test_faces": round(fid(inc.features(bicubic_upscale(half_size(test))), ref), 2)}
print(json.dumps(out, indent=1))
Path(__file__).with_name("floor.json").write_text(json.dumps(out, indent=1) + "\n")

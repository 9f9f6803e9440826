"""Is a frozen ImageNet backbone a strong enough teacher for the classifier? A linear probe on
whole Oxford photos, scored on the official test split's cats (an experiment, not part of
tinycats; the second judge's features and probe: generator/judge.py).

    TINYCATS_DATA=<data> python reports/classifier-2026-12-07-teacher-probe/probe.py [lite2]

Features: the prepared 256 px cache (each photo's centre square), resized bicubically to the
backbone's own size (Lite2: 260 px), pooled; each photo and its mirror image. The probe's l2 is
chosen on a per-breed 20% hold-out of train+val (unmirrored), then refitted on all of train+val
with the mirrored copies. Test: top-1 over the 12 breeds, and with the mirrored view's logits
added (flip test-time augmentation).
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tinycats.breeds import NUM_BREEDS
from tinycats.data import cache
from tinycats.generator.judge import FeatureNet, choose_l2, fit_softmax, mean_breed_accuracy

variant = sys.argv[1] if len(sys.argv) > 1 else "lite2"
root = Path(os.environ.get("TINYCATS_DATA", Path.home() / ".cache" / "tinycats"))
torch.set_num_threads(2)
ph = cache.load(root, "oxford", 256, mmap=True)
keep = ph.labels < NUM_BREEDS
imgs, labels, splits = np.asarray(ph.images[keep]), ph.labels[keep], ph.splits[keep]
net = FeatureNet(variant)
feats = root / "cache" / f"teacher-probe-{variant}.npz"
if feats.exists():
    f, ff = np.load(feats)["f"], np.load(feats)["ff"]
else:
    t0 = time.time()
    f, ff = net.features(imgs), net.features(imgs[:, :, ::-1].copy())
    print(f"features of {2 * len(imgs)} views in {time.time() - t0:.0f} s")
    np.savez(feats, f=f, ff=ff)
test = splits == cache.SPLITS.index("test")
mu, sd = f[~test].mean(0), f[~test].std(0) + 1e-6
x, xf = (f - mu) / sd, (ff - mu) / sd
l2, scores = choose_l2(x[~test], labels[~test])
w, b = fit_softmax(np.concatenate([x[~test], xf[~test]]),
                   np.concatenate([labels[~test], labels[~test]]), l2)
logits, logits_f = x[test] @ w.T + b, xf[test] @ w.T + b
result = {
    "backbone": variant, "input_px": net.input_size, "l2": l2, "holdout": scores,
    "train_val_photos": int((~test).sum()), "test_photos": int(test.sum()),
    "test_top1": round(float((logits.argmax(1) == labels[test]).mean()), 4),
    "test_top1_flip_tta": round(float(((logits + logits_f).argmax(1) == labels[test]).mean()), 4),
    "test_mean_per_breed": round(mean_breed_accuracy(logits.argmax(1), labels[test]), 4)}
print(json.dumps(result, indent=1))

"""Top-1 over the 12 breeds of the official test split for the classifier runs in PyTorch and for
averages of their calibrated probabilities, each also with a mirrored copy of every image
(hand-called: does an ensemble make a teacher worth distilling toward the 93% target?):

    TINYCATS_DATA=<data> python measure.py

Runs: `classifier` (the shipped student, EfficientNet-Lite0 at 224 px), `classifier-patient` (the
same recipe trained longer, not shipped), `classifier-teacher` (EfficientNet-Lite2 at 256 px,
configs/classifier-teacher.yaml). Writes measured.json here."""
import json, sys
from pathlib import Path
import numpy as np
from tinycats.cli.classifier_cmds import _test_images
from tinycats.classifier.evaluate import metrics
from tinycats.classifier.train import load_classifier
from tinycats.export.classifier_onnx import run_torch
import os
root = Path(os.environ["TINYCATS_DATA"])
runs = {"student": ("classifier", 224), "patient": ("classifier-patient", 224), "teacher": ("classifier-teacher", 256)}
probs, labels = {}, None
for name, (run, size) in runs.items():
    test = _test_images(root, size)
    model, _ = load_classifier(root / "runs" / run / "model.pt")
    p, _ = run_torch(model, test.images)
    pf, _ = run_torch(model, test.images[:, :, ::-1].copy())
    probs[name], probs[name + "+flip"] = p, (p + pf) / 2
    labels = test.labels
    print(name, round(metrics(p, labels)["top1_breeds"], 4), "flip", round(metrics((p + pf) / 2, labels)["top1_breeds"], 4), flush=True)
out = {k: metrics(v, labels)["top1_breeds"] for k, v in probs.items()}
for combo in [("student", "teacher"), ("patient", "teacher"), ("student", "patient", "teacher"), ("student+flip", "teacher+flip"), ("student+flip", "patient+flip", "teacher+flip")]:
    p = np.mean([probs[c] for c in combo], 0)
    out["+".join(combo)] = metrics(p, labels)["top1_breeds"]
    print(combo, round(out["+".join(combo)], 4), flush=True)
json.dump(out, open(Path(__file__).with_name("measured.json"), "w"), indent=1)

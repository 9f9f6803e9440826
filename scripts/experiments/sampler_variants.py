"""Experiment: can sampling alone make the generator's breeds more recognisable?

Two variants of the documented sampler (docs/sampler.md), measured by breed accuracy (the
share of samples the shipped classifier assigns to the conditioned breed, as in
`tinycats eval generator`):

* ``--mix A``: condition each breed on ``(1 - A) * breed + A * any_cat`` (the model renders the
  aligned-face class best; does some of it carry over?);
* ``--interval LO:HI``: classifier-free guidance only while ``LO <= t <= HI`` (scale 1, the
  conditional prediction alone, elsewhere): "guidance in a limited interval", Kynkaanniemi et
  al. 2024.

    python scripts/experiments/sampler_variants.py --n-per-breed 12 --cfg 5 \
        --variant none --variant mix:0.3 --variant interval:0.15:1

Seeds are ``seed + 1000 * breed`` like the evaluation's (default seed 99, separate from the
evaluation's 1234). Not a product command: the sampler contract stays as documented unless a
variant wins (session 7: none did, reports/generator-training.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from tinycats.breeds import ANY_CAT, BREEDS
from tinycats.generator.evaluate import breed_accuracy, to_uint8
from tinycats.paths import shipped_models_dir
from tinycats.runtime.classify import Classifier
from tinycats.runtime.sample import Generator, initial_noise


class IntervalGuidance(Generator):
    """The product's sampler (Generator.sample, unchanged) with the guidance scale set per
    network call: ``cfg_scale`` while ``lo <= t <= hi``, else 1 (the conditional prediction)."""

    lo, hi = 0.0, 1.0

    def velocity(self, x: np.ndarray, t: float, y: np.ndarray, cfg_scale: float) -> np.ndarray:
        return super().velocity(x, t, y, cfg_scale if self.lo <= t <= self.hi else 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, default=shipped_models_dir())
    ap.add_argument("--n-per-breed", type=int, default=12)
    ap.add_argument("--cfg", type=float, default=5.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--shift", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=99)
    ap.add_argument("--variant", action="append",
                    help="none | mix:A | interval:LO:HI (repeatable)")
    args = ap.parse_args()
    manifest = args.model_dir / "manifest.json"
    gen = IntervalGuidance(manifest, variant="fp32")
    clf = Classifier(manifest)
    any_cat = gen.class_id(ANY_CAT.key)
    n = args.n_per_breed
    for spec in args.variant or ["none"]:
        kind, *params = spec.split(":")
        t0 = time.time()
        images, labels = [], []
        for b in BREEDS:
            noise = initial_noise(args.seed + 1000 * b.id, n, gen.size, gen.channels)
            gen.lo, gen.hi = 0.0, 1.0
            if kind == "mix":
                y = gen.mix({b.id: 1.0 - float(params[0]), any_cat: float(params[0])}, n)
            else:
                y = gen.one_hot([b.id] * n)
                if kind == "interval":
                    gen.lo, gen.hi = float(params[0]), float(params[1])
                elif kind != "none":
                    raise SystemExit(f"unknown variant {spec!r}")
            x = gen.sample(noise, y, steps=args.steps, cfg_scale=args.cfg, solver="heun",
                           shift=args.shift)
            images.append(to_uint8(x))
            labels += [b.id] * n
        per_breed, other = breed_accuracy(clf.predict(np.concatenate(images)).argmax(1),
                                          np.array(labels), clf.other_id)
        per = list(per_breed.values())
        print(f"{spec:>18}  cfg {args.cfg}: breed accuracy mean {np.mean(per):.1%} "
              f"min {min(per):.1%}, 'other' {other:.0%}, "
              f"per breed {[round(p, 2) for p in per]}  ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()

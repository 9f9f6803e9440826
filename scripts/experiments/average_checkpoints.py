"""Experiment: a uniform average ("model soup") of generator EMA checkpoints that continued the
same starting weights, written as one ``ema.pt`` that ``tinycats export generator`` reads.

    python scripts/experiments/average_checkpoints.py OUT.pt RUN1/ema.pt RUN2/ema.pt ...

Weight averages of fine-tuned copies of one model often beat each copy (Wortsman et al. 2022).
Measured for the generator in reports/generator-training.md ("Session 8"). Not a command: the
runs' checkpoints are not committed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinycats.training import checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("checkpoints", type=Path, nargs="+")
    args = ap.parse_args()
    cks = [checkpoint.load(p, map_location="cpu") for p in args.checkpoints]
    keys = set(cks[0]["model"])
    for p, ck in zip(args.checkpoints, cks, strict=True):
        if set(ck["model"]) != keys or ck["config"]["model"] != cks[0]["config"]["model"]:
            raise SystemExit(f"{p}: a different model than {args.checkpoints[0]}")
    avg = {k: sum(ck["model"][k].float() for ck in cks) / len(cks) for k in cks[0]["model"]}
    checkpoint.save_atomic({**cks[-1], "model": avg,
                            "averaged": [str(p) for p in args.checkpoints]}, args.out)
    print(f"{args.out}: the average of {len(cks)} checkpoints")


if __name__ == "__main__":
    main()

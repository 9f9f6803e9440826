"""`tinycats eval generator` with classifier-free guidance applied only for t in [GI_LO, GI_HI].

Outside the interval the sampler uses the plain conditional velocity (s = 1, half the batch), as
in "Applying guidance in a limited interval" (Kynkäänniemi et al., 2024). An experiment, not
part of tinycats: it patches the runtime's guided velocity and then runs the normal command:

    GI_LO=0 GI_HI=0.5 python reports/generator-sampler-sweep/guidance_interval.py \
        eval generator --n-per-breed 32 --seed 7 --no-update-manifest --report-dir <out>
"""

import os
import sys
from typing import Any

from tinycats.cli.main import main
from tinycats.runtime import sample

LO, HI = float(os.environ["GI_LO"]), float(os.environ.get("GI_HI", "1"))
guided = sample.Generator.velocity


def velocity(self: sample.Generator, x: Any, t: float, y: Any, cfg_scale: float) -> Any:
    return guided(self, x, t, y, cfg_scale if LO <= t <= HI else 1.0)


sample.Generator.velocity = velocity  # type: ignore[method-assign]
sys.argv = ["tinycats", *sys.argv[1:]]
main()

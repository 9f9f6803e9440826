"""`tinycats eval generator` with EDM-style stochastic churn in the flow sampler.

Before each step but the last, x at t is moved back to an earlier time t_hat (more noise) by
scaling towards 0 and adding fresh noise, then the usual Euler/Heun step runs from t_hat to the
next grid time. With sigma = (1 - t) / t (the interpolant's noise-to-signal ratio),
sigma_hat = sigma * (1 + gamma) (Karras et al. 2022, Algorithm 2). An experiment:

    CHURN=0.3 python reports/generator-sampler-sweep/churn.py eval generator \
        --n-per-breed 32 --seed 7 --no-update-manifest --report-dir <out>

The churn noise comes from its own NumPy stream per sampler call (an experiment: the runtimes'
documented noise would need a new stream for it in both).
"""

import os
import sys
from typing import Any

import numpy as np

from tinycats.cli.main import main
from tinycats.runtime import sample

GAMMA = float(os.environ["CHURN"])
T_MIN = float(os.environ.get("CHURN_TMIN", "0"))
T_MAX = float(os.environ.get("CHURN_TMAX", "1"))
calls = [0]


# tinycats.runtime.sample.integrate with the churn added before each step: its Euler/Heun lines
# are repeated here on purpose, so that the product's sampler carries no experiment's switch.
def integrate(velocity: Any, noise: np.ndarray, steps: int, solver: str, shift: float,
              callback: Any = None) -> np.ndarray:
    ts = sample.time_grid(steps, shift)
    rng = np.random.default_rng(1_000_003 + calls[0])
    calls[0] += 1
    x = noise.astype(np.float32)
    for i in range(steps):
        t0, t1 = ts[i], ts[i + 1]
        if GAMMA > 0 and t0 > 0 and t1 < 1.0 and T_MIN <= t0 <= T_MAX:
            sig = (1 - t0) / t0
            th = 1.0 / (1.0 + sig * (1 + GAMMA))
            # x_t0 = t0 x + (1 - t0) eps, so th/t0 * x_t0 carries noise th/t0 * (1 - t0):
            # top it up to the 1 - th of time th with fresh noise
            extra = np.sqrt(max((1 - th) ** 2 - (th / t0 * (1 - t0)) ** 2, 0.0))
            x = (np.float32(th / t0) * x
                 + np.float32(extra) * rng.standard_normal(x.shape, dtype=np.float32))
            t0 = th
        dt = np.float32(t1 - t0)
        v1 = velocity(x, t0)
        if solver == "heun" and t1 < 1.0:
            v2 = velocity(x + dt * v1, t1)
            x = x + dt * np.float32(0.5) * (v1 + v2)
        else:
            x = x + dt * v1
        if callback is not None:
            callback(i + 1, steps, x)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


sample.integrate = integrate  # type: ignore[assignment]
sys.argv = ["tinycats", *sys.argv[1:]]
main()

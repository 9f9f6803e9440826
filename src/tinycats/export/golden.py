"""Golden vectors for cross-language parity of the generator runtime.

``tinycats export golden`` runs the exported fp32 generator through the Python ONNX runtime
(``runtime/sample.py``) on a fixed noise tensor and writes every input and expected output to a
small JSON file (float32 arrays as base64, little-endian). The browser's TypeScript sampler
(web/src/engine) and the Python tests read the same file and must reproduce the numbers.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

from tinycats.runtime.sample import Generator, initial_noise, time_grid

GOLDEN_STEPS = 3
GOLDEN_CFG = 3.0
GOLDEN_SEED = 7


def encode(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"shape": list(a.shape), "dtype": "float32",
            "base64": base64.b64encode(a.tobytes()).decode()}


def decode(d: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["base64"]), dtype="<f4").reshape(d["shape"])


def make_golden(manifest_path: Path, class_name: str = "Bengal") -> dict[str, Any]:
    gen = Generator(manifest_path, variant="fp32")
    cid = gen.class_id(class_name)
    noise = initial_noise(GOLDEN_SEED, 1, gen.size, gen.channels)
    y = gen.one_hot([cid])
    y_null = gen.one_hot([gen.null_class])
    x2 = np.concatenate([noise, noise])
    t2 = np.full((2,), 0.3, dtype=np.float32)
    call_out = gen.denoise(x2, t2, np.concatenate([y, y_null]))
    v = gen.velocity(noise, 0.3, y, GOLDEN_CFG)
    mix_y = gen.mix({gen.class_id("Bengal"): 0.5, gen.class_id("Siamese"): 0.5}, 1)
    # the model's own default time shift, stated in the file (so a shift != 1 is checked too)
    shift = float(gen.sampler.get("shift", 1.0))
    finals = {solver: gen.sample(noise, y, steps=GOLDEN_STEPS, cfg_scale=GOLDEN_CFG,
                                 solver=solver, shift=shift)
              for solver in ("euler", "heun")}
    return {
        "about": "tinycats generator golden vectors: see docs/sampler.md and "
                 "src/tinycats/export/golden.py",
        "model": {"file": gen.file_entry["file"], "sha256": gen.file_entry["sha256"],
                  "variant": "fp32"},
        "seed": GOLDEN_SEED,
        "class_id": cid,
        "null_class": gen.null_class,
        "noise": encode(noise),
        "single_call": {"x": "noise stacked twice", "t": 0.3, "y": [cid, gen.null_class],
                        "out": encode(call_out)},
        "guided_velocity": {"t": 0.3, "cfg_scale": GOLDEN_CFG, "v": encode(v)},
        "mix": {"weights": {"Bengal": 0.5, "Siamese": 0.5}, "y": encode(mix_y)},
        "samples": {solver: {"steps": GOLDEN_STEPS, "cfg_scale": GOLDEN_CFG, "shift": shift,
                             "time_grid": time_grid(GOLDEN_STEPS, shift),
                             "final": encode(img)}
                    for solver, img in finals.items()},
        "tolerance": {"max_abs": 1e-3,
                      "why": "float32 kernels differ between runtimes; errors grow over steps"},
    }


def write_golden(manifest_path: Path, out: Path) -> dict[str, Any]:
    g = make_golden(manifest_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(g, indent=1) + "\n")
    return g


def make_upscaler_golden(manifest_path: Path, class_name: str = "Bengal") -> dict[str, Any]:
    """The two-stage pipeline on fixed draws: the generator's Heun case above (the same seed,
    class and settings) gives the 64 px image, then the upscaler runs at its manifest defaults
    with the stage's own draws (runtime/upscale.py: upscale_noise)."""
    from tinycats.runtime.upscale import Upscaler, upscale_noise

    gen = Generator(manifest_path, variant="fp32")
    up = Upscaler(manifest_path, variant="fp32")
    cid = gen.class_id(class_name)
    noise = initial_noise(GOLDEN_SEED, 1, gen.size, gen.channels)
    shift = float(gen.sampler.get("shift", 1.0))
    x64 = gen.sample(noise, gen.one_hot([cid]), steps=GOLDEN_STEPS, cfg_scale=GOLDEN_CFG,
                     solver="heun", shift=shift)
    eps_c, x0 = upscale_noise(GOLDEN_SEED, 1, up.cond_size, up.size, up.channels)
    st = up.default_settings
    cond = x64 + np.float32(st.s) * eps_c
    call_out = up.denoise(x0, np.full((1,), 0.3, np.float32), cond,
                          np.full((1,), st.s, np.float32))
    return {
        "about": "tinycats upscaler golden vectors: see docs/sampler.md ('The upscaler stage') "
                 "and src/tinycats/export/golden.py",
        "model": {"file": up.file_entry["file"], "sha256": up.file_entry["sha256"],
                  "variant": "fp32"},
        "seed": GOLDEN_SEED,
        "base": {"class_id": cid, "steps": GOLDEN_STEPS, "cfg_scale": GOLDEN_CFG,
                 "solver": "heun", "shift": shift, "noise": encode(noise),
                 "final": encode(x64)},
        "eps_c": encode(eps_c),
        "noise": encode(x0),
        "single_call": {"x": "noise", "t": 0.3, "cond": "base final + s * eps_c", "s": st.s,
                        "out": encode(call_out)},
        "sample": {"steps": st.steps, "solver": st.solver, "shift": st.shift, "s": st.s,
                   "time_grid": time_grid(st.steps, st.shift),
                   "final": encode(up.upscale(x64, eps_c, x0))},
        "tolerance": {"max_abs": 2e-3,
                      "why": "float32 kernels differ between runtimes; errors grow over both "
                             "stages' steps"},
    }


def write_upscaler_golden(manifest_path: Path, out: Path) -> dict[str, Any]:
    g = make_upscaler_golden(manifest_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(g, indent=1) + "\n")
    return g

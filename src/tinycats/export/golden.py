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

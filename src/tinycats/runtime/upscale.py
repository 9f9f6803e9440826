"""The upscaler stage with ONNX Runtime: 64 px cats -> 128 px cats, NumPy + onnxruntime, no torch.

Implements docs/sampler.md, "The upscaler stage": the 64 px image is noised at level ``s``
(cascaded diffusion's noise conditioning, the same augmentation as in training), then the
generator's own sampler (``integrate``: time grid, Euler / Heun, x-prediction to velocity)
runs the upscaler network from fresh noise at 128 px, without guidance: the network takes the
image and ``s``, no class weights. Everything is read from ``manifest.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinycats.export import manifest as mf
from tinycats.runtime.limits import GenerateInputError, check_settings
from tinycats.runtime.sample import integrate, open_session, x_to_velocity

MODEL_KEY = "upscaler"
#: the network's inputs (keys of the entry's "inputs"), all fed at every call
INPUTS = ("x", "t", "cond", "s")


@dataclass(frozen=True)
class UpscaleSettings:
    steps: int
    solver: str
    shift: float
    s: float


def has_upscaler(manifest_path: Path) -> bool:
    return MODEL_KEY in mf.load(manifest_path).get("models", {})


def upscale_noise(seed: int, n: int, cond_size: int, size: int, channels: int = 3
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(eps_c, x0): the stage's draws, continuing the base stage's generator after its
    (n, C, cond_size, cond_size) initial noise (runtime/sample.py: initial_noise)."""
    rng = np.random.default_rng(seed)
    rng.standard_normal((n, channels, cond_size, cond_size), dtype=np.float32)  # the base's
    eps_c = rng.standard_normal((n, channels, cond_size, cond_size), dtype=np.float32)
    return eps_c, rng.standard_normal((n, channels, size, size), dtype=np.float32)


class Upscaler:
    def __init__(self, manifest_path: Path, variant: str | None = None,
                 threads: int | None = None) -> None:
        self.manifest_path = manifest_path
        self.entry: dict[str, Any] = mf.model_entry(mf.load(manifest_path), MODEL_KEY)
        path, self.file_entry = mf.resolve_file(manifest_path, self.entry, variant)
        self.variant = variant or self.entry.get("default_variant", "fp32")
        with mf.reading_entry(manifest_path, MODEL_KEY):
            e = self.entry
            self.size = int(e["image_size"])
            self.cond_size = int(e["cond_size"])
            self.channels = int(e.get("channels", 3))
            sampler = e["sampler"]
            self.t_eps = float(sampler["t_eps"])
            self.names = {k: str(e["inputs"][k]) for k in INPUTS}
            self.output = str(e["output"])
            self.default_settings = UpscaleSettings(
                int(sampler["default_steps"]), str(sampler["solver"]),
                float(sampler.get("shift", 1.0)), float(sampler["s"]))
        self.session = open_session(path, threads)
        unfed = {i.name for i in self.session.get_inputs()} - set(self.names.values())
        if unfed:  # refused here in one line, not by onnxruntime at the first call
            raise mf.ManifestError(f"{manifest_path}: the upscaler's graph also takes "
                                   f"{sorted(unfed)}, which this runtime does not feed: "
                                   "re-export the model")

    def settings(self, *, steps: int | None = None, s: float | None = None
                 ) -> UpscaleSettings:
        check_settings(steps=steps)
        if s is not None and not (np.isfinite(s) and 0.0 <= s <= 1.0):
            raise GenerateInputError(f"the upscaler's noise level must be in [0, 1], got {s}")
        d = self.default_settings
        return UpscaleSettings(d.steps if steps is None else int(steps), d.solver, d.shift,
                               d.s if s is None else float(s))

    def denoise(self, x: np.ndarray, t: np.ndarray, cond: np.ndarray, s: np.ndarray
                ) -> np.ndarray:
        """One network call."""
        feeds = {self.names["x"]: x.astype(np.float32), self.names["t"]: t.astype(np.float32),
                 self.names["cond"]: cond.astype(np.float32),
                 self.names["s"]: s.astype(np.float32)}
        return np.asarray(self.session.run([self.output], feeds)[0], dtype=np.float32)

    def upscale(self, images: np.ndarray, eps_c: np.ndarray, noise: np.ndarray, *,
                steps: int | None = None, s: float | None = None,
                callback: Callable[[int, int, np.ndarray], None] | None = None) -> np.ndarray:
        """(B, C, S, S) images in [-1, 1] from 64 px ``images`` (B, C, S/2, S/2) in [-1, 1],
        with the stage's draws ``eps_c`` and ``noise`` (``upscale_noise``)."""
        st = self.settings(steps=steps, s=s)
        b = images.shape[0]
        if images.shape[1:] != (self.channels, self.cond_size, self.cond_size):
            raise GenerateInputError(f"the upscaler takes {self.cond_size} px images, got "
                                     f"shape {images.shape}")
        cond = (images + np.float32(st.s) * eps_c).astype(np.float32)
        s_vec = np.full((b,), st.s, dtype=np.float32)

        def velocity(x: np.ndarray, t: float) -> np.ndarray:
            tt = np.full((b,), t, dtype=np.float32)
            return x_to_velocity(self.denoise(x, tt, cond, s_vec), x, tt, self.t_eps)

        return integrate(velocity, noise, st.steps, st.solver, st.shift, callback)

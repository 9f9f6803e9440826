"""Cat generation with ONNX Runtime: NumPy + onnxruntime, no torch.

Implements docs/sampler.md exactly (the same contract as ``tinycats.generator.flow``, which the
parity test and the golden vectors hold it to): time from 0 (noise) to 1 (image), x-prediction
converted to velocity with ``1 - t`` clipped at ``t_eps``, classifier-free guidance once, as a
batch of 2B (conditional rows, then null rows), Euler or Heun over the (optionally shifted) grid.
Everything about the model (classes, size, prediction type, defaults, file, sha256) is read from
``manifest.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from tinycats.errors import TinycatsError
from tinycats.export import manifest as mf
from tinycats.runtime.limits import GenerateInputError as GenerateInputError
from tinycats.runtime.limits import check_settings, check_weights

MODEL_KEY = "generator"


class SampleError(TinycatsError):
    """The integration produced NaN or inf: refused, so no black image is ever written."""


@dataclass(frozen=True)
class SamplerSettings:
    steps: int
    cfg_scale: float
    solver: str
    shift: float


def time_grid(steps: int, shift: float = 1.0) -> list[float]:
    ts = [i / steps for i in range(steps + 1)]
    if shift != 1.0:
        ts = [t / (t + shift * (1 - t)) for t in ts]
    return ts


def initial_noise(seed: int, n: int, size: int, channels: int = 3) -> np.ndarray:
    """The documented noise: numpy's default_rng(seed), standard normal, float32, NCHW."""
    return np.random.default_rng(seed).standard_normal((n, channels, size, size),
                                                       dtype=np.float32)


def open_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU InferenceSession for a verified model file (manifest.resolve_file)."""
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as err:  # a corrupt file that still matched? be clear, not a trace
        raise mf.ModelIntegrityError(f"cannot load {path}: {err}") from err


Velocity = Callable[[np.ndarray, float], np.ndarray]


def integrate(velocity: Velocity, noise: np.ndarray, steps: int, solver: str, shift: float,
              callback: Callable[[int, int, np.ndarray], None] | None = None) -> np.ndarray:
    """Euler or Heun from ``noise`` (t=0) to images (t=1) over the (shifted) grid; returns
    (B, C, S, S) clipped to [-1, 1]. ``velocity(x, t)`` is the model's (guided) velocity; both
    stages, the generator and the upscaler, run through here. Raises SampleError as soon as a
    step yields NaN or inf."""
    ts = time_grid(steps, shift)
    x: np.ndarray = noise.astype(np.float32)
    for i in range(steps):
        t0, t1 = ts[i], ts[i + 1]
        dt = np.float32(t1 - t0)
        v1 = velocity(x, t0)
        if solver == "heun" and t1 < 1.0:
            v2 = velocity(x + dt * v1, t1)
            x = x + dt * np.float32(0.5) * (v1 + v2)
        else:
            x = x + dt * v1
        if not np.isfinite(x).all():
            # np.clip keeps NaN and to_uint8 turns it into 0: a black image, not an error
            raise SampleError(f"the sampler produced NaN or inf at step {i + 1} of "
                              f"{steps}; nothing was written")
        if callback is not None:
            callback(i + 1, steps, x)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def x_to_velocity(out: np.ndarray, x_t: np.ndarray, t: np.ndarray, t_eps: float) -> np.ndarray:
    """An x-prediction as a velocity: (x_hat - x_t) / max(1 - t, t_eps)."""
    denom = np.maximum(1.0 - t, t_eps).astype(np.float32).reshape(-1, 1, 1, 1)
    return (out - x_t) / denom


class Generator:
    def __init__(self, manifest_path: Path, variant: str | None = None,
                 threads: int | None = None) -> None:
        self.manifest_path = manifest_path
        man = mf.load(manifest_path)
        self.entry: dict[str, Any] = mf.model_entry(man, MODEL_KEY)
        path, self.file_entry = mf.resolve_file(manifest_path, self.entry, variant)
        self.variant = variant or self.entry.get("default_variant", "fp32")
        with mf.reading_entry(manifest_path, MODEL_KEY):
            self._read_entry(self.entry)
        self.session = open_session(path, threads)

    def _read_entry(self, e: dict[str, Any]) -> None:
        self.size = int(e["image_size"])
        self.channels = int(e.get("channels", 3))
        self.classes: list[dict[str, Any]] = e["classes"]
        self.num_classes = len(self.classes)
        self.null_class = int(e["null_class"])
        self.prediction = str(e["prediction"])
        self.sampler: dict[str, Any] = e["sampler"]
        self.t_eps = float(self.sampler["t_eps"])
        self.names = {k: str(e["inputs"][k]) for k in ("x", "t", "y")}
        self.output = str(e["output"])
        self.default_settings = SamplerSettings(
            int(self.sampler["default_steps"]), float(self.sampler["default_cfg_scale"]),
            str(self.sampler["solver"]), float(self.sampler.get("shift", 1.0)))
        try:
            check_settings(**vars(self.default_settings))
        except GenerateInputError as err:
            raise mf.ManifestError(f"{self.manifest_path}: the generator's default sampler "
                                   f"settings are unusable: {err}") from None

    # -- conditioning -------------------------------------------------------------------------
    def one_hot(self, class_ids: Sequence[int]) -> np.ndarray:
        y = np.zeros((len(class_ids), self.num_classes), dtype=np.float32)
        y[np.arange(len(class_ids)), list(class_ids)] = 1.0
        return y

    def mix(self, weights: dict[int, float], n: int) -> np.ndarray:
        """Class weights for a breed mix: a convex combination of one-hot rows (normalised)."""
        check_weights(list(weights.values()))
        total = sum(weights.values())
        row = np.zeros(self.num_classes, dtype=np.float32)
        for cid, w in weights.items():
            row[cid] = w / total
        return np.repeat(row[None], n, axis=0)

    # -- the network and the sampler -------------------------------------------------------------
    def denoise(self, x: np.ndarray, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        feeds = {self.names["x"]: x.astype(np.float32), self.names["t"]: t.astype(np.float32),
                 self.names["y"]: y.astype(np.float32)}
        return np.asarray(self.session.run([self.output], feeds)[0], dtype=np.float32)

    def to_velocity(self, out: np.ndarray, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        if self.prediction == "v":
            return out
        return x_to_velocity(out, x_t, t, self.t_eps)

    def velocity(self, x: np.ndarray, t: float, y: np.ndarray, cfg_scale: float) -> np.ndarray:
        b = x.shape[0]
        if cfg_scale == 1.0:
            tt = np.full((b,), t, dtype=np.float32)
            return self.to_velocity(self.denoise(x, tt, y), x, tt)
        y_null = self.one_hot([self.null_class] * b)
        xx = np.concatenate([x, x])
        tt = np.full((2 * b,), t, dtype=np.float32)
        v = self.to_velocity(self.denoise(xx, tt, np.concatenate([y, y_null])), xx, tt)
        v_cond, v_null = v[:b], v[b:]
        return v_null + np.float32(cfg_scale) * (v_cond - v_null)

    def settings(self, *, steps: int | None = None, cfg_scale: float | None = None,
                 solver: str | None = None, shift: float | None = None) -> SamplerSettings:
        """The settings a ``sample`` call with these arguments uses (None: the manifest's
        default), checked."""
        check_settings(steps=steps, cfg_scale=cfg_scale, solver=solver, shift=shift)
        d = self.default_settings
        return SamplerSettings(d.steps if steps is None else int(steps),
                               d.cfg_scale if cfg_scale is None else float(cfg_scale),
                               d.solver if solver is None else solver,
                               d.shift if shift is None else float(shift))

    def sample(self, noise: np.ndarray, y: np.ndarray, *, steps: int | None = None,
               cfg_scale: float | None = None, solver: str | None = None,
               shift: float | None = None,
               callback: Callable[[int, int, np.ndarray], None] | None = None) -> np.ndarray:
        """Integrate from ``noise`` (t=0) to images (t=1); returns (B, C, S, S) in [-1, 1].
        ``callback(step, steps, x)`` runs after each step (progress bars, live previews).
        Raises SampleError as soon as a step yields NaN or inf."""
        st = self.settings(steps=steps, cfg_scale=cfg_scale, solver=solver, shift=shift)
        return integrate(lambda x, t: self.velocity(x, t, y, st.cfg_scale), noise, st.steps,
                         st.solver, st.shift, callback)

    def class_id(self, name: str) -> int:
        """A generatable class (breed or any_cat) by a leniently matched name."""
        from tinycats.breeds import normalize_name

        wanted = normalize_name(name)
        for c in self.classes:
            if c["id"] == self.null_class:
                continue
            if wanted in (normalize_name(c["key"]), normalize_name(c["display"])):
                return int(c["id"])
        valid = ", ".join(c["display"] for c in self.classes if c["id"] != self.null_class)
        raise GenerateInputError(f"unknown breed {name!r}; valid names: {valid}")

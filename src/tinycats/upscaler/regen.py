"""Base-model conditions: the training faces partly re-drawn by the shipped generator, so that the
upscaler also learns from 64 px conditions with the base model's own texture.

Why: on real faces the upscaler keeps the breed, but on generated cats it sharpens the base
model's colour blotches into fur-like texture and the shipped classifier reads a Sphynx as a
Persian (reports/cascade-sweep.md, docs/history.md "Upscaler"). Blur, JPEG and noise
(upscaler/degrade.py) do not look like those blotches. Here each face crop's 64 px version is
noised to time ``t_k`` of the generator's default sampler grid and the rest of that sampler runs
from there, with the face's breed and the default guidance (SDEdit, Meng et al. 2022): the
layout and colours stay the photo's, the fine texture becomes the generator's. The target stays
the real 128 px face, so the upscaler learns to draw real fur over generator texture instead of
sharpening it.

Computed once with ONNX Runtime (the same generator file and sampler the app runs) and kept in
``<data>/cache/upscaler-regen/<key>.npy``, the key naming the generator file, the faces and the
starts: 5 minutes for the 730 face crops x 6 starts on a 2-vCPU AMD EPYC (AVX2).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from tinycats.grid import to_uint8
from tinycats.runtime.sample import Generator, integrate, time_grid
from tinycats.upscaler.degrade import downscale

#: a fixed stream for the re-drawing noise: the cache is a function of its key alone
REGEN_SEED = 20261207


def regenerate(gen: Generator, x64: np.ndarray, class_ids: Sequence[int], start: int,
               seed: int) -> np.ndarray:
    """(B, 3, S, S) images in [-1, 1] -> the same images noised to grid point ``start`` of the
    generator's default sampler and integrated from there to t = 1 (float32, [-1, 1])."""
    st = gen.default_settings
    t = time_grid(st.steps, st.shift)[start]
    eps = np.random.default_rng(seed).standard_normal(x64.shape, dtype=np.float32)
    y = gen.one_hot(list(class_ids))
    return integrate(lambda x, tt: gen.velocity(x, tt, y, st.cfg_scale),
                     np.float32(t) * x64 + np.float32(1 - t) * eps, st.steps, st.solver,
                     st.shift, start=start)


def cache_path(root: Path, manifest: Path, faces: np.ndarray, starts: Sequence[int]) -> Path:
    gen = Generator(manifest)
    key = hashlib.sha256(json.dumps([gen.file_entry["sha256"], list(starts), REGEN_SEED,
                                     hashlib.sha256(faces.tobytes()).hexdigest()]).encode())
    return root / "cache" / "upscaler-regen" / f"{key.hexdigest()[:16]}.npy"


def base_model_conditions(root: Path, manifest: Path, faces: np.ndarray, labels: np.ndarray,
                          starts: Sequence[int], *, batch: int = 32,
                          log: Callable[[str], None] = print,
                          progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """For faces (M, 3, S, S) uint8 with breed ids: (M, len(starts), 3, S/2, S/2) uint8, one
    re-drawn 64 px condition per start; computed once, then read from the cache."""
    path = cache_path(root, manifest, faces, starts)
    if path.exists():
        return torch.from_numpy(np.load(path))
    log(f"re-drawing {len(faces)} face crops with the generator from grid points "
        f"{list(starts)} -> {path}")
    gen = Generator(manifest)
    x64 = downscale(torch.from_numpy(faces).float() / 127.5 - 1.0).clamp(-1, 1).numpy()
    out = np.zeros((len(faces), len(starts), *x64.shape[1:]), np.uint8)
    total, done = len(faces) * len(starts), 0
    for j, start in enumerate(starts):
        for i in range(0, len(faces), batch):
            sl = slice(i, i + batch)
            redrawn = regenerate(gen, x64[sl], labels[sl].tolist(), start,
                                 REGEN_SEED + 1000 * j + i)
            out[sl, j] = to_uint8(redrawn).transpose(0, 3, 1, 2)
            done += len(x64[sl])
            if progress:
                progress(done, total)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)
    return torch.from_numpy(out)

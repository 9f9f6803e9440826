"""Measure the upscaler against bicubic upscaling on real cats it never saw.

The Oxford TEST face crops at 128 px (generator/face_crops.py, the framing of the base model's
images) are downscaled to 64 px (antialiased bicubic, stored as uint8 like any 64 px image) and
upscaled back, (a) bicubically and (b) by the model; each result is compared with the original:
PSNR (pixel fidelity) and FID (realism; the Inception features and the Fréchet distance of
generator/evaluate.py). Expect the model to win on FID and not necessarily on PSNR: a sampler
that draws plausible fur where bicubic draws a blur is penalised by PSNR for every hair that is
not exactly where the original's was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tinycats.breeds import NUM_BREEDS
from tinycats.data import cache
from tinycats.generator.evaluate import Inception, classifier_figures, fid
from tinycats.generator.face_crops import load_face_crops
from tinycats.grid import to_uint8
from tinycats.upscaler.degrade import downscale
from tinycats.upscaler.model import UpscalerUNet
from tinycats.upscaler.sample import as_solver, sample_upscale


@dataclass
class UpEvalConfig:
    steps: int = 2
    #: the condition's noise level at sampling (a knob: sweep it with this evaluation)
    s: float = 0.0
    solver: str = "heun"
    shift: float = 1.0
    batch: int = 32
    seed: int = 1234
    fid: bool = True


def held_out_faces(root: Path, size: int = 128, margin: float = 1.8
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The Oxford test-split cat-face crops: (N, size, size, 3) uint8 and their breed ids."""
    fc = load_face_crops(root, size, margin)
    keep = (fc.splits == cache.SPLITS.index("test")) & (fc.labels < NUM_BREEDS)
    return np.asarray(fc.images[keep]), np.asarray(fc.labels[keep])


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def to_images(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    return to_uint8(x.float().clamp(-1, 1).cpu().numpy())


def half_size(originals: np.ndarray) -> np.ndarray:
    """The originals as 64 px uint8 images (antialiased bicubic)."""
    return to_images(downscale(to_tensor(originals), "bicubic"))


def bicubic_upscale(small: np.ndarray) -> np.ndarray:
    """The baseline: uint8 images upscaled 2x, bicubic (the network's own input path)."""
    up = F.interpolate(to_tensor(small), scale_factor=2.0, mode="bicubic", align_corners=False)
    return to_images(up)


def model_upscale(model: UpscalerUNet, small: np.ndarray, ecfg: UpEvalConfig,
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """uint8 images upscaled 2x by the model, in batches; one seeded stream for the run."""
    g = torch.Generator().manual_seed(ecfg.seed)
    dev = next(model.parameters()).device
    solver = as_solver(ecfg.solver)
    out = []
    for i in range(0, len(small), ecfg.batch):
        cond = to_tensor(small[i:i + ecfg.batch]).to(dev)
        x = sample_upscale(model, cond, ecfg.steps, ecfg.s, solver, shift=ecfg.shift,
                           generator=g)
        out.append(to_images(x))
        if progress:
            progress(min(i + ecfg.batch, len(small)), len(small))
    return np.concatenate(out)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over images of the per-image PSNR in dB (uint8 images, peak 255)."""
    err = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(1)
    return float(np.mean(10 * np.log10(255.0**2 / np.maximum(err, 1e-10))))


@dataclass
class BreedJudge:
    """The shipped classifier as the evaluation uses it: ``predict`` maps (N, S, S, 3) uint8
    images to class ids, ``other_id`` is its "not a cat" class."""
    predict: Callable[[np.ndarray], np.ndarray]
    other_id: int


def evaluate_upscaler(model: UpscalerUNet, originals: np.ndarray, labels: np.ndarray,
                      ecfg: UpEvalConfig, inception: Inception | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      judge: BreedJudge | None = None) -> dict[str, Any]:
    """PSNR (and FID, given ``inception``) of bicubic and of the model against ``originals``
    (N, S, S, 3) uint8 with breed ids ``labels``, from their half-size versions. Given
    ``judge``, also its breed accuracy on the originals and on both upscalings: whether the
    upscaler keeps the breed of a real cat (``tinycats eval cascade`` asks it of generated
    ones)."""
    small = half_size(originals)
    results = {"bicubic": bicubic_upscale(small),
               "model": model_upscale(model, small, ecfg, progress)}
    report: dict[str, Any] = {"n": len(originals), "size": int(originals.shape[1]),
                              "sampler": {"steps": ecfg.steps, "s": ecfg.s,
                                          "solver": ecfg.solver, "shift": ecfg.shift,
                                          "seed": ecfg.seed}}
    ref = inception.features(originals) if inception is not None else None
    for name, images in results.items():
        report[name] = {"psnr_db": round(psnr(images, originals), 3)}
        if inception is not None and ref is not None:
            report[name]["fid"] = round(fid(inception.features(images), ref), 2)
    if judge is not None:
        for name, images in {"original": originals, **results}.items():
            report.setdefault(name, {})["classifier"] = classifier_figures(
                judge.predict(images), labels, judge.other_id)
    return report


def manifest_metrics(figures: dict[str, Any]) -> dict[str, Any]:
    """What the manifest's upscaler entry keeps of ``evaluate_upscaler``'s figures (with FID)."""
    return {**figures, "measured_by": "tinycats eval upscaler"}

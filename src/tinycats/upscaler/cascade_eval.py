"""Measure the two-stage pipeline at 128 px: the generator's cats upscaled by the upscaler,
against the same cats upscaled bicubically.

Both sets come from the exported ONNX models (runtime/sample.py, runtime/upscale.py) at their
manifest settings, with the generator evaluation's documented noise seeds (generator/evaluate.py:
noise_seed), so the 64 px cats are exactly the ones ``tinycats eval generator`` measures. Each
128 px set gets: FID and KID against the Oxford test face crops at 128 px, breed accuracy by the
shipped classifier, and by the second judge (generator/judge.py, fitted on the training face
crops at 128 px). The 64 px cats' classifier accuracy is reported beside them, as the figure
the upscaler must not lower.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tinycats.breeds import BREEDS, NUM_BREEDS
from tinycats.generator.evaluate import (
    Inception,
    check_seeds,
    classifier_figures,
    fid,
    judge_figures,
    kid,
    load_real_sets,
    noise_seed,
    training_crop,
)
from tinycats.grid import to_uint8

Progress = Callable[[str, int, int], None]


@dataclass
class CascadeEvalConfig:
    n_per_breed: int = 32
    seeds: tuple[int, ...] = (1234,)
    batch: int = 32
    #: the upscaler's sampler (None: the manifest's)
    steps: int | None = None
    s: float | None = None
    judge: bool = True


def bicubic(x64: np.ndarray) -> np.ndarray:
    """The baseline: (B, 3, S, S) in [-1, 1] upscaled 2x, bicubic, clipped."""
    up = F.interpolate(torch.from_numpy(x64), scale_factor=2.0, mode="bicubic",
                       align_corners=False)
    return up.clamp(-1, 1).numpy()


def sample_both(model_dir: Path, cfg: CascadeEvalConfig, progress: Progress | None
                ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict[str, Any]]:
    """({"base_64", "bicubic", "upscaler"}: uint8 images, breed ids, seed of each, settings)."""
    from tinycats.runtime.sample import Generator, initial_noise
    from tinycats.runtime.upscale import Upscaler, upscale_noise

    gen = Generator(model_dir / "manifest.json")
    up = Upscaler(model_dir / "manifest.json")
    ust = up.settings(steps=cfg.steps, s=cfg.s)
    sets: dict[str, list[np.ndarray]] = {"base_64": [], "bicubic": [], "upscaler": []}
    labels: list[int] = []
    seed_of: list[int] = []
    total, done_all = len(cfg.seeds) * NUM_BREEDS * cfg.n_per_breed, 0
    for seed in cfg.seeds:
        for b in BREEDS:
            for done in range(0, cfg.n_per_breed, cfg.batch):
                n = min(cfg.batch, cfg.n_per_breed - done)
                k = noise_seed(seed, b.id, done)
                x64 = gen.sample(initial_noise(k, n, gen.size, gen.channels),
                                 gen.one_hot([b.id] * n))
                eps_c, x0 = upscale_noise(k, n, up.cond_size, up.size, up.channels)
                sets["base_64"].append(to_uint8(x64))
                sets["bicubic"].append(to_uint8(bicubic(x64)))
                sets["upscaler"].append(to_uint8(up.upscale(x64, eps_c, x0, steps=ust.steps,
                                                            s=ust.s)))
                labels += [b.id] * n
                seed_of += [seed] * n
                done_all += n
                if progress:
                    progress("sampling and upscaling", done_all, total)
    settings = {"generator": asdict(gen.default_settings), "upscaler": asdict(ust),
                "generator_file": gen.file_entry["sha256"], "upscaler_file":
                up.file_entry["sha256"], "seeds": list(cfg.seeds),
                "n_per_breed": cfg.n_per_breed}
    return ({k: np.concatenate(v) for k, v in sets.items()}, np.array(labels),
            np.array(seed_of), settings)


def _stage(progress: Progress | None, name: str) -> Callable[[int, int], None] | None:
    return (lambda i, n: progress(name, i, n)) if progress else None


def evaluate_cascade(model_dir: Path, root: Path, cfg: CascadeEvalConfig, *,
                     log: Callable[[str], None] = print, progress: Progress | None = None
                     ) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray]:
    """The report, the image sets and their breed ids."""
    from tinycats.runtime.classify import Classifier

    t0 = time.time()
    check_seeds(cfg.seeds, cfg.n_per_breed, cfg.batch)
    sets, labels, seed_of, settings = sample_both(model_dir, cfg, progress)
    masks = {str(s): seed_of == s for s in cfg.seeds}
    log(f"sampled and upscaled {len(labels)} cats in {time.time() - t0:.0f} s")
    clf = Classifier(model_dir / "manifest.json")
    from tinycats.runtime.sample import Generator

    crop = training_crop(Generator(model_dir / "manifest.json").entry)
    real = load_real_sets(root, 128, crop)
    inc = Inception()
    f_real = inc.features(real.test)
    report: dict[str, Any] = {"settings": settings, "n_samples": len(labels),
                              "reference": f"Oxford-IIIT Pet test split cats, 128x128 "
                                           f"{crop.words()}", "n_real": len(real.test)}
    for name, imgs in sets.items():
        fig: dict[str, Any] = {"classifier": classifier_figures(
            clf.predict(imgs).argmax(1), labels, clf.other_id)}
        if name != "base_64":
            f_gen = inc.features(imgs, progress=_stage(progress, f"inception ({name})"))
            fig["fid"] = fid(f_gen, f_real)
            fig["kid"] = kid(f_gen, f_real)[0]
            if cfg.judge:
                j = judge_figures(imgs, labels, masks, real, root / "cache" / "judge", log,
                                  progress)
                fig["judge"] = {k: j[k] for k in ("on_samples", "on_real_test",
                                                  "samples_over_real")}
        report[name] = fig
    report["timing_s"] = round(time.time() - t0, 1)
    return report, sets, labels

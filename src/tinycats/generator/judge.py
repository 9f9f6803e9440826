"""A second, independent breed judge for generated cats: logistic regression on frozen ImageNet
features of EfficientNet-Lite2.

Why a second judge: the shipped classifier (Lite0, fine-tuned on whole photos) is one network
with its own blind spots, and a generator can look right to it without looking right. This judge
shares nothing with it but the ImageNet pre-training idea: another backbone (Lite2, never
fine-tuned), another head (a linear probe), and other training images (the generator's own
64 px training crops, the Oxford train+val face crops). Breed accuracy that holds under both
judges is harder to fake.

Preprocessing: a 64 px crop is upsampled bicubically to Lite2's native 260 px (the size its
ImageNet features were learned at) and normalised as the TensorFlow checkpoints expect
(``data/augment.py``: ``(pixel - 127) / 128``). The features are the global average of the last
feature map (1280-d).

The probe: softmax regression on standardised features, loss = mean cross-entropy +
``l2 * ||W||^2`` (bias not penalised), fitted full-batch with L-BFGS. ``l2`` is chosen from
``L2_GRID`` by mean per-breed accuracy on a fixed 20% per-breed hold-out of train+val (ties go to
the stronger penalty), then the probe is refitted on all of train+val. A set too small for a
hold-out uses ``DEFAULT_L2``.

The fitted judge is cached under ``<data>/cache/judge/`` keyed by a fingerprint of the training
crops, the backbone's weight file and this recipe, so a second evaluation does not refit; the
features of any image set (e.g. the real test crops) are cached the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tinycats.breeds import BREEDS, NUM_BREEDS
from tinycats.classifier.model import VARIANTS, EfficientNetLite, load_imagenet, pretrained_path
from tinycats.data.augment import normalize

BACKBONE = "lite2"
#: bump when the preprocessing or the probe's recipe changes: cached judges are then refitted
JUDGE_VERSION = 1
L2_GRID: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
DEFAULT_L2 = 1e-2
HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0


# -- features ----------------------------------------------------------------------------------
class FeatureNet:
    """Frozen Lite2 with its ImageNet weights: uint8 crops -> pooled 1280-d features."""

    def __init__(self, variant: str = BACKBONE) -> None:
        self.variant = variant
        self.input_size = VARIANTS[variant][2]
        self.net: EfficientNetLite = load_imagenet(variant).eval()
        self.fingerprint = backbone_fingerprint(variant)

    def features(self, images: np.ndarray, batch: int = 32,
                 progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """(N, S, S, 3) uint8 -> (N, 1280) float32."""
        out = [np.zeros((0, self.net.num_features), np.float32)]
        with torch.no_grad():
            for i in range(0, len(images), batch):
                x = torch.from_numpy(np.ascontiguousarray(images[i:i + batch]))
                x = x.permute(0, 3, 1, 2).float() / 255.0
                x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bicubic",
                                  align_corners=False)
                # bicubic overshoots at edges; keep the pixel range the normalisation assumes
                x = normalize(x.clamp(0.0, 1.0))
                out.append(self.net.features(x).mean(dim=(2, 3)).numpy())
                if progress:
                    progress(min(i + batch, len(images)), len(images))
        return np.concatenate(out)


def backbone_fingerprint(variant: str = BACKBONE) -> str:
    """The backbone's weights file and this module's recipe: what the features depend on."""
    h = hashlib.sha256(f"{variant}:{JUDGE_VERSION}:".encode())
    with open(pretrained_path(variant), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def images_fingerprint(images: np.ndarray, labels: np.ndarray | None = None) -> str:
    """Content hash of a set of crops (and their labels): any changed pixel changes it."""
    h = hashlib.sha256(str((images.shape, str(images.dtype))).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    if labels is not None:
        h.update(np.ascontiguousarray(labels.astype(np.int64)).tobytes())
    return h.hexdigest()[:16]


def _save_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write to a temp name then rename: an interrupted run never leaves a half-written cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def cached_features(net: FeatureNet, images: np.ndarray, cache_dir: Path,
                    progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """``net.features(images)``, read from ``cache_dir`` when these exact crops were seen."""
    path = cache_dir / f"features-{net.fingerprint}-{images_fingerprint(images)}.npy"
    if path.exists():
        return np.load(path)
    feats = net.features(images, progress=progress)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, feats)

    _save_atomic(path, write)
    return feats


# -- the probe ---------------------------------------------------------------------------------
def fit_softmax(x: np.ndarray, y: np.ndarray, l2: float, num_classes: int = NUM_BREEDS,
                max_iter: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression: (W (K, F), b (K,)) minimising mean cross-entropy +
    ``l2 * ||W||^2``. Convex, so full-batch L-BFGS from zeros finds the one optimum (and the
    result does not depend on any random draw)."""
    xt = torch.from_numpy(x).double()
    yt = torch.from_numpy(y.astype(np.int64))
    w = torch.zeros(num_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-6,
                            tolerance_change=1e-10, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(xt @ w.T + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    # One thread: the problem is small (a few thousand x 1280), so extra threads only add
    # synchronisation, and on a busy machine they waited 5-15x longer than one thread computed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    return w.detach().numpy(), b.detach().numpy()


def holdout_split(labels: np.ndarray, fraction: float = HOLDOUT_FRACTION,
                  seed: int = HOLDOUT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(fit indices, hold-out indices): ``fraction`` of each breed held out, fixed by ``seed``;
    a breed with fewer than 5 crops stays whole in the fit part."""
    rng = np.random.default_rng(seed)
    fit, held = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = round(fraction * len(idx)) if len(idx) >= 5 else 0
        held.append(idx[:k])
        fit.append(idx[k:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(held))


def mean_breed_accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the breeds present in ``labels`` of the share predicted right (balanced)."""
    return float(np.mean([(pred[labels == c] == c).mean() for c in np.unique(labels)]))


def choose_l2(x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, float]]:
    """The grid's ``l2`` with the best hold-out mean per-breed accuracy, and every grid
    point's accuracy (reported). Ties go to the stronger penalty: the simpler probe."""
    fit, held = holdout_split(y)
    if len(held) == 0:
        return DEFAULT_L2, {}
    scores: dict[str, float] = {}
    for l2 in L2_GRID:
        w, b = fit_softmax(x[fit], y[fit], l2)
        scores[f"{l2:g}"] = mean_breed_accuracy((x[held] @ w.T + b).argmax(1), y[held])
    best = max(L2_GRID, key=lambda l2: (scores[f"{l2:g}"], l2))
    return best, scores


@dataclass
class Judge:
    """A fitted probe: standardisation + linear layer over ``FeatureNet`` features."""

    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)
    weight: np.ndarray  # (K, F)
    bias: np.ndarray  # (K,)
    l2: float
    fingerprint: str
    n_train: int
    holdout_accuracy: dict[str, float]  # per grid l2: mean per-breed accuracy on the hold-out

    def predict(self, feats: np.ndarray) -> np.ndarray:
        """Breed ids (N,) for features (N, F)."""
        z = (feats.astype(np.float64) - self.mean) / self.std
        return np.asarray((z @ self.weight.T + self.bias).argmax(1))

    def save(self, path: Path) -> None:
        meta = {"l2": self.l2, "fingerprint": self.fingerprint, "n_train": self.n_train,
                "holdout_accuracy": self.holdout_accuracy}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, mean=self.mean, std=self.std, weight=self.weight, bias=self.bias,
                         meta=np.array(json.dumps(meta)))

        _save_atomic(path, write)

    @classmethod
    def load(cls, path: Path) -> Judge:
        with np.load(path) as z:
            meta: dict[str, Any] = json.loads(str(z["meta"]))
            return cls(z["mean"], z["std"], z["weight"], z["bias"], float(meta["l2"]),
                       str(meta["fingerprint"]), int(meta["n_train"]),
                       dict(meta["holdout_accuracy"]))


def fit_judge(feats: np.ndarray, labels: np.ndarray, fingerprint: str) -> Judge:
    """Standardise (train statistics), choose ``l2`` on the hold-out, refit on everything."""
    x = feats.astype(np.float64)
    mean = x.mean(0)
    # a feature constant over the training set (a dead ReLU6 channel) must not divide by zero
    std = x.std(0) + 1e-6
    z = (x - mean) / std
    l2, scores = choose_l2(z, labels)
    w, b = fit_softmax(z, labels, l2)
    return Judge(mean, std, w, b, l2, fingerprint, len(labels), scores)


def judge_fingerprint(net: FeatureNet, images: np.ndarray, labels: np.ndarray) -> str:
    """What a fitted judge depends on: its crops and labels, the backbone, the recipe."""
    key = json.dumps([net.fingerprint, images_fingerprint(images, labels), L2_GRID,
                      DEFAULT_L2, HOLDOUT_FRACTION, HOLDOUT_SEED])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def load_or_fit(net: FeatureNet, images: np.ndarray, labels: np.ndarray, cache_dir: Path, *,
                log: Callable[[str], None] = print,
                progress: Callable[[int, int], None] | None = None) -> Judge:
    """The judge for these training crops: from ``cache_dir`` if fitted before, else fitted
    (features of every crop, then the probe) and stored there."""
    fp = judge_fingerprint(net, images, labels)
    path = cache_dir / f"judge-{net.variant}-{fp}.npz"
    if path.exists():
        return Judge.load(path)
    log(f"fitting the breed judge ({net.variant} features + logistic regression) on "
        f"{len(images)} training crops -> {path}")
    judge = fit_judge(cached_features(net, images, cache_dir, progress), labels, fp)
    judge.save(path)
    return judge


# -- figures -----------------------------------------------------------------------------------
def accuracy_summary(pred: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Per breed (those present in ``labels``) the share judged right; their mean and min."""
    per_breed = {b.key: float((pred[labels == b.id] == b.id).mean())
                 for b in BREEDS if (labels == b.id).any()}
    vals = list(per_breed.values())
    return {"mean": float(np.mean(vals)) if vals else None,
            "min": float(min(vals)) if vals else None, "per_breed": per_breed, "n": len(labels)}

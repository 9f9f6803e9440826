"""The second breed judge of `tinycats eval generator` (generator/judge.py: a logistic
regression on frozen EfficientNet-Lite2 features), its cache, and the evaluation over several
seeds. Real Lite2 weights and the shipped ONNX models on small synthetic images: no data folder
of the user's and no ../shared needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinycats.breeds import BREEDS, NUM_BREEDS
from tinycats.data import cache
from tinycats.generator import judge as jd
from tinycats.generator.evaluate import EvalError, check_seeds, training_crop
from tinycats.paths import shipped_models_dir

#: two breeds with non-adjacent ids: the judge must not assume labels 0..K-1 are all present
A, B = BREEDS[1].id, BREEDS[9].id


def synthetic_cats(breed: int, n: int, seed: int, size: int = 64) -> np.ndarray:
    """(n, size, size, 3) uint8 'cats' of two easily told apart kinds, each image different:
    ``A`` warm orange with dark horizontal stripes, anything else grey-blue with light spots."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    out = []
    for _ in range(n):
        phase, gain = rng.uniform(0, 8), rng.uniform(0.8, 1.2)
        if breed == A:
            base = np.array([220.0, 140.0, 60.0])
            pattern = (np.sin((yy + phase) * np.pi / 4) > 0.3)[..., None] * -90.0
        else:
            base = np.array([110.0, 120.0, 150.0])
            spots = (np.sin((xx + phase) * np.pi / 5) * np.sin((yy + phase) * np.pi / 5)) > 0.5
            pattern = spots[..., None] * 80.0
        img = (base + pattern) * gain + rng.normal(0, 12, (size, size, 3))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return np.stack(out)


def two_breeds(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    images = np.concatenate([synthetic_cats(A, n, seed), synthetic_cats(B, n, seed + 1)])
    return images, np.array([A] * n + [B] * n)


@pytest.fixture(scope="module")
def net() -> jd.FeatureNet:
    return jd.FeatureNet()


def test_judge_learns_two_breeds_and_tells_held_out_ones_apart(net: jd.FeatureNet,
                                                               tmp_path: Path) -> None:
    train, labels = two_breeds(6, seed=0)
    judge = jd.load_or_fit(net, train, labels, tmp_path, log=lambda _: None)
    # 6 per breed: 1 of each held out, so l2 was chosen on them, every grid point reported
    assert judge.l2 in jd.L2_GRID and set(judge.holdout_accuracy) == {f"{v:g}"
                                                                      for v in jd.L2_GRID}
    assert judge.n_train == 12 and judge.weight.shape == (NUM_BREEDS, 1280)
    test, test_labels = two_breeds(4, seed=100)  # drawn apart from the training images
    pred = judge.predict(net.features(test))
    assert list(pred) == list(test_labels)
    summary = jd.accuracy_summary(pred, test_labels)
    assert summary["mean"] == summary["min"] == 1.0
    assert set(summary["per_breed"]) == {BREEDS[A].key, BREEDS[B].key}  # present breeds only


def test_fitted_judge_is_cached_and_refitted_when_a_crop_changes(
        net: jd.FeatureNet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images, labels = two_breeds(3, seed=5)
    logs: list[str] = []
    first = jd.load_or_fit(net, images, labels, tmp_path, log=logs.append)
    assert len(logs) == 1 and len(list(tmp_path.glob("judge-lite2-*.npz"))) == 1

    def no_fit(*_: Any) -> jd.Judge:
        raise AssertionError("refitted although nothing changed")

    monkeypatch.setattr(jd, "fit_judge", no_fit)
    again = jd.load_or_fit(net, images, labels, tmp_path, log=logs.append)
    assert len(logs) == 1 and again.fingerprint == first.fingerprint
    assert np.array_equal(again.weight, first.weight) and again.l2 == first.l2

    changed = images.copy()
    changed[0, 10, 10, 0] ^= 1  # one pixel, one bit
    relabelled = labels[::-1].copy()
    fp = jd.judge_fingerprint(net, images, labels)
    assert jd.judge_fingerprint(net, changed, labels) != fp
    assert jd.judge_fingerprint(net, images, relabelled) != fp
    with pytest.raises(AssertionError, match="refitted"):
        jd.load_or_fit(net, changed, labels, tmp_path, log=logs.append)
    monkeypatch.undo()
    jd.load_or_fit(net, changed, labels, tmp_path, log=logs.append)
    assert len(list(tmp_path.glob("judge-lite2-*.npz"))) == 2


def test_stronger_l2_shrinks_the_probe_and_the_hold_out_picks_from_the_grid() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 6))
    y = np.repeat(np.arange(3), 20)
    x = centres[y] + rng.normal(0, 1, (60, 6))
    w_weak, _ = jd.fit_softmax(x, y, 1e-4, num_classes=3)
    w_strong, _ = jd.fit_softmax(x, y, 1e-1, num_classes=3)
    assert np.linalg.norm(w_strong) < 0.5 * np.linalg.norm(w_weak)
    l2, scores = jd.choose_l2(x, y)
    assert l2 in jd.L2_GRID and scores[f"{l2:g}"] == max(scores.values()) > 0.9

    fit, held = jd.holdout_split(np.array([0] * 10 + [1] * 4))  # breed 1: too few to hold out
    assert len(held) == 2 and set(held) <= set(range(10)) and len(fit) == 12
    assert np.array_equal(held, jd.holdout_split(np.array([0] * 10 + [1] * 4))[1])  # fixed


def test_accuracy_summary_reports_the_worst_breed() -> None:
    labels = np.array([0, 0, 0, 0, 3, 3])
    pred = np.array([0, 0, 0, 5, 3, 0])
    s = jd.accuracy_summary(pred, labels)
    assert s["per_breed"] == {BREEDS[0].key: 0.75, BREEDS[3].key: 0.5}
    assert s["min"] == 0.5 and s["mean"] == pytest.approx(0.625) and s["n"] == 6


def test_seeds_that_would_share_noise_are_refused() -> None:
    check_seeds((1234, 99), n_per_breed=64, batch=32)
    with pytest.raises(EvalError, match="same noise"):
        check_seeds((1234, 2234), n_per_breed=64, batch=32)  # breed 1 of one = breed 0 of other
    with pytest.raises(EvalError, match="same noise"):
        check_seeds((1234, 1250), n_per_breed=64, batch=16)  # chunk 16 of one = chunk 0
    with pytest.raises(EvalError, match="at least one"):
        check_seeds((), n_per_breed=4, batch=4)


@pytest.fixture
def packed_root(tmp_path: Path) -> Path:
    """A data folder whose 64 px Oxford cache is a generator data pack of synthetic crops of two
    breeds (train, val and test), recorded as cropped the way the shipped generator's were."""
    from tinycats.export import manifest as mf
    from tinycats.runtime.sample import MODEL_KEY

    entry = mf.model_entry(mf.load(shipped_models_dir() / "manifest.json"), MODEL_KEY)
    root = tmp_path / "data"
    dst = cache.cache_path(root, "oxford", 64)
    dst.mkdir(parents=True)
    images = np.concatenate([two_breeds(3, seed=1)[0], two_breeds(1, seed=50)[0]])
    labels = np.array([A] * 3 + [B] * 3 + [A, B])
    splits = np.array([0, 0, 1, 0, 0, 1, 2, 2], np.int8)  # train, val, test
    np.save(dst / "images.npy", images)
    np.save(dst / "labels.npy", labels)
    np.save(dst / "splits.npy", splits)
    (dst / "names.json").write_text(json.dumps([f"cat_{i}" for i in range(len(labels))]))
    (dst / "manifest.json").write_text(json.dumps({"crop": training_crop(entry).record()}))
    return root


def test_eval_generator_two_seeds_reports_both_judges_per_seed_and_pooled(
        packed_root: Path, tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "report"
    r = cli("eval", "generator", "--data-dir", str(packed_root), "--n-per-breed", "1",
            "--steps", "1", "--solver", "euler", "--seed", "1234", "--seeds", "99",
            "--no-fid", "--no-update-manifest", "--report-dir", str(out))
    assert r.code == 0, r.err
    rep = json.loads((out / "generator.json").read_text())
    assert rep["sampler"]["seeds"] == [1234, 99] and rep["sampler"]["n_samples"] == 24

    ba = rep["breed_accuracy"]
    assert set(ba["per_seed"]) == {"1234", "99"}
    for s in ba["per_seed"].values():
        assert set(s) == {"mean", "min", "per_breed", "classified_as_other"}
    # pooled over two equal halves: the mean of the per-seed figures
    assert ba["mean"] == pytest.approx(np.mean([s["mean"] for s in ba["per_seed"].values()]))

    judge = rep["judge"]
    assert judge["n_train"] == 6 and judge["l2"] == jd.DEFAULT_L2  # too few to hold out
    assert judge["on_real_test"]["per_breed"] == {BREEDS[A].key: 1.0, BREEDS[B].key: 1.0}
    assert judge["on_real_test"]["n"] == 2
    on = judge["on_samples"]
    assert len(on["per_breed"]) == NUM_BREEDS and on["n"] == 24
    assert on["min"] == min(on["per_breed"].values())
    assert set(judge["per_seed"]) == {"1234", "99"}
    assert judge["samples_over_real"] == pytest.approx(on["mean"])  # real accuracy is 1.0
    assert len(list((packed_root / "cache" / "judge").glob("judge-lite2-*.npz"))) == 1

    mem = rep["memorisation"]
    assert set(mem["per_seed"]) == {"1234", "99"}
    assert 0 <= mem["share_samples_closer_than_5th_pct_of_test"] <= 1
    for text in ("seed 1234", "seed 99", "pooled", "judge: breed accuracy, min breed",
                 "not a cat", "near-copies", "judge (real test)"):
        assert text in r.out, text


def test_eval_generator_refuses_bad_seeds_in_one_line(cli: Any, tmp_path: Path) -> None:
    r = cli("eval", "generator", "--data-dir", str(tmp_path), "--seeds", "1234,x")
    assert r.code != 0 and "--seeds" in r.err and "Traceback" not in r.err
    r = cli("eval", "generator", "--data-dir", str(tmp_path), "--seed", "7", "--seeds", "7")
    assert r.code != 0 and "twice" in r.err

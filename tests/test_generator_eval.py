"""The measuring instruments of `tinycats eval generator`: FID, KID, nearest-image distances."""

import numpy as np

from tinycats.generator.evaluate import fid, kid, manifest_metrics, nearest, nearest_distances


def test_fid_zero_for_same_distribution_and_grows_with_shift() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 8))
    b = rng.standard_normal((2000, 8))
    assert fid(a, a) < 1e-6
    assert fid(a, b) < 0.1
    shifted = fid(a, b + 1.0)
    assert abs(shifted - 8.0) < 0.5  # ||mu1 - mu2||^2 = 8 for a unit shift in 8 dims
    assert fid(a, b * 2.0) > fid(a, b * 1.2) > fid(a, b)


def test_kid_near_zero_for_same_distribution() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((400, 16))
    b = rng.standard_normal((400, 16))
    same, _ = kid(a, b, subsets=10, subset_size=100)
    diff, _ = kid(a, b + 0.5, subsets=10, subset_size=100)
    assert abs(same) < 0.05 < diff


def test_nearest_distances_find_copies() -> None:
    rng = np.random.default_rng(2)
    train = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    queries = np.concatenate([train[:3], rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)])
    d = nearest_distances(queries, train)
    assert np.allclose(d[:3], 0.0, atol=1e-3)
    assert (d[3:] > 0.2).all()


def test_nearest_distances_find_mirrored_copies() -> None:
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    mirrored = train[:3, :, ::-1]  # left-right: the flip generator training applies
    assert (nearest_distances(mirrored, train, mirrored=False) > 0.2).all()
    assert np.allclose(nearest_distances(mirrored, train), 0.0, atol=1e-3)
    assert list(nearest(mirrored, train)[1]) == [0, 1, 2]  # the training image, not its mirror


def test_manifest_keeps_the_figures_the_about_page_shows() -> None:
    """The manifest's generator entry: headline figures plus per-breed accuracy, the share of
    non-cats and near-copies, and FID's real-vs-real reference (the About page explains FID
    with it); per-seed detail stays in the report."""
    per_breed = {"abyssinian": 0.5, "bengal": 1.0}
    report = {
        "breed_accuracy": {"mean": 0.75, "min": 0.5, "per_breed": per_breed,
                           "classified_as_other": 0.02, "per_seed": {"1": {}}},
        "judge": {"on_samples": {"mean": 0.7, "min": 0.4}},
        "fid": {"value": 100.0, "n_samples": 24, "real_vs_real_reference": 30.0},
        "kid": {"mean": 0.05},
        "memorisation": {"share_samples_closer_than_5th_pct_of_test": 0.01},
        "sampler": {"steps": 10},
    }
    m = manifest_metrics(report)
    assert m["breed_accuracy_per_breed"] == per_breed and m["not_a_cat"] == 0.02
    assert m["fid_real_vs_real_reference"] == 30.0 and m["near_copies"] == 0.01
    assert (m["fid"], m["kid"], m["judge_accuracy_min"]) == (100.0, 0.05, 0.4)
    assert "per_seed" not in str(m)

"""Base-model conditions for the upscaler (upscaler/regen.py, data.regen_fraction): the partial
re-generation is the rest of the sampler's own trajectory, the conditions are cached by their
key, and batches use them with their target's flip and noise level. A tiny randomly initialised
generator (16 px), exported to ONNX, stands in for the shipped one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tinycats.config import ConfigError, to_dict
from tinycats.export.generator_onnx import export_generator
from tinycats.generator.config import GeneratorConfig
from tinycats.generator.dit import DiTConfig, TinyDiT
from tinycats.runtime.sample import Generator, initial_noise, integrate, time_grid
from tinycats.training.checkpoint import save_atomic
from tinycats.upscaler import regen
from tinycats.upscaler.data import UpDataConfig, draw_batch, from_arrays, load_upscaler_data
from tinycats.upscaler.degrade import DegradeConfig, downscale

GEN = DiTConfig(image_size=16, patch_size=4, width=32, depth=2, heads=2)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("regen")
    torch.manual_seed(0)
    gen = TinyDiT(GEN)
    with torch.no_grad():  # every layer live, the zero-initialised ones included
        for p in gen.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    save_atomic({"model": gen.state_dict(), "config": to_dict(GeneratorConfig(name="tiny",
                                                                              model=GEN)),
                 "step": 0}, d / "gen.pt")
    export_generator(d / "gen.pt", d / "models", variants=("fp32",))
    return d / "models" / "manifest.json"


def faces(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """(n, 3, size, size) uint8: smooth random images (the face crops' layout in the cache)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 4, 4, generator=g)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear")
    return (x * 255).round().to(torch.uint8).numpy()


def test_a_later_start_is_the_rest_of_the_samplers_own_trajectory(manifest: Path) -> None:
    gen = Generator(manifest)
    st = gen.default_settings
    y = gen.one_hot([1, 3])
    noise = initial_noise(7, 2, gen.size)
    at: dict[int, np.ndarray] = {}
    full = gen.sample(noise, y, callback=lambda i, _n, x: at.__setitem__(i, x.copy()))
    k = st.steps - 3
    rest = integrate(lambda x, t: gen.velocity(x, t, y, st.cfg_scale), at[k], st.steps,
                     st.solver, st.shift, start=k)
    np.testing.assert_allclose(rest, full, atol=1e-5)


def test_regenerate_noises_to_the_grid_time_and_is_seeded(manifest: Path) -> None:
    gen = Generator(manifest)
    x = faces(2, gen.size).astype(np.float32) / 127.5 - 1.0
    a = regen.regenerate(gen, x, [0, 5], start=4, seed=1)
    assert a.shape == x.shape and np.isfinite(a).all() and np.abs(a).max() <= 1.0
    np.testing.assert_array_equal(a, regen.regenerate(gen, x, [0, 5], start=4, seed=1))
    assert not np.array_equal(a, regen.regenerate(gen, x, [0, 5], start=4, seed=2))
    # started at the last grid point, one Euler step from t_k * x + (1 - t_k) * eps
    st = gen.default_settings
    last = st.steps - 1
    t = time_grid(st.steps, st.shift)[last]
    eps = np.random.default_rng(3).standard_normal(x.shape, dtype=np.float32)
    x_t = np.float32(t) * x + np.float32(1 - t) * eps
    v = gen.velocity(x_t, t, gen.one_hot([0, 5]), st.cfg_scale)
    np.testing.assert_allclose(regen.regenerate(gen, x, [0, 5], start=last, seed=3),
                               np.clip(x_t + np.float32(1 - t) * v, -1, 1), atol=1e-5)


def test_conditions_are_computed_once_and_keyed(manifest: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    f, labels = faces(3), np.array([0, 4, 11])
    c = regen.base_model_conditions(tmp_path, manifest, f, labels, [7, 8], batch=2,
                                    log=lambda _: None)
    assert c.shape == (3, 2, 3, 16, 16) and c.dtype == torch.uint8
    monkeypatch.setattr(regen, "regenerate", lambda *a, **k: pytest.fail("not cached"))
    assert torch.equal(c, regen.base_model_conditions(tmp_path, manifest, f, labels, [7, 8]))
    assert regen.cache_path(tmp_path, manifest, f, [7, 9]) != \
        regen.cache_path(tmp_path, manifest, f, [7, 8])
    assert regen.cache_path(tmp_path, manifest, faces(3, seed=1), [7, 8]) != \
        regen.cache_path(tmp_path, manifest, f, [7, 8])


def test_batches_use_the_redrawn_conditions_with_their_targets_flip_and_noise() -> None:
    rng = np.random.default_rng(0)
    photos = rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    f = faces(5, 32, seed=2)
    data = from_arrays(photos, np.arange(4), f.transpose(0, 2, 3, 1), np.arange(5))
    plain = DegradeConfig(p_area=0.0, p_blur=0.0, p_jpeg=0.0, s_max=0.0)
    cfg = UpDataConfig(size=32, face_fraction=0.5, regen_fraction=1.0)
    base = draw_batch(data, cfg, plain, 16, seed=1, step=0)  # data.regen is None: no change
    # stand-in conditions: each face's own 16 px version, brightened, so they are told apart
    down = downscale(torch.from_numpy(f).float() / 127.5 - 1.0).clamp(-1, 1)
    data.regen = ((down * 0.5 + 0.5) * 127.5 + 127.5).round().to(torch.uint8)[:, None]
    b = draw_batch(data, cfg, plain, 16, seed=1, step=0)
    assert torch.equal(b.x, base.x)
    face = (b.cond - base.cond).abs().flatten(1).amax(1) > 0.05
    assert 0 < int(face.sum()) < 16  # the face rows changed, the photo rows did not
    expect = downscale(b.x[face]).clamp(-1, 1) * 0.5 + 0.5  # the flip follows the target's
    assert float((b.cond[face] - expect).abs().max()) < 0.02
    assert torch.equal(b.cond[~face], base.cond[~face])
    noisy = draw_batch(data, cfg, DegradeConfig(p_blur=0.0, p_jpeg=0.0, s_max=0.5), 16, 1, 0)
    assert float((noisy.cond[face] - b.cond[face]).std()) > 0.05  # noised at the row's s
    off = draw_batch(data, UpDataConfig(size=32, face_fraction=0.5), plain, 16, seed=1, step=0)
    assert torch.equal(off.cond, base.cond)  # regen_fraction 0: the recipe's batches as before


def test_regen_without_a_generator_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="generator"):
        load_upscaler_data(tmp_path, UpDataConfig(regen_fraction=0.5))

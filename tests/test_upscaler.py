"""The upscaler (upscaler/): shapes and cost, the identity start, the degradations and the noise
level the network is told, an overfit of one image pair through the real loss and sampler, the
recipe, and ONNX parity. Synthetic images and the committed fixtures only."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tinycats.config import ConfigError, from_dict, load_yaml, to_dict
from tinycats.data.images import load_square
from tinycats.upscaler.config import UpscalerConfig, config_from_checkpoint
from tinycats.upscaler.data import (
    UpBatch,
    UpDataConfig,
    draw_batch,
    from_arrays,
    load_upscaler_data,
)
from tinycats.upscaler.degrade import DegradeConfig, degrade, downscale
from tinycats.upscaler.evaluate import psnr, to_images
from tinycats.upscaler.loss import upscaler_loss
from tinycats.upscaler.model import ResBlock, UNetConfig, UpscalerUNet, flops_per_call
from tinycats.upscaler.sample import sample_upscale

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "oxford-mini" / "images"
TINY = UNetConfig(image_size=64, widths=[16, 32], mid_blocks=1, emb_dim=32, groups=4)


def inputs(b: int, size: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, 3, size, size, generator=g), torch.rand(b, generator=g),
            torch.rand(b, 3, size // 2, size // 2, generator=g) * 2 - 1,
            torch.rand(b, generator=g) * 0.3)


def synthetic_data(n: int = 6, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    photos = rng.integers(0, 256, (n, 128, 128, 3), dtype=np.uint8)
    faces = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    return from_arrays(photos, faces)


def test_shapes_and_cost() -> None:
    x_t, t, cond, s = inputs(2, 64)
    assert UpscalerUNet(TINY)(x_t, t, cond, s).shape == (2, 3, 64, 64)
    # the shipped size stays within its budget per network call (batch 1)
    assert flops_per_call(UpscalerUNet(UNetConfig())) <= 2.5e9


def test_untouched_model_is_bicubic_and_its_blocks_are_identity() -> None:
    torch.manual_seed(0)
    model = UpscalerUNet(TINY)
    x_t, t, cond, s = inputs(2, 64)
    c = model.condition(t, s)
    blocks = [m for m in model.modules() if isinstance(m, ResBlock)]
    assert len(blocks) == 3
    for blk in blocks:
        h = torch.randn(2, blk.conv1.in_channels, 8, 8)
        torch.testing.assert_close(blk(h, c), blk.skip(h))
    bicubic = F.interpolate(cond, scale_factor=2.0, mode="bicubic", align_corners=False)
    torch.testing.assert_close(model(x_t, t, cond, s), bicubic)
    # and so is its sample: each step moves x_t toward the (constant) prediction
    out = sample_upscale(model, cond, steps=3, s=0.0, solver="heun")
    torch.testing.assert_close(out, bicubic.clamp(-1, 1), atol=1e-5, rtol=0)


def test_degradations_are_deterministic_and_s_is_the_noise_level() -> None:
    x = torch.rand(4, 3, 128, 128, generator=torch.Generator().manual_seed(1)) * 2 - 1
    cfg = DegradeConfig(p_blur=0.5, p_jpeg=0.5)
    a = degrade(x, cfg, torch.Generator().manual_seed(7))
    b = degrade(x, cfg, torch.Generator().manual_seed(7))
    c = degrade(x, cfg, torch.Generator().manual_seed(8))
    assert a.cond.shape == (4, 3, 64, 64)
    assert torch.equal(a.cond, b.cond) and torch.equal(a.s, b.s)
    assert not torch.equal(a.cond, c.cond)
    assert ((a.s >= 0) & (a.s <= cfg.s_max)).all()
    # without blur and JPEG, what is left over the area downscale is noise of std s
    plain = DegradeConfig(p_area=1.0, p_blur=0.0, p_jpeg=0.0, s_max=0.4)
    d = degrade(x, plain, torch.Generator().manual_seed(3))
    std = (d.cond - downscale(x, "area")).flatten(1).std(dim=1)
    torch.testing.assert_close(std, d.s, atol=0.01, rtol=0.03)


def test_batches_come_from_seed_and_step_and_the_model_gets_their_s() -> None:
    data = synthetic_data()
    cfg = UpDataConfig(size=64, crop_min=0.5)
    a = draw_batch(data, cfg, DegradeConfig(), 8, seed=3, step=5)
    b = draw_batch(data, cfg, DegradeConfig(), 8, seed=3, step=5)
    c = draw_batch(data, cfg, DegradeConfig(), 8, seed=3, step=6)
    assert torch.equal(a.x, b.x) and torch.equal(a.cond, b.cond) and not torch.equal(a.x, c.x)
    assert a.x.shape == (8, 3, 64, 64) and a.cond.shape == (8, 3, 32, 32)
    assert float(a.x.min()) >= -1 and float(a.x.max()) <= 1
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    model = UpscalerUNet(TINY)
    model.register_forward_hook(lambda _m, args, _out: seen.append((args[2], args[3])))
    upscaler_loss(model, a, torch.Generator().manual_seed(0))
    assert torch.equal(seen[0][0], a.cond) and torch.equal(seen[0][1], a.s)
    seen.clear()
    sample_upscale(model, a.cond[:2], steps=2, s=0.125, solver="euler")
    assert len(seen) == 2 and all(torch.equal(s, torch.full((2,), 0.125)) for _, s in seen)


def test_the_test_split_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="test split"):
        load_upscaler_data(tmp_path, UpDataConfig(splits=["train", "test"]))


def test_tiny_model_overfits_one_pair_beyond_bicubic() -> None:
    """One 32 -> 64 px pair (a real photo at 16 px, blown up 4x with hard edges), the real loss
    and sampler. With the interpolant's t reversed, or x and the noise swapped, the sample
    lands ~15 dB below bicubic instead of above it."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    img = load_square(FIXTURES / "Bengal_1.jpg", 16).repeat(4, 0).repeat(4, 1)
    x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    cond = downscale(x, "bicubic")
    model = UpscalerUNet(TINY)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    # 8 copies: with 4, the result swung by 6 dB with the seed of t and the noise (33.8 to
    # 39.4 dB against bicubic's 35.2); with 8 it lands at 40-41.4 dB for seeds 0 to 5
    batch = UpBatch(x.repeat(8, 1, 1, 1), cond.repeat(8, 1, 1, 1), torch.zeros(8), g)
    for _ in range(200):
        loss, _ = upscaler_loss(model, batch, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = sample_upscale(model.eval(), cond, steps=4, s=0.0, solver="heun")
    bicubic = F.interpolate(cond, scale_factor=2.0, mode="bicubic", align_corners=False)
    assert psnr(to_images(out), img[None]) > psnr(to_images(bicubic), img[None]) + 1.5


def test_recipe_parses_and_unknown_keys_are_errors() -> None:
    cfg = load_yaml(UpscalerConfig, ROOT / "configs" / "upscaler.yaml")
    assert cfg.model.image_size == 2 * 64 and "test" not in cfg.data.splits
    assert flops_per_call(UpscalerUNet(cfg.model)) <= 2.5e9
    with pytest.raises(ConfigError, match="s_maxx"):
        from_dict(UpscalerConfig, {"degrade": {"s_maxx": 0.1}})


def test_checkpoints_of_the_removed_breed_input_read_or_are_refused() -> None:
    """A checkpoint saved before the breed input was removed carries its settings: with the
    breed off they are dropped and the rest reads as saved; a model that took it is refused.
    A recipe that still names them is a typo like any other."""
    old = to_dict(UpscalerConfig(name="old", t_std=0.8))
    old.update(p_uncond=0.1)
    old["model"].update(breed=False, num_classes=14)
    old["sampler"].update(cfg_scale=1.0)
    assert config_from_checkpoint(old) == UpscalerConfig(name="old", t_std=0.8)
    old["model"]["breed"] = True
    with pytest.raises(ConfigError, match="takes the breed"):
        config_from_checkpoint(old)
    with pytest.raises(ConfigError, match="p_uncond"):
        from_dict(UpscalerConfig, {"p_uncond": 0.1})


def test_onnx_export_matches_torch(tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    torch.manual_seed(0)
    model = UpscalerUNet(TINY).eval()
    with torch.no_grad():  # move the zero-initialised convs off zero: every path counts
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    args = inputs(2, 64, seed=1)
    path = tmp_path / "upscaler.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # the TorchScript exporter: the same plain ops as the dynamo one, in seconds not minutes
        torch.onnx.export(model, args, str(path), dynamo=False, opset_version=17,
                          input_names=["x", "t", "cond", "s"], output_names=["out"],
                          dynamic_axes={n: {0: "batch"} for n in ("x", "t", "cond", "s", "out")})
    graph = onnx.load(str(path)).graph
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs and all(a.i == 1 for n in convs for a in n.attribute if a.name == "group")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args, strict=True)}
    got = sess.run(None, feeds)[0]
    with torch.no_grad():
        want = model(*args).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    """Two steps, then two more from ``last.pt``, land on the weights of four straight steps:
    the batches, t and noise come from (seed, step), and the checkpoint keeps the rest."""
    from tinycats.upscaler.config import UpTrainConfig
    from tinycats.upscaler.train import load_upscaler, train

    torch.set_num_threads(1)
    cfg = UpscalerConfig(model=TINY, data=UpDataConfig(size=64),
                         train=UpTrainConfig(batch_size=4, steps=4, warmup=1, ckpt_every=100,
                                             sample_every=0, log_every=2, threads=1))
    data = synthetic_data()
    train(cfg, data, tmp_path / "straight", device="cpu", log=lambda _m: None)
    train(cfg, data, tmp_path / "split", device="cpu", log=lambda _m: None, stop_after_steps=2)
    summary = train(cfg, data, tmp_path / "split", device="cpu", log=lambda _m: None)
    assert summary["step"] == 4 and (tmp_path / "split" / "samples" / "final.png").exists()
    a, _ = load_upscaler(tmp_path / "straight" / "ema.pt")
    b, loaded = load_upscaler(tmp_path / "split" / "ema.pt")
    assert loaded == cfg
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0, msg=name)


def test_eval_measures_the_breed_on_originals_and_both_upscalings() -> None:
    """With a breed judge, each set (originals, bicubic, model) is judged on its own images:
    here a judge that reads the breed from an image's grey level, on flat faces of every breed
    at their own level, and an untouched model (its output is the bicubic image)."""
    from tinycats.upscaler.evaluate import BreedJudge, UpEvalConfig, evaluate_upscaler

    labels = np.arange(24) % 12
    originals = np.repeat((labels * 20 + 10).astype(np.uint8), 64 * 64 * 3).reshape(24, 64, 64, 3)
    seen: list[int] = []

    def predict(images: np.ndarray) -> np.ndarray:
        seen.append(len(images))
        return (images.reshape(len(images), -1).mean(1) // 20).astype(np.int64)

    model = UpscalerUNet(TINY).eval()
    rep = evaluate_upscaler(model, originals, labels, UpEvalConfig(steps=1, batch=8),
                            judge=BreedJudge(predict, other_id=12))
    assert seen == [24, 24, 24]
    for name in ("original", "bicubic", "model"):
        assert rep[name]["classifier"]["mean"] == 1.0, name
    assert "fid" not in rep["model"]
    shifted = evaluate_upscaler(model, originals, (labels + 1) % 12, UpEvalConfig(steps=1),
                                judge=BreedJudge(predict, other_id=12))
    assert shifted["original"]["classifier"]["mean"] == 0.0

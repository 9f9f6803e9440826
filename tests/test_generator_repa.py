"""Representation alignment (generator/repa.py): the hidden tokens it aligns are the model's own,
a flipped image gets the mirrored target grid, the targets are cached and exact on reuse, and a
training run with the term learns the alignment, checkpoints the projector and resumes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinycats.config import ConfigError
from tinycats.generator.config import GenDataConfig, GeneratorConfig, GenTrainConfig
from tinycats.generator.data import attach_targets, draw_batch, from_arrays
from tinycats.generator.dit import DiTConfig, TinyDiT, one_hot
from tinycats.generator.repa import (
    RepaConfig,
    alignment_loss,
    encode,
    features_for,
    flip_tokens,
    load_encoder,
)
from tinycats.generator.train import train

TINY = DiTConfig(image_size=16, patch_size=4, width=32, depth=3, heads=2)
OXFORD_IMAGES = Path(__file__).parent / "fixtures" / "oxford-mini" / "images"


def cats_64(n: int) -> torch.Tensor:
    """``n`` real Oxford cats (committed fixtures), centre-cropped: (n, 3, 64, 64) uint8."""
    out = []
    for path in sorted(OXFORD_IMAGES.glob("*.jpg"))[:n]:
        im = Image.open(path).convert("RGB")
        s = min(im.size)
        left, top = (im.width - s) // 2, (im.height - s) // 2
        im = im.crop((left, top, left + s, top + s)).resize((64, 64), Image.Resampling.BILINEAR)
        out.append(torch.from_numpy(np.array(im)).permute(2, 0, 1))
    return torch.stack(out)


def test_hidden_tokens_are_the_models_own_and_forward_is_unchanged() -> None:
    torch.manual_seed(0)
    model = TinyDiT(TINY)
    with torch.no_grad():  # live adaLN gates, so each block changes the tokens
        for blk in model.blocks:
            torch.nn.init.normal_(blk.ada[1].weight, std=0.2)  # type: ignore[index, union-attr]
    x, t, y = torch.randn(2, 3, 16, 16), torch.rand(2), one_hot(torch.tensor([0, 5]))
    out, h2 = model.forward_with_hidden(x, t, y, 2)
    assert torch.equal(out, model(x, t, y))
    c = model.condition(t, y)
    from tinycats.generator.dit import patchify

    h = model.patch_embed(patchify(x, TINY.patch_size)) + model.pos_embed
    for blk in model.blocks[:2]:
        h = blk(h, c)
    torch.testing.assert_close(h2, h)
    _, h1 = model.forward_with_hidden(x, t, y, 1)
    assert not torch.allclose(h1, h2)


def test_alignment_loss_is_zero_when_aligned_and_ignores_scale() -> None:
    z = torch.randn(3, 16, 8)
    assert torch.allclose(alignment_loss(z, 5 * z), torch.zeros(3), atol=1e-6)
    assert torch.allclose(alignment_loss(z, -z), torch.full((3,), 2.0), atol=1e-6)


def test_flip_tokens_mirrors_columns_of_the_grid() -> None:
    grid = torch.arange(2 * 3 * 3 * 1, dtype=torch.float32).reshape(2, 9, 1)
    flipped = flip_tokens(grid, 3)
    assert flipped[0, :3, 0].tolist() == [2.0, 1.0, 0.0]  # first row, reversed
    assert torch.equal(flip_tokens(flipped, 3), grid)


def test_encoder_targets_of_a_flipped_cat_are_the_mirrored_grid() -> None:
    """The real ImageNet encoder on real cats: the features of a mirrored photo match the
    mirrored token grid much better than the unmirrored one, so draw_batch's flip is right."""
    cfg = RepaConfig(weight=0.5)
    enc = load_encoder(cfg)
    imgs = cats_64(4)
    a = encode(enc, imgs, cfg, grid=8)
    b = encode(enc, imgs.flip(-1), cfg, grid=8)
    assert a.shape == (4, 64, 120)
    mirrored = 1 - alignment_loss(flip_tokens(a, 8), b)
    unmirrored = 1 - alignment_loss(a, b)
    assert (mirrored > 0.75).all() and (mirrored > unmirrored + 0.2).all()


def test_targets_are_cached_and_exact_on_reuse(tmp_path: Path) -> None:
    cfg = RepaConfig(weight=0.5)
    imgs = cats_64(3)
    calls: list[int] = []
    first = features_for(imgs, cfg, 8, tmp_path, calls.append, batch=2)
    assert calls == [2, 1] and first.dtype == torch.float16
    again = features_for(imgs, cfg, 8, tmp_path, calls.append)
    assert calls == [2, 1] and torch.equal(first, again)  # read back, not recomputed
    (next(tmp_path.glob("*.pt"))).write_bytes(b"damaged")
    rebuilt = features_for(imgs, cfg, 8, tmp_path)
    assert torch.equal(first, rebuilt)


def test_batches_carry_the_targets_of_their_images_flipped_with_them() -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    extra = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    data = from_arrays(imgs, np.arange(6), extra)
    # A target per image that encodes its index, so the batch's rows can be traced back.
    tok = torch.arange(16, dtype=torch.float16).reshape(1, 16, 1)
    data = dataclasses.replace(
        data, targets=tok + 100 * torch.arange(6, dtype=torch.float16).view(6, 1, 1),
        extra_targets=tok + 1000 + 100 * torch.arange(5, dtype=torch.float16).view(5, 1, 1))
    b = draw_batch(data, GenDataConfig(size=16, any_cat_fraction=0.5), 32, seed=1, step=0)
    assert b.targets is not None
    for x, tgt in zip(b.x, b.targets, strict=True):
        row = int(tgt.min()) % 1000 // 100
        src = (data.extra if tgt.min() >= 1000 else data.images)
        assert src is not None
        img = src[row].float() / 127.5 - 1
        if torch.equal(x, img):
            assert torch.equal(tgt[:, 0], tok[0, :, 0] + tgt.min())
        else:  # a mirrored image has the mirrored grid
            assert torch.equal(x, img.flip(-1))
            assert torch.equal(tgt, flip_tokens((tok + tgt.min()).to(tgt.dtype), 4)[0])


def repa_cfg(steps: int) -> GeneratorConfig:
    cfg = GeneratorConfig(model=TINY, data=GenDataConfig(size=16, any_cat_fraction=0.0),
                          train=GenTrainConfig(batch_size=8, steps=steps, lr=3e-3, warmup=1,
                                               ckpt_every=10, sample_every=0, log_every=10),
                          repa=RepaConfig(weight=0.5, layer=2, proj_hidden=32))
    return dataclasses.replace(cfg, sampler=dataclasses.replace(cfg.sampler, steps=2))


def test_training_with_repa_learns_alignment_checkpoints_and_resumes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8), np.arange(8))
    cfg = repa_cfg(60)
    with pytest.raises(ConfigError, match="encoder"):
        train(cfg, data, tmp_path / "none", log=lambda s: None)
    with pytest.raises(ConfigError, match="not a block"):  # would silently align the input
        train(dataclasses.replace(cfg, repa=RepaConfig(weight=0.5, layer=9)), data,
              tmp_path / "none", log=lambda s: None)
    with pytest.raises(ConfigError, match="encoder_block"):
        load_encoder(RepaConfig(weight=0.5, encoder_block=99))
    # Stand-in targets that the image determines (each 4x4 patch's mean colour, centred): the
    # real encoder is tested above.
    pooled = torch.nn.functional.avg_pool2d(data.images.float() / 127.5 - 1, 4)
    data = dataclasses.replace(data, targets=pooled.flatten(2).transpose(1, 2).half())
    train(cfg, data, tmp_path, log=lambda s: None, stop_after_steps=30)
    ck = torch.load(tmp_path / "last.pt", weights_only=False)
    assert ck["step"] == 30 and "repa_projector" in ck
    logs: list[str] = []
    summary = train(cfg, data, tmp_path, log=logs.append)
    assert summary["step"] == 60 and any("resumed" in m for m in logs)
    assert any(" align " in m for m in logs if m.startswith("step "))
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    values = [r["repa_align"] for r in rows if "repa_align" in r]
    assert values[-1] < values[0] - 0.1, values  # the projector learned to align
    # Resuming it with the term switched off is refused with a reason, not a stack trace.
    from tinycats.training.checkpoint import CheckpointError

    off = dataclasses.replace(cfg, repa=RepaConfig(weight=0.0))
    with pytest.raises(CheckpointError, match="representation alignment"):
        train(dataclasses.replace(off, train=dataclasses.replace(off.train, steps=70)), data,
              tmp_path, log=lambda s: None)
    # The exported weights are TinyDiT's alone: the projector stays in the checkpoint.
    ema = torch.load(tmp_path / "ema.pt", weights_only=False)["model"]
    assert not any(k.startswith("projector") for k in ema)
    TinyDiT(TINY).load_state_dict(ema)


def test_attach_targets_covers_breeds_and_unlabeled(tmp_path: Path) -> None:
    imgs = cats_64(3).permute(0, 2, 3, 1).numpy()
    data = from_arrays(imgs[:2], np.arange(2), imgs[2:])
    out = attach_targets(data, RepaConfig(weight=0.5), 8, tmp_path)
    assert out.targets is not None and out.extra_targets is not None
    assert out.targets.shape == (2, 64, 120) and out.extra_targets.shape == (1, 64, 120)
    assert torch.isfinite(out.targets.float()).all()

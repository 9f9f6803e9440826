"""Overfit test: a tiny TinyDiT trained on CPU for 1000 steps on 8 real photos (16x16)
reproduces each photo from its class (breed ids 0..7). If noise, targets, conditioning, patches
or the sampler were wrong
(the old project's failures), this cannot pass."""

import dataclasses
from pathlib import Path

import numpy as np
import torch

from tinycats.breeds import NULL_ID
from tinycats.data.images import load_square
from tinycats.generator import flow
from tinycats.generator.config import GenDataConfig, GeneratorConfig, GenTrainConfig
from tinycats.generator.data import from_arrays
from tinycats.generator.dit import DiTConfig, one_hot
from tinycats.generator.train import load_generator, train

FIXTURES = Path(__file__).parent / "fixtures" / "oxford-mini" / "images"
EIGHT = ["Abyssinian_1", "Bengal_1", "Birman_1", "Bombay_1", "British_Shorthair_2",
         "Egyptian_Mau_1", "Maine_Coon_1", "Persian_1"]


def eight_images(size: int = 16) -> np.ndarray:
    """Eight real Oxford-IIIT Pet photos (committed fixtures), one per breed, at 16x16."""
    return np.stack([load_square(FIXTURES / f"{name}.jpg", size) for name in EIGHT])


def test_tiny_model_overfits_eight_images(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    imgs = eight_images()
    labels = np.arange(8)
    cfg = GeneratorConfig(
        name="overfit",
        model=DiTConfig(image_size=16, patch_size=4, width=64, depth=2, heads=2),
        prediction="x", t_sampling="logit_normal", p_uncond=0.1,
        data=GenDataConfig(size=16, any_cat_fraction=0.0, hflip=False),
        train=GenTrainConfig(batch_size=32, steps=1000, lr=2e-3, warmup=20, min_lr_ratio=0.05,
                             ema_decay=0.99, ckpt_every=10_000, sample_every=0,
                             log_every=100, threads=1),
    )
    cfg = dataclasses.replace(cfg, sampler=dataclasses.replace(cfg.sampler, steps=10))
    summary = train(cfg, from_arrays(imgs, labels), tmp_path, log=lambda s: None)
    assert summary["step"] == 1000 and summary["skipped"] == 0

    losses = [float(line.split('"loss": ')[1].split(",")[0])
              for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.1 < 0.5 < losses[0]

    model, _ = load_generator(tmp_path / "ema.pt")
    noise = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    y = one_hot(torch.arange(8))
    y_null = one_hot(torch.full((8,), NULL_ID))
    out = flow.sample(model, noise, y, y_null, steps=10, cfg_scale=2.0, prediction="x",
                      solver="heun")
    target = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
    dist = ((out[:, None] - target[None]) ** 2).mean(dim=(2, 3, 4))  # sample i vs image j
    own = dist.diag()
    assert own.max() < 0.05, own
    assert torch.equal(dist.argmin(dim=1), torch.arange(8))  # each class gives its own image

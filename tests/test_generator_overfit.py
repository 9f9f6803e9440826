"""Overfit test: a tiny TinyDiT trained on CPU for 1000 steps on 8 real photos (16x16)
reproduces each photo from its class (breed ids 0..7). If noise, targets, conditioning, patches
or the sampler were wrong
(the old project's failures), this cannot pass. The same run is the near-copy tracker's test
(generator/near_copies.py): a model that copies its images must be measured as copying them."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from tinycats.breeds import NULL_ID
from tinycats.data.images import load_square
from tinycats.generator import flow
from tinycats.generator.config import GenDataConfig, GeneratorConfig, GenTrainConfig
from tinycats.generator.data import from_arrays
from tinycats.generator.dit import DiTConfig, one_hot
from tinycats.generator.evaluate import nearest_distances
from tinycats.generator.train import load_generator, train

FIXTURES = Path(__file__).parent / "fixtures" / "oxford-mini" / "images"
EIGHT = ["Abyssinian_1", "Bengal_1", "Birman_1", "Bombay_1", "British_Shorthair_2",
         "Egyptian_Mau_1", "Maine_Coon_1", "Persian_1"]
#: photos of the same breeds the run never sees: the near-copy cut's held-out set
OTHER = ["Abyssinian_10", "Bengal_10", "Birman_10", "Bombay_10", "British_Shorthair_10",
         "Egyptian_Mau_10", "Maine_Coon_10", "Persian_10"]


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
                             log_every=100, threads=1, track_every=100, track_samples=8,
                             keep_tracked_ema=True),
    )
    cfg = dataclasses.replace(cfg, sampler=dataclasses.replace(cfg.sampler, steps=10))
    # the cut as the evaluation draws it: 5th percentile of held-out photos' nearest distances
    held_out = np.stack([load_square(FIXTURES / f"{name}.jpg", 16) for name in OTHER])
    cut = float(np.percentile(nearest_distances(held_out, imgs), 5))
    said: list[str] = []
    summary = train(cfg, from_arrays(imgs, labels), tmp_path, log=said.append, near_copy_cut=cut)
    assert summary["step"] == 1000 and summary["skipped"] == 0

    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert losses[-1] < 0.1 < 0.5 < losses[0]
    # near-copies every 100 steps: none while the model draws blurs, all of them once it copies
    # (measured: 0% at step 100, 50% at 300-400, 100% from 560 on)
    tracked = {r["step"]: r["near_copies"] for r in records if "near_copies" in r}
    assert list(tracked) == list(range(100, 1001, 100))
    assert tracked[100] == 0.0 and tracked[1000] == 1.0, tracked
    assert "near-copies at step 1000: 100.0% of 8 samples" in " ".join(said)
    load_generator(tmp_path / "ema-step001000.pt")  # the measured weights load, for export
    assert len(list(tmp_path.glob("ema-step*.pt"))) == 10

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

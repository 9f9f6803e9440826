"""Tests that would have caught the failures of the project tinycats replaces (see
ARCHITECTURE.md): missing position embedding, scrambling unpatchify, non-identity fresh blocks,
a noiseless input or zero target, dead class embeddings, double CFG, non-deterministic sampling."""

import pytest
import torch

from tinycats.breeds import NULL_ID, NUM_GENERATOR_CLASSES
from tinycats.generator import flow
from tinycats.generator.dit import (
    DiTBlock,
    DiTConfig,
    TinyDiT,
    one_hot,
    patchify,
    sincos_pos_embed_2d,
    unpatchify,
)

TINY = DiTConfig(image_size=16, patch_size=4, width=32, depth=2, heads=2)


def randomize(model: TinyDiT, seed: int = 0) -> TinyDiT:
    """Give zero-initialised (adaLN-Zero) layers random weights so every path is live."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


def test_patchify_roundtrip_exact_and_patch_content():
    x = torch.randn(2, 3, 16, 16)
    tokens = patchify(x, 4)
    assert tokens.shape == (2, 16, 48)
    assert torch.equal(unpatchify(tokens, 4, 3, 4), x)
    # token 5 is the patch at grid row 1, column 1: pixels [4:8, 4:8]
    assert torch.equal(tokens[0, 5].reshape(4, 4, 3), x[0, :, 4:8, 4:8].permute(1, 2, 0))


def test_position_embedding_present_distinct_and_used():
    pe = sincos_pos_embed_2d(32, 4)
    assert pe.shape == (16, 32)
    assert torch.cdist(pe, pe).fill_diagonal_(1.0).min() > 0.1  # every position distinct
    model = randomize(TinyDiT(TINY))
    assert torch.allclose(model.pos_embed[0], pe)
    x, t, y = torch.zeros(1, 3, 16, 16), torch.tensor([0.5]), one_hot(torch.tensor([0]))
    out = model(x, t, y)
    # A constant image has identical patches: only the position embedding tells tokens apart.
    toks = patchify(out, 4)[0]
    assert (toks - toks[0]).abs().max() > 1e-3
    model.pos_embed.zero_()
    toks0 = patchify(model(x, t, y), 4)[0]
    assert (toks0 - toks0[0]).abs().max() < 1e-5


def test_adaln_zero_fresh_block_is_identity():
    blk = TinyDiT(TINY).blocks[0]
    assert isinstance(blk, DiTBlock)
    h, c = torch.randn(2, 16, 32), torch.randn(2, 32)
    assert torch.equal(blk(h, c), h)
    fresh = TinyDiT(TINY)
    assert torch.count_nonzero(fresh(torch.randn(2, 3, 16, 16), torch.rand(2),
                                     one_hot(torch.tensor([1, 2])))) == 0


def test_noisy_input_contains_noise_and_target_nonzero():
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    eps = torch.randn_like(x)
    t = torch.tensor([0.0, 0.3, 0.7, 0.95])
    x_t = flow.interpolate(x, eps, t)
    assert torch.allclose(x_t[0], eps[0])  # t=0 is pure noise
    for i in range(1, 4):
        assert (x_t[i] - x[i]).abs().mean() > 0.01  # noise really present
        assert torch.allclose(x_t[i], t[i] * x[i] + (1 - t[i]) * eps[i])
    v = x - eps
    assert v.abs().mean() > 0.5  # the loss target is not zero


def test_every_class_embedding_gets_gradient_null_included():
    model = randomize(TinyDiT(TINY))
    labels = torch.arange(NUM_GENERATOR_CLASSES)
    x = torch.randn(len(labels), 3, 16, 16)
    loss, _ = flow.flow_loss(model, x, one_hot(labels), torch.rand(len(labels)),
                             torch.randn_like(x), "x")
    loss.backward()
    assert model.class_table.grad is not None
    per_row = model.class_table.grad.abs().sum(dim=1)
    assert (per_row > 0).all(), per_row
    assert NULL_ID == NUM_GENERATOR_CLASSES - 1


def test_cfg_scale_one_equals_conditional():
    model = randomize(TinyDiT(TINY)).eval()
    x = torch.randn(3, 3, 16, 16)
    y = one_hot(torch.tensor([0, 5, 11]))
    y_null = one_hot(torch.full((3,), NULL_ID))
    with torch.no_grad():
        v1 = flow.guided_velocity(model, x, 0.4, y, y_null, 1.0, "x")
        t = torch.full((3,), 0.4)
        cond = flow.to_velocity(model(x, t, y), x, t, "x")
        v3 = flow.guided_velocity(model, x, 0.4, y, y_null, 3.0, "x")
        null = flow.to_velocity(model(x, t, y_null), x, t, "x")
    assert torch.allclose(v1, cond, atol=1e-6)
    assert torch.allclose(v3, null + 3.0 * (cond - null), atol=1e-5)  # CFG applied once


def test_seeded_sampler_is_deterministic_and_label_dependent():
    model = randomize(TinyDiT(TINY)).eval()
    def run(seed: int, label: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(2, 3, 16, 16, generator=g)
        y = one_hot(torch.full((2,), label))
        y_null = one_hot(torch.full((2,), NULL_ID))
        return flow.sample(model, noise, y, y_null, steps=4, cfg_scale=2.0, prediction="x",
                           solver="heun")
    a, b = run(7, 3), run(7, 3)
    assert torch.equal(a, b)
    assert not torch.equal(a, run(8, 3))
    assert not torch.equal(a, run(7, 4))
    assert a.abs().max() <= 1.0


def test_class_weights_mix_interpolates_embedding():
    model = randomize(TinyDiT(TINY))
    t = torch.tensor([0.5])
    y = 0.25 * one_hot(torch.tensor([1])) + 0.75 * one_hot(torch.tensor([10]))
    c = model.condition(t, y)
    c1 = model.condition(t, one_hot(torch.tensor([1])))
    c10 = model.condition(t, one_hot(torch.tensor([10])))
    assert torch.allclose(c, 0.25 * c1 + 0.75 * c10, atol=1e-6)


def test_time_grid_and_solvers_follow_contract():
    assert flow.time_grid(4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    shifted = flow.time_grid(4, shift=3.0)
    assert shifted[0] == 0.0 and shifted[-1] == 1.0 and shifted[1] < 0.25
    # With a known velocity field v = const, Euler and Heun both land exactly at x0 + v.
    v = torch.full((1, 3, 4, 4), 0.5)
    def const(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return v.expand_as(x)
    x0 = torch.zeros(1, 3, 4, 4)
    y = torch.zeros(1, NUM_GENERATOR_CLASSES)
    for solver in ("euler", "heun"):
        out = flow.sample(const, x0, y, y, steps=5, cfg_scale=1.0, prediction="v",
                          solver=solver)  # type: ignore[arg-type]
        assert torch.allclose(out, x0 + 0.5)


def test_x_prediction_velocity_clipped_near_one():
    x_t = torch.zeros(1, 3, 2, 2)
    out = torch.ones(1, 3, 2, 2)
    v = flow.to_velocity(out, x_t, torch.tensor([1.0]), "x")
    assert torch.allclose(v, torch.full_like(v, 1 / flow.T_EPS))


def test_final_conv_starts_as_identity_and_warm_start_resumes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    import numpy as np

    from tinycats.generator.config import GenDataConfig, GeneratorConfig, GenTrainConfig
    from tinycats.generator.data import from_arrays
    from tinycats.generator.train import train

    cfg_conv = dataclasses.replace(TINY, final_conv=True)
    fresh = TinyDiT(cfg_conv)
    assert torch.count_nonzero(fresh(torch.randn(2, 3, 16, 16), torch.rand(2),
                                     one_hot(torch.tensor([1, 2])))) == 0
    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8), np.arange(8))
    base = GeneratorConfig(model=TINY, data=GenDataConfig(size=16, any_cat_fraction=0.0),
                           train=GenTrainConfig(batch_size=8, steps=6, warmup=1,
                                                ckpt_every=3, sample_every=0, log_every=3))
    base = dataclasses.replace(base, sampler=dataclasses.replace(base.sampler, steps=2))
    train(base, data, tmp_path, log=lambda s: None, stop_after_steps=3)
    # The same run, resumed with a layer added to the architecture: old weights kept exactly,
    # the new layer joins the optimizer, training continues to the end of the schedule.
    logs: list[str] = []
    summary = train(dataclasses.replace(base, model=cfg_conv), data, tmp_path, log=logs.append)
    assert summary["step"] == 6
    assert any("new parameters" in m for m in logs)
    ck = torch.load(tmp_path / "last.pt", weights_only=False)
    assert len(ck["opt_groups"]) == 2 and any(n.startswith("refine") for n in ck["opt_groups"][1])
    # and a third resume with the saved groups works too
    summary = train(dataclasses.replace(base, model=cfg_conv,
                                        train=dataclasses.replace(base.train, steps=7)),
                    data, tmp_path, log=lambda s: None)
    assert summary["step"] == 7


def test_training_log_gives_eta_and_warns_early_when_over_the_time_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    import numpy as np

    from tinycats.generator.config import GenDataConfig, GeneratorConfig, GenTrainConfig
    from tinycats.generator.data import from_arrays
    from tinycats.generator.train import train

    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8), np.arange(8))
    cfg = GeneratorConfig(model=TINY, data=GenDataConfig(size=16, any_cat_fraction=0.0),
                          train=GenTrainConfig(batch_size=8, steps=100_000, warmup=1,
                                               max_minutes=1.0, ckpt_every=1000,
                                               sample_every=0, log_every=2))
    cfg = dataclasses.replace(cfg, sampler=dataclasses.replace(cfg.sampler, steps=2))
    logs: list[str] = []
    summary = train(cfg, data, tmp_path, log=logs.append, stop_after_steps=10)
    assert summary["step"] == 10 and summary["img_per_s_median"] > 0
    assert summary["train_gflops_per_image"] > 0
    assert all("min to go" in m for m in logs if m.startswith("step "))
    warnings = [m for m in logs if "more than max_minutes 1" in m]
    assert len(warnings) == 1  # once, from the second logged window on


def test_batches_do_not_depend_on_where_the_data_lives() -> None:
    """draw_batch gathers on the data's device (the trainer moves the data to a GPU) with
    CPU-drawn indices, so a batch is the same wherever the data is; checked here through
    GenData.to on the CPU, and against the inputs themselves."""
    import numpy as np

    from tinycats.breeds import ANY_CAT_ID
    from tinycats.generator.config import GenDataConfig
    from tinycats.generator.data import draw_batch, from_arrays

    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8), np.arange(6),
                       rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8))
    cfg = GenDataConfig(size=8, any_cat_fraction=0.5)
    x1, y1, _ = draw_batch(data, cfg, 16, seed=3, step=7)
    x2, y2, _ = draw_batch(data.to(torch.device("cpu")), cfg, 16, seed=3, step=7)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert (y1 == ANY_CAT_ID).any() and (y1 != ANY_CAT_ID).any()  # faces and breeds drawn
    rows = torch.cat([data.images, data.extra]).float() / 127.5 - 1  # type: ignore[list-item]
    for img in x1:  # every image is one of the inputs, possibly mirrored
        d = torch.minimum((rows - img).abs().amax(dim=(1, 2, 3)),
                          (rows - img.flip(-1)).abs().amax(dim=(1, 2, 3)))
        assert d.min() == 0


def test_steps_for_budget_fills_the_remaining_time() -> None:
    from tinycats.training.schedule import BUDGET_MARGIN, steps_for_budget

    # 50 steps done in 60 s, 0.5 s/step, 10 min budget: (600 - 60) * margin / 0.5 more steps
    assert steps_for_budget(50, 60.0, 0.5, 600.0) == 50 + int(540 * BUDGET_MARGIN / 0.5)
    assert steps_for_budget(50, 700.0, 0.5, 600.0) == 51  # over budget already: one more step
    with pytest.raises(ValueError):
        steps_for_budget(0, 0.0, 0.0, 10.0)


def test_budget_minutes_sizes_the_schedule_once_and_resume_keeps_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses
    import json

    import numpy as np

    from tinycats.generator.config import GenDataConfig, GeneratorConfig, GenTrainConfig
    from tinycats.generator.data import from_arrays
    from tinycats.generator.train import train
    from tinycats.training import checkpoint
    from tinycats.training.schedule import lr_at

    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8), np.arange(8))
    # steps is far more than a 4-second budget holds: the measured speed must replace it
    cfg = GeneratorConfig(model=TINY, data=GenDataConfig(size=16, any_cat_fraction=0.0),
                          train=GenTrainConfig(batch_size=8, steps=1_000_000, warmup=2,
                                               budget_minutes=4 / 60, budget_calibration_steps=3,
                                               ckpt_every=1000, sample_every=0, log_every=5,
                                               min_lr_ratio=0.1, lr=1e-3))
    cfg = dataclasses.replace(cfg, sampler=dataclasses.replace(cfg.sampler, steps=2))
    logs: list[str] = []
    summary = train(cfg, data, tmp_path, log=logs.append)
    total = summary["total_steps"]
    assert 6 < total < 1_000_000 and summary["step"] == total
    assert sum("schedule sized to" in m for m in logs) == 1
    assert summary["minutes"] < 1.0  # a 4 s budget, not a million steps
    assert checkpoint.load(tmp_path / "last.pt")["sized_steps"] == total
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
            if '"lr"' in line]
    # the last step's LR follows the sized schedule (with the recipe's 1M steps it would be ~1e-3)
    last_lr = lr_at(total - 1, peak=1e-3, warmup=2, total=total, min_ratio=0.1)
    assert rows[-1]["lr"] == pytest.approx(last_lr) and last_lr < 5e-4
    # resuming keeps the sized count (no second calibration, nothing left to do)
    logs2: list[str] = []
    again = train(cfg, data, tmp_path, log=logs2.append)
    assert again["step"] == total and again["total_steps"] == total
    assert not any("schedule sized to" in m for m in logs2)


def test_budget_run_resizes_at_the_end_of_warmup_when_steps_slow_down(  # type: ignore[no-untyped-def]
        tmp_path, monkeypatch) -> None:
    """The first sizing times a few steps; if later steps are slower (another process, a cooler
    cache), the schedule measured at the end of warmup must shrink so the run ends in budget.
    The loop reads a clock that each step advances by a set amount (10 ms for the steps timed
    first, 100 ms from step 8 on), so the test means the same on an idle and a loaded machine."""
    import dataclasses
    import re
    import time
    import types

    import numpy as np

    from tinycats.generator import train as train_mod
    from tinycats.generator.config import GenDataConfig, GeneratorConfig, GenTrainConfig
    from tinycats.generator.data import from_arrays
    from tinycats.training import loop

    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8), np.arange(8))
    real_draw = train_mod.draw_batch
    clock = {"now": time.time()}

    def slow_after_calibration(*args, **kwargs):  # type: ignore[no-untyped-def]
        clock["now"] += 0.1 if args[4] >= 8 else 0.01  # args[4]: the step
        return real_draw(*args, **kwargs)

    monkeypatch.setattr(train_mod, "draw_batch", slow_after_calibration)
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(time=lambda: clock["now"]))
    cfg = GeneratorConfig(model=TINY, data=GenDataConfig(size=16, any_cat_fraction=0.0),
                          train=GenTrainConfig(batch_size=8, steps=1_000_000, warmup=20,
                                               budget_minutes=3 / 60, budget_calibration_steps=3,
                                               ckpt_every=1000, sample_every=0, log_every=5))
    cfg = dataclasses.replace(cfg, sampler=dataclasses.replace(cfg.sampler, steps=2))
    logs: list[str] = []
    summary = train_mod.train(cfg, data, tmp_path, log=logs.append)
    first = [int(m) for line in logs for m in re.findall(r"schedule sized to (\d+) steps", line)]
    again = [int(m) for line in logs for m in re.findall(r"re-sized to (\d+) steps", line)]
    assert len(first) == 1 and len(again) == 1
    assert again[0] < first[0] / 2  # the slow steps shrank the plan
    assert summary["total_steps"] == summary["step"] == again[0]
    # the 3 s budget held, on the loop's clock
    assert summary["minutes"] <= 3.2 / 60


def test_checkpoints_written_before_the_removed_experiments_still_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Checkpoints from before representation alignment and the fine stage were removed carry
    their settings (off); export and --init-from read them, a fine-stage model is refused."""
    from tinycats.config import ConfigError, to_dict
    from tinycats.generator.config import GeneratorConfig, config_from_checkpoint
    from tinycats.generator.train import load_generator
    from tinycats.training import checkpoint

    cfg = GeneratorConfig(model=TINY)
    old = to_dict(cfg)
    old["repa"] = {"weight": 0.5, "layer": 3, "encoder": "lite2"}
    old["model"].update(fine_depth=0, fine_width=128, fine_heads=2)
    assert config_from_checkpoint(old) == cfg
    model = TinyDiT(TINY)
    checkpoint.save_atomic({"model": model.state_dict(), "config": old}, tmp_path / "ema.pt")
    loaded, loaded_cfg = load_generator(tmp_path / "ema.pt")
    assert loaded_cfg == cfg
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                 model.state_dict().values(), strict=True))
    old["model"]["fine_depth"] = 1
    with pytest.raises(ConfigError, match="fine stage"):
        config_from_checkpoint(old)

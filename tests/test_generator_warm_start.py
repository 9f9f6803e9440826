"""Warm start: weights read back from an exported ONNX file (or a checkpoint) are exactly the
exported ones, a file of another architecture or a broken file is refused with a clear message,
and a run started from them begins there (model and EMA)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tinycats.config import to_dict
from tinycats.export.generator_onnx import export_fp32
from tinycats.generator.config import GenDataConfig, GeneratorConfig, GenTrainConfig
from tinycats.generator.data import from_arrays
from tinycats.generator.dit import DiTConfig, TinyDiT
from tinycats.generator.train import load_generator, train
from tinycats.generator.warm_start import WarmStartError, load_init_state, state_from_onnx
from tinycats.training.checkpoint import save_atomic

# final_conv on: its conv weights are 4-D, the other weights 1-D/2-D (some stored transposed)
TINY = DiTConfig(image_size=16, patch_size=4, width=32, depth=2, heads=2, final_conv=True)


def random_model(cfg: DiTConfig, seed: int = 0) -> TinyDiT:
    """Every weight non-zero (adaLN-Zero and the final conv start at zero otherwise)."""
    torch.manual_seed(seed)
    model = TinyDiT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[TinyDiT, Path]:
    model = random_model(TINY)
    return model, export_fp32(model, tmp_path_factory.mktemp("ws") / "generator-fp32.onnx")


def test_weights_read_back_from_onnx_are_the_exported_ones(
        exported: tuple[TinyDiT, Path]) -> None:
    model, path = exported
    state = state_from_onnx(path, TINY)
    want = model.state_dict()
    assert state.keys() == want.keys()
    for k, v in want.items():
        assert torch.equal(state[k], v), k


def test_onnx_of_another_architecture_is_refused(exported: tuple[TinyDiT, Path]) -> None:
    _, path = exported
    with pytest.raises(WarmStartError, match=r"does not fit|do not reproduce|does not run"):
        state_from_onnx(path, dataclasses.replace(TINY, width=48, heads=3))


def test_broken_onnx_file_is_refused(exported: tuple[TinyDiT, Path], tmp_path: Path) -> None:
    _, path = exported
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WarmStartError, match="not a readable ONNX"):
        load_init_state(bad, TINY)
    with pytest.raises(WarmStartError, match="does not exist"):
        load_init_state(tmp_path / "missing.onnx", TINY)


def test_checkpoint_warm_start_checks_the_model_config(tmp_path: Path) -> None:
    model = random_model(TINY, seed=1)
    cfg = GeneratorConfig(name="tiny", model=TINY)
    save_atomic({"model": model.state_dict(), "config": to_dict(cfg), "step": 5},
                tmp_path / "ema.pt")
    state = load_init_state(tmp_path / "ema.pt", TINY)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    with pytest.raises(WarmStartError, match="another model config"):
        load_init_state(tmp_path / "ema.pt", dataclasses.replace(TINY, depth=3))


def test_run_begins_from_the_warm_start_weights(tmp_path: Path) -> None:
    start = random_model(TINY, seed=2)
    cfg = GeneratorConfig(
        name="ws", model=TINY, data=GenDataConfig(size=16, any_cat_fraction=0.0),
        # lr 0: the optimizer cannot move the weights, so the EMA must still equal the start
        train=GenTrainConfig(batch_size=4, steps=3, lr=0.0, warmup=0, ckpt_every=100,
                             sample_every=0, log_every=1, threads=1))
    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8), np.arange(8))
    logs: list[str] = []
    summary = train(cfg, data, tmp_path, log=logs.append, init_state=start.state_dict(),
                    init_from="start.onnx")
    assert summary["init_from"] == "start.onnx"
    assert any("warm start" in m for m in logs)
    ema, _ = load_generator(tmp_path / "ema.pt")
    for k, v in start.state_dict().items():
        assert torch.allclose(ema.state_dict()[k], v, atol=1e-6), k
    # resuming keeps where the run came from, without reading the weights again
    cfg2 = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=4))
    assert train(cfg2, data, tmp_path, log=logs.append)["init_from"] == "start.onnx"


def test_a_warm_start_joins_its_recipes_schedule(tmp_path: Path) -> None:
    """--start-step: the run goes on from that step (the step count, images seen, the
    learning rate of the recipe's schedule there), re-warms the rate over the fresh optimizer's
    first steps, and a resumed run keeps all of it."""
    import json

    from tinycats.training import loop
    from tinycats.training.schedule import lr_at

    cfg = GeneratorConfig(
        name="ws", model=TINY, data=GenDataConfig(size=16, any_cat_fraction=0.0),
        train=GenTrainConfig(batch_size=4, steps=430, lr=1e-3, warmup=10, min_lr_ratio=0.1,
                             ckpt_every=100, sample_every=0, log_every=1, threads=1))
    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8), np.arange(8))
    logs: list[str] = []
    summary = train(cfg, data, tmp_path, log=logs.append, stop_after_steps=420,
                    init_state=random_model(TINY, seed=3).state_dict(), init_from="w.onnx",
                    start_step=395)
    assert summary["step"] == 420 and summary["seen"] == 420 * 4
    assert any("joining the recipe's schedule at step 395" in m for m in logs)

    def lrs() -> dict[int, float]:
        return {r["step"]: r["lr"] for r in map(json.loads, (tmp_path / "metrics.jsonl")
                                                .read_text().splitlines()) if "lr" in r}

    def want(step: int) -> float:  # the rate set for a step, logged after it as step + 1
        ramp = min(1.0, (step - 395 + 1) / loop.REWARM_STEPS)
        return ramp * lr_at(step, peak=1e-3, warmup=10, total=430, min_ratio=0.1)

    assert lrs()[396] == pytest.approx(want(395)) and lrs()[396] < 1.1e-5  # 1% of the rate
    assert lrs()[420] == pytest.approx(want(419))
    # resumed from last.pt: the same schedule and ramp, to the end of the recipe
    again = train(cfg, data, tmp_path, log=logs.append)
    assert again["step"] == 430 and again["total_steps"] == 430
    assert lrs()[430] == pytest.approx(want(429)) and want(429) < 0.36e-4  # 35% of the floor


def test_start_step_outside_the_recipe_is_refused(tmp_path: Path) -> None:
    from tinycats.config import ConfigError

    cfg = GeneratorConfig(name="ws", model=TINY, data=GenDataConfig(size=16, any_cat_fraction=0.0),
                          train=GenTrainConfig(batch_size=4, steps=10, threads=1))
    data = from_arrays(np.zeros((4, 16, 16, 3), np.uint8), np.arange(4))
    with pytest.raises(ConfigError, match="outside the recipe"):
        train(cfg, data, tmp_path, init_state=random_model(TINY).state_dict(),
              init_from="w.onnx", start_step=10)


def test_start_step_without_weights_is_one_clear_line(cli: Callable[..., Any], tmp_path: Path
                                                      ) -> None:
    r = cli("train", "generator", "--data-dir", str(tmp_path), "--start-step", "100")
    assert r.code != 0 and "give them with --init-from" in r.err
    assert not (tmp_path / "runs").exists()  # refused before anything was read or written

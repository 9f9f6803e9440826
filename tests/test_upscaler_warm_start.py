"""The upscaler's warm start (upscaler/warm_start.py): weights read back from its ONNX export are
the exported ones; other architectures and broken files are refused; a run begins from the
weights. Small U-Nets, random weights on every layer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from tinycats.config import to_dict
from tinycats.export.upscaler_onnx import export_fp32
from tinycats.training.checkpoint import save_atomic
from tinycats.upscaler.config import UpscalerConfig, UpTrainConfig
from tinycats.upscaler.data import UpDataConfig, from_arrays
from tinycats.upscaler.model import UNetConfig, UpscalerUNet
from tinycats.upscaler.warm_start import WarmStartError, load_init_state

PLAIN = UNetConfig(image_size=32, widths=[16, 32], mid_blocks=1, emb_dim=32, groups=4)


def live(cfg: UNetConfig, seed: int = 0) -> UpscalerUNet:
    torch.manual_seed(seed)
    model = UpscalerUNet(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def call(model: UpscalerUNet) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x, cond = torch.randn(2, 3, 32, 32, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    with torch.no_grad():
        return model(x, torch.tensor([0.2, 0.7]), cond, torch.tensor([0.0, 0.1]))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[UpscalerUNet, Path]:
    model = live(PLAIN)
    return model, export_fp32(model, tmp_path_factory.mktemp("uws") / "upscaler-fp32.onnx")


def test_onnx_weights_come_back(exported: tuple[UpscalerUNet, Path]) -> None:
    model, path = exported
    plain = load_init_state(path, PLAIN)
    for k, v in model.state_dict().items():
        assert torch.equal(plain[k], v), k


def test_other_models_and_broken_files_are_refused(exported: tuple[UpscalerUNet, Path],
                                                   tmp_path: Path) -> None:
    _, path = exported
    other = dataclasses.replace(PLAIN, widths=[16, 24])
    with pytest.raises(WarmStartError, match=r"does not fit|do not reproduce|does not run"):
        load_init_state(path, other)
    save_atomic({"model": live(other).state_dict(), "config": to_dict(UpscalerConfig(model=other)),
                 "step": 1}, tmp_path / "ema.pt")
    with pytest.raises(WarmStartError, match="another upscaler than the recipe's"):
        load_init_state(tmp_path / "ema.pt", PLAIN)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(WarmStartError, match="not a readable ONNX"):
        load_init_state(broken, PLAIN)
    with pytest.raises(WarmStartError, match="does not exist"):
        load_init_state(tmp_path / "missing.onnx", PLAIN)


def test_a_run_begins_from_the_checkpoint_it_is_given(tmp_path: Path) -> None:
    from tinycats.upscaler.train import load_upscaler, train

    torch.set_num_threads(1)
    base = live(PLAIN, seed=2)
    save_atomic({"model": base.state_dict(), "config": to_dict(UpscalerConfig(model=PLAIN)),
                 "step": 9}, tmp_path / "ema.pt")
    cfg = UpscalerConfig(model=PLAIN, data=UpDataConfig(size=32),
                         train=UpTrainConfig(batch_size=2, steps=1, lr=1e-12, warmup=1,
                                             ckpt_every=100, sample_every=0, log_every=1,
                                             threads=1))
    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8),
                       rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    summary = train(cfg, data, tmp_path / "run", device="cpu", log=lambda _m: None,
                    init_state=load_init_state(tmp_path / "ema.pt", PLAIN),
                    init_from=str(tmp_path / "ema.pt"))
    assert summary["init_from"] == str(tmp_path / "ema.pt")
    after, _ = load_upscaler(tmp_path / "run" / "ema.pt")
    # one step at a vanishing rate: still the given weights (a fresh init would be far off)
    torch.testing.assert_close(call(after), call(base), rtol=0, atol=1e-5)


def test_the_cli_reads_init_from_only_for_a_new_run(tmp_path: Path) -> None:
    """``--init-from`` starts a new run; a run folder with a ``last.pt`` resumes instead (its
    checkpoint already continues from the weights), unless ``--fresh``."""
    from tinycats.cli.common import warm_start

    read: list[Path] = []

    def load(path: Path) -> dict[str, torch.Tensor]:
        read.append(path)
        return {"w": torch.ones(1)}

    weights = tmp_path / "upscaler-fp32.onnx"
    assert warm_start(None, tmp_path, False, load) is None
    assert warm_start(weights, tmp_path, False, load) == {"w": torch.ones(1)}
    (tmp_path / "last.pt").write_bytes(b"")
    assert warm_start(weights, tmp_path, False, load) is None
    assert warm_start(weights, tmp_path, True, load) is not None
    assert read == [weights, weights]

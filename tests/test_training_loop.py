"""The loop every trainer runs (training/loop.py), checked piece by piece in one process: the
stop on SIGTERM and on the wall-time limit, the non-finite skip, the logging window's speed and
time to go, the budget sizer's arithmetic with a clock the test moves, and ``run_steps`` driving
a toy trainer through its hooks."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from torch import nn

from tinycats.config import ConfigError
from tinycats.training import loop
from tinycats.training.checkpoint import CheckpointError, check_same_model
from tinycats.training.ema import EMA
from tinycats.training.runlog import RunLog
from tinycats.training.schedule import BUDGET_MARGIN, lr_at


def one_process(batch_size: int = 4) -> loop.Setup:
    return loop.setup("cpu", batch_size=batch_size, threads=None, seed=0)


def test_setup_is_one_process_on_the_cpu_and_refuses_nothing_it_can_split() -> None:
    run = one_process(6)
    assert run.dev == torch.device("cpu") and run.dist.world == 1 and run.is_main
    assert run.local_batch == 6 and run.rank_slice() == slice(0, 6)
    assert run.mean(2.5) == 2.5
    said: list[str] = []
    run.main_log(said.append)("hello")
    assert said == ["hello"]


def test_sigterm_stops_after_the_current_step_and_the_old_handler_comes_back() -> None:
    said: list[str] = []
    before = signal.getsignal(signal.SIGTERM)
    ctl = loop.RunControl(one_process(), None, said.append)
    steps_done = 0
    with ctl:
        for step in range(100):
            if ctl.should_stop(step):
                break
            if step == 3:  # arrives in the middle of step 3: that step still finishes
                os.kill(os.getpid(), signal.SIGTERM)
            steps_done += 1
    assert steps_done == 4
    assert said == ["stop requested (SIGTERM) at step 4; checkpointing"]
    assert signal.getsignal(signal.SIGTERM) == before  # a SIGTERM now would end the process


def test_the_wall_time_limit_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    said: list[str] = []
    with loop.RunControl(one_process(), 2.0, said.append) as ctl:
        assert not ctl.should_stop(0)
        clock[0] += 119.0
        assert not ctl.should_stop(5) and said == []
        clock[0] += 2.0  # 2 min 1 s
        assert ctl.should_stop(6)
    assert said == ["max_minutes 2.0 reached at step 6; checkpointing"]
    assert ctl.minutes() == pytest.approx(121 / 60)


def tiny_step(model: nn.Linear, opt: torch.optim.Optimizer, scale: float) -> float:
    opt.zero_grad(set_to_none=True)
    loss = model(torch.ones(2, 3)).square().mean() * scale
    loss.backward()
    return float(loss.detach())


def test_a_non_finite_loss_is_skipped_and_counted_without_touching_the_weights() -> None:
    run = one_process(2)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ema = EMA(model, 0.5)
    progress = loop.Progress(step=7, skipped=1, seen=14)
    before = [p.detach().clone() for p in model.parameters()]
    ema_before = [p.clone() for p in ema.model.parameters()]
    said: list[str] = []
    for bad in (float("nan"), float("inf")):
        update = loop.finish_step(run, progress, model, opt, tiny_step(model, opt, bad),
                                  grad_clip=1.0, ema=ema, log=said.append)
        assert update is None
    assert progress == loop.Progress(step=9, skipped=3, seen=14)  # no images counted
    assert said == ["step 7: non-finite loss, step skipped (2 so far)",
                    "step 8: non-finite loss, step skipped (3 so far)"]
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(ema_before, ema.model.parameters(),
                                                 strict=True))
    # a finite loss after them is an ordinary step: clipped, applied, counted
    update = loop.finish_step(run, progress, model, opt, tiny_step(model, opt, 100.0),
                              grad_clip=1.0, ema=ema, log=said.append)
    assert update is not None and update.grad_norm > 1.0
    assert progress == loop.Progress(step=10, skipped=3, seen=16)
    moved = torch.cat([(a - b.detach()).reshape(-1) for a, b in zip(before, model.parameters(),
                                                                    strict=True)])
    assert float(moved.norm()) == pytest.approx(0.1, rel=1e-4)  # lr x the clipped norm of 1


def test_set_lr_follows_each_groups_own_peak() -> None:
    a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([{"params": [a], "base_lr": 1e-3}, {"params": [b]}], lr=5.0)
    lr = loop.set_lr(opt, 30, peak=2e-3, warmup=10, total=100, min_ratio=0.1)
    assert lr == lr_at(30, peak=1e-3, warmup=10, total=100, min_ratio=0.1)
    assert opt.param_groups[1]["lr"] == lr_at(30, peak=2e-3, warmup=10, total=100,
                                              min_ratio=0.1)


def test_log_window_leaves_the_first_window_out_of_the_speed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    window = loop.LogWindow(t_start=0.0, first_step=10)
    for loss in (1.0, 3.0):
        clock[0] += 30.0  # the first window: compiling, 30 s a step
        window.add(loss, 8)
    w = window.close(step=12, total=112)
    assert (w.loss, w.img_per_s, w.minutes) == (2.0, 16 / 60, 1.0)
    assert w.minutes_to_go == pytest.approx(100 * 0.5)  # no other speed known yet
    assert window.img_per_s == []
    for _ in range(4):
        clock[0] += 6.0  # then 6 s a step
        window.add(0.5, 8)
    w = window.close(step=16, total=112)
    assert (w.loss, w.img_per_s) == (0.5, 32 / 24)
    assert w.minutes_to_go == pytest.approx(96 * 0.1)  # from the speed since the first window
    assert window.img_per_s == [32 / 24]


def sizer(clock: list[float], said: list[str], **kw: object) -> loop.BudgetSizer:
    args: dict[str, object] = {"warmup": 2, "first_step": 0, "sized_steps": None,
                               "batch_size": 8, "t_start": 0.0, "log": said.append}
    args.update(kw)
    return loop.BudgetSizer(args.pop("minutes", 10.0), args.pop("calibration", 5),  # type: ignore[arg-type]
                            **args)  # type: ignore[arg-type]


def run_sizer(s: loop.BudgetSizer, clock: list[float], total: int, sec_per_step: list[float]
              ) -> tuple[int, list[int]]:
    """Steps the sizer the way a trainer does; ``sec_per_step[k]`` is how long step k takes."""
    sized_at = []
    step = s.first
    end = s.horizon(total)
    while step < end:
        new = s.at_step(step, clock[0])
        if new is not None:
            total = end = new
            sized_at.append(step)
        clock[0] += sec_per_step[min(step, len(sec_per_step) - 1)]
        step += 1
    return total, sized_at


def test_budget_sizer_times_the_steps_after_the_unmeasured_ones() -> None:
    clock, said = [0.0], []
    # steps 0-4 unmeasured (slow: compiling), 5-9 timed at 0.5 s, then the same speed
    s = sizer(clock, said, minutes=10.0, calibration=5, warmup=2)
    assert s.horizon(3) == 10  # runs through the timed steps before knowing the count
    total, sized_at = run_sizer(s, clock, 1000, [20.0] * 5 + [0.5])
    elapsed = 5 * 20.0 + 5 * 0.5
    assert sized_at == [10]
    assert total == 10 + int((600 - elapsed) * BUDGET_MARGIN / 0.5)
    assert said == [f"budget 10 min: 0.500 s/step measured over 5 steps -> schedule sized to "
                    f"{total} steps ({total * 8:,} images)"]
    assert not s.active and s.horizon(5) == 5


def test_budget_sizer_sizes_again_at_the_end_of_warmup_from_every_step_since() -> None:
    clock, said = [0.0], []
    s = sizer(clock, said, minutes=2.0, calibration=2, warmup=20)
    # steps 2-3 timed at 1/8 s; from step 6 on every step takes 1/2 s (binary-exact times)
    total, sized_at = run_sizer(s, clock, 1000, [0.125] * 6 + [0.5])
    assert sized_at == [4, 20]
    first = 4 + int((120 - 0.5) * BUDGET_MARGIN / 0.125)
    sec = (2 * 0.125 + 14 * 0.5) / 16
    elapsed = 6 * 0.125 + 14 * 0.5
    assert total == 20 + int((120 - elapsed) * BUDGET_MARGIN / sec) < first
    assert f"schedule sized to {first} steps" in said[0]
    assert said[1] == (f"budget 2 min, end of warmup: {sec:.3f} s/step over 16 steps -> "
                       f"schedule re-sized to {total} steps ({total * 8:,} images)")


def test_budget_sizer_warns_when_the_budget_ends_inside_warmup_and_never_resizes() -> None:
    clock, said = [0.0], []
    s = sizer(clock, said, minutes=0.1, calibration=2, warmup=50)
    total, sized_at = run_sizer(s, clock, 1000, [1.0])
    assert sized_at == [4] and total == 4 + int((6 - 4) * BUDGET_MARGIN / 1.0)
    assert said[1] == (f"warning: the budget holds {total} steps, no more than the 50 warmup "
                       "steps: the learning rate never decays")


def test_budget_sizer_keeps_a_sized_count_and_refuses_no_calibration() -> None:
    clock, said = [0.0], []
    s = sizer(clock, said, minutes=5.0, sized_steps=321, first_step=100)
    assert not s.active and s.horizon(321) == 321
    assert run_sizer(s, clock, 321, [1.0]) == (321, []) and said == []
    assert not sizer(clock, said, minutes=None).active
    with pytest.raises(ConfigError, match="budget_calibration_steps"):
        sizer(clock, said, calibration=0)


def test_open_run_and_summary_write_the_run_folder(tmp_path: Path) -> None:
    from tinycats.generator.config import GeneratorConfig

    run_dir = tmp_path / "run"
    runlog = loop.open_run(run_dir, GeneratorConfig(name="x"), one_process())
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["name"] == "x"
    runlog.log(3, loss=0.5)
    loop.write_summary(run_dir, {"step": 3, "skipped": 0})
    assert list(yaml.safe_load((run_dir / "summary.yaml").read_text())) == ["step", "skipped"]
    assert '"loss": 0.5' in (run_dir / "metrics.jsonl").read_text()


def test_a_checkpoint_of_another_model_is_refused_unless_a_switch_only_adds_a_layer() -> None:
    now = {"width": 32, "final_conv": True}
    ck = {"config": {"model": {"width": 32, "final_conv": False, "retired_option": 0}}}
    with pytest.raises(CheckpointError, match="different model config"):
        check_same_model(ck, now, Path("last.pt"))
    check_same_model(ck, now, Path("last.pt"), frozenset({"final_conv"}))
    check_same_model({"config": {"model": {"width": 32}}}, now, Path("last.pt"))
    with pytest.raises(CheckpointError):
        check_same_model({"config": {"model": {"width": 64}}}, now, Path("last.pt"),
                         frozenset({"final_conv"}))


@dataclass
class ToyState:
    run: loop.Setup
    model: nn.Module
    opt: torch.optim.Optimizer
    ema: EMA | None = None
    progress: loop.Progress = field(default_factory=loop.Progress)
    saved: list[int] = field(default_factory=list)

    def save(self, path: Path) -> None:
        self.saved.append(self.progress.step)


@dataclass
class ToyTrainer(loop.Trainer):
    """Fits y = 2x; its hooks record when the loop calls them, and it stops itself after
    ``patience_step`` like the classifier's early stop."""
    state: ToyState
    run_dir: Path
    runlog: RunLog
    log: loop.Log
    losses: list[float] = field(default_factory=lambda: [1.0] * 100)
    events: list[str] = field(default_factory=list)
    patience_step: int | None = None

    def train_step(self) -> float:
        st = self.state
        st.opt.zero_grad()
        x = torch.ones(4, 1)
        loss = ((st.model(x) - 2 * x) ** 2).mean() * self.losses[st.progress.step]
        loss.backward()
        return float(loss.detach())

    def window_metrics(self) -> dict[str, Any]:
        return {"extra": self.state.progress.step}

    def evaluate(self, total: int) -> None:
        self.events.append(f"eval {self.state.progress.step}/{total}")

    def save_samples(self, path: Path) -> None:
        self.events.append(path.name)

    def stopped_early(self) -> bool:
        return self.patience_step is not None and self.state.progress.step >= self.patience_step


def toy(tmp_path: Path, **kw: Any) -> ToyTrainer:
    run = one_process()
    model = nn.Linear(1, 1)
    state = ToyState(run, model, torch.optim.SGD(model.parameters(), lr=0.1))
    return ToyTrainer(state, tmp_path, RunLog(tmp_path), print, **kw)


def toy_plan(**kw: Any) -> loop.Plan:
    return loop.Plan(**{"steps": 6, "lr": 0.1, "warmup": 1, "min_lr_ratio": 0.1,
                        "grad_clip": 1.0, "batch_size": 4, "log_every": 4, "ckpt_every": 3,
                        "max_minutes": None, "sample_every": 2, "eta": False, **kw})


def test_run_steps_calls_the_hooks_in_order_and_skips_a_non_finite_step(
        tmp_path: Path) -> None:
    tr = toy(tmp_path)
    tr.losses[2] = float("nan")  # the third step is skipped: no log, evaluation or checkpoint
    ran = loop.run_steps(tr, toy_plan())
    assert ran.total == 6 and tr.state.progress == loop.Progress(step=6, skipped=1, seen=20)
    assert tr.events == ["eval 1/6", "eval 2/6", "step000002.png", "eval 4/6", "step000004.png",
                         "eval 5/6", "eval 6/6", "step000006.png"]
    assert tr.state.saved == [6]  # step 3, a checkpoint step, was the skipped one
    records = [r for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert ['"step": 4' in r and '"extra": 4' in r for r in records] == [True, False]
    assert '"step": 6' in records[1]  # the last step always closes a window


def test_run_steps_stops_where_asked_and_on_the_trainers_own_early_stop(tmp_path: Path) -> None:
    tr = toy(tmp_path / "a")
    ran = loop.run_steps(tr, toy_plan(), stop_after_steps=2)
    assert ran.total == 6 and tr.state.progress.step == 2  # the schedule kept its length
    tr = toy(tmp_path / "b", patience_step=3)
    loop.run_steps(tr, toy_plan())
    assert tr.state.progress.step == 3 and tr.state.saved == [3]

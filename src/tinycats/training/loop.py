"""The training loop every trainer runs; each trainer keeps only its own step and state.

- ``run_steps``: THE step loop: size the schedule to a time budget when asked, stop when asked,
  set the learning rate, the trainer's step, the shared finish, the log window, the trainer's
  evaluation, the checkpoint, the sample grid. A trainer plugs in as a ``Trainer``.
- ``setup``: the device, torchrun's ranks, CPU threads, the seed, this rank's share of the
  global batch.
- ``RunControl``: whether to stop early: SIGTERM (preemption: checkpoint, then exit) or the
  wall-time limit, decided by every rank together so that all stop after the same step.
- ``finish_step``: average the gradients and the loss over ranks, skip (and count) a step whose
  loss is not finite, clip, step the optimizer and the EMA.
- ``LogWindow``: mean loss and images/s of each logging window, the time still to go, and the
  images/s of every window after the first (which includes compiling) for the summary.
- ``BudgetSizer``: the step count that fits a wall-time budget, from the measured speed.
- ``open_run`` / ``write_summary``: a run folder's ``config.yaml``, metrics log and
  ``summary.yaml``; ``forward_precision``: bf16 or fp32, said once.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import torch
import yaml
from torch import nn

from tinycats.config import ConfigError, to_dict
from tinycats.training import distributed, precision
from tinycats.training.config import TrainLoopConfig
from tinycats.training.distributed import DistInfo
from tinycats.training.ema import EMA
from tinycats.training.runlog import RunLog
from tinycats.training.schedule import lr_at, steps_for_budget

Log = Callable[[str], None]


def quiet(_msg: str) -> None:
    pass


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class Setup:
    dev: torch.device
    dist: DistInfo
    batch_size: int  # the global batch
    local_batch: int  # this rank's share of it

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    def rank_slice(self) -> slice:
        """This rank's rows of a global batch."""
        return slice(self.dist.rank * self.local_batch, (self.dist.rank + 1) * self.local_batch)

    def mean(self, x: float) -> float:
        """The mean of ``x`` over the ranks (``x`` itself in a single process)."""
        return distributed.all_reduce_scalar(x, self.dist.world, self.dev)

    def main_log(self, log: Log) -> Log:
        """``log`` on rank 0; nothing on the others."""
        return log if self.dist.is_main else quiet


def setup(device: str, *, batch_size: int, threads: int | None, seed: int) -> Setup:
    """Device and ranks (torchrun's environment, else one process), threads and seed."""
    dev = pick_device(device)
    dist = distributed.init(dev.type)
    if dist.enabled and dev.type == "cuda":
        dev = torch.device("cuda", dist.local_rank)
    if threads:
        torch.set_num_threads(threads)
    if batch_size % dist.world:
        raise ConfigError(f"train.batch_size {batch_size} is not divisible by {dist.world} "
                          "processes; pick a batch size that is a multiple of --nproc_per_node")
    torch.manual_seed(seed)
    return Setup(dev, dist, batch_size, batch_size // dist.world)


def last_step(total: int, stop_after_steps: int | None) -> int:
    """Where this call stops: the schedule's end, or earlier without changing the schedule."""
    return total if stop_after_steps is None else min(total, stop_after_steps)


class RunControl:
    """Stops a run early, with a checkpoint, on SIGTERM or after ``max_minutes``. Used as a
    context manager: the SIGTERM handler lives only inside the ``with`` block.

    Ranks that decided on their own would stop at different steps and leave the others blocked
    in the next all-reduce, so ``should_stop`` asks every rank and all stop after the same step.
    """

    def __init__(self, run: Setup, max_minutes: float | None, log: Log = print) -> None:
        self.run, self.max_minutes, self.log = run, max_minutes, log
        self.t_start = time.time()
        self.stop_requested = False
        self._old_handler: Any = None

    def __enter__(self) -> RunControl:
        self._old_handler = signal.signal(signal.SIGTERM, self._on_term)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old_handler is not None:
            signal.signal(signal.SIGTERM, self._old_handler)

    def _on_term(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def minutes(self) -> float:
        return (time.time() - self.t_start) / 60

    def should_stop(self, step: int) -> bool:
        """Called before each step, on every rank: True (and said once) to stop here."""
        over_time = self.max_minutes is not None and self.minutes() > self.max_minutes
        if not distributed.any_rank(self.stop_requested or over_time, self.run.dist.world,
                                    self.run.dev):
            return False
        if self.run.is_main:
            why = ("stop requested (SIGTERM)" if self.stop_requested
                   else f"max_minutes {self.max_minutes} reached")
            self.log(f"{why} at step {step}; checkpointing")
        return True


@dataclass
class Progress:
    """The loop counters a checkpoint keeps."""
    step: int = 0
    skipped: int = 0  # steps dropped for a non-finite loss
    seen: int = 0  # training images of the steps taken

    @classmethod
    def from_checkpoint(cls, ck: dict[str, Any]) -> Progress:
        return cls(ck["step"], ck.get("skipped", 0), ck.get("seen", 0))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


#: Steps over which a run that joins its schedule midway (fresh AdamW moments) ramps its rate
#: up: AdamW's first updates are sign-like, full-size steps until its second moments fill
#: (betas[1] = 0.99 averages ~100 steps).
REWARM_STEPS = 100


def set_lr(opt: torch.optim.Optimizer, step: int, *, peak: float, warmup: int, total: int,
           min_ratio: float, rewarm_from: int | None = None) -> float:
    """Warmup + cosine for every parameter group (a group's own ``base_lr`` is its peak),
    times the re-warm ramp of a run that joined its schedule at ``rewarm_from``; returns the
    first group's rate."""
    ramp = 1.0 if rewarm_from is None else min(1.0, (step - rewarm_from + 1) / REWARM_STEPS)
    for group in opt.param_groups:
        group["lr"] = ramp * lr_at(step, peak=group.get("base_lr", peak), warmup=warmup,
                                   total=total, min_ratio=min_ratio)
    return float(opt.param_groups[0]["lr"])


class Update(NamedTuple):
    loss: float  # the step's loss, averaged over ranks
    grad_norm: float  # before clipping


def finish_step(run: Setup, progress: Progress, model: nn.Module, opt: torch.optim.Optimizer,
                local_loss: float, *, grad_clip: float, ema: EMA | None, log: Log
                ) -> Update | None:
    """After this rank's backward: average gradients and loss over ranks, then either skip the
    step (a NaN/inf loss: no update, counted in ``progress.skipped``, said on every rank) or
    clip, step the optimizer and the EMA. Either way ``progress.step`` moves on; None when the
    step was skipped."""
    distributed.all_reduce_grads(model, run.dist.world)
    loss = run.mean(local_loss)
    if not math.isfinite(loss):
        progress.skipped += 1
        opt.zero_grad(set_to_none=True)
        log(f"step {progress.step}: non-finite loss, step skipped ({progress.skipped} so far)")
        progress.step += 1
        return None
    trained = [p for p in model.parameters() if p.requires_grad]
    gnorm = float(torch.nn.utils.clip_grad_norm_(trained, grad_clip))
    opt.step()
    if ema is not None:
        ema.update(model, progress.step)
    progress.step += 1
    progress.seen += run.batch_size
    return Update(loss, gnorm)


class Window(NamedTuple):
    loss: float  # mean over the window's steps
    img_per_s: float
    minutes: float  # since the run (this process) started
    minutes_to_go: float  # at the speed since the first window


@dataclass
class LogWindow:
    """The steps since the last log line. The first window of a process includes compiling
    and warm-up, so the speed (for the time still to go, and ``img_per_s``, every later
    window's images/s) is measured from its end."""
    t_start: float
    first_step: int
    img_per_s: list[float] = field(default_factory=list)
    _t: float = field(default_factory=lambda: time.time())
    _images: int = 0
    _losses: list[float] = field(default_factory=list)
    _speed_from: tuple[float, int] | None = None  # (time, step) at the end of the first window

    def add(self, loss: float, images: int) -> None:
        self._losses.append(loss)
        self._images += images

    def close(self, step: int, total: int) -> Window:
        """The window ending at ``step`` of ``total``; the next one starts now."""
        now = time.time()
        ips = self._images / max(now - self._t, 1e-9)
        if self._speed_from is not None:
            self.img_per_s.append(ips)
        base_t, base_step = self._speed_from or (self.t_start, self.first_step)
        per_step = (now - base_t) / 60 / max(step - base_step, 1)
        self._speed_from = self._speed_from or (now, step)
        out = Window(sum(self._losses) / max(len(self._losses), 1), ips,
                     (now - self.t_start) / 60, (total - step) * per_step)
        self._t, self._images, self._losses = time.time(), 0, []
        return out


def report(runlog: RunLog, log: Log, w: Window, *, step: int, total: int, lr: float,
           grad_norm: float, skipped: int, eta: bool = False, **metrics: Any) -> None:
    """A window's record in ``metrics.jsonl`` (``metrics`` added) and its console line."""
    runlog.log(step, loss=round(w.loss, 5), lr=lr, grad_norm=round(grad_norm, 4),
               img_per_s=round(w.img_per_s, 1), skipped=skipped, **metrics)
    log(f"step {step}/{total} loss {w.loss:.4f} lr {lr:.2e} gnorm {grad_norm:.2f} "
        f"{w.img_per_s:.1f} img/s elapsed {w.minutes:.1f} min"
        + (f", about {w.minutes_to_go:.0f} min to go" if eta else ""))


class BudgetSizer:
    """The step count that makes warmup + cosine end within ``minutes`` of wall time on the
    machine that runs it.

    The run times ``calibration`` steps, after as many unmeasured ones (compiling, warm
    caches), and sizes the schedule from that speed; the caller keeps the count in its
    checkpoint, so a resumed run does not size again. A few steps can misjudge the steady
    speed (a 2-core AMX CPU: 0.455 s/step over steps 25-50, 0.589 over steps 50-500), so a run
    sized before the end of warmup sizes once more there, from every step since: the cosine
    starts at that step, so no learning rate already used changes.
    """

    def __init__(self, minutes: float | None, calibration: int, *, warmup: int,
                 first_step: int, sized_steps: int | None, batch_size: int, t_start: float,
                 mean: Callable[[float], float] = float, log: Log = quiet) -> None:
        self.minutes, self.cal, self.warmup = minutes, calibration, warmup
        self.first, self.batch_size, self.t_start = first_step, batch_size, t_start
        self.mean, self.log = mean, log
        self.active = minutes is not None and sized_steps is None  # still to size
        if self.active and calibration < 1:
            raise ConfigError("train.budget_calibration_steps must be at least 1")
        self.cal_from: float | None = None  # when the timed steps began
        self.resize_from: tuple[float, int] | None = None  # (time, step) of the first sizing

    def horizon(self, total: int) -> int:
        """The steps to run for now: until sized, at least through the timed steps."""
        return max(total, self.first + 2 * self.cal) if self.active else total

    def at_step(self, step: int, now: float) -> int | None:
        """Called before each step: the new total step count when ``step`` sizes (or re-sizes)
        the schedule, else None."""
        if self.active and step == self.first + self.cal:
            self.cal_from = now
        if self.active and step == self.first + 2 * self.cal:
            return self._size(step, now)
        if self.resize_from is not None and step == self.warmup:
            return self._resize(step, now)
        return None

    def _fit(self, step: int, now: float, sec_per_step: float) -> int:
        assert self.minutes is not None
        elapsed_s = self.mean(now - self.t_start)
        return steps_for_budget(step, elapsed_s, sec_per_step, self.minutes * 60)

    def _size(self, step: int, now: float) -> int:
        assert self.cal_from is not None
        sec_per_step = self.mean((now - self.cal_from) / self.cal)
        total = self._fit(step, now, sec_per_step)
        self.active = False
        if self.warmup >= step + self.cal:  # enough steps left in warmup to time again
            self.resize_from = (now, step)
        self.log(f"budget {self.minutes:g} min: {sec_per_step:.3f} s/step measured over "
                 f"{self.cal} steps -> schedule sized to {total} steps "
                 f"({total * self.batch_size:,} images)")
        if total <= self.warmup:
            self.log(f"warning: the budget holds {total} steps, no more than the "
                     f"{self.warmup} warmup steps: the learning rate never decays")
        return total

    def _resize(self, step: int, now: float) -> int:
        assert self.resize_from is not None
        since_t, since_step = self.resize_from
        sec_per_step = self.mean((now - since_t) / (step - since_step))
        total = self._fit(step, now, sec_per_step)
        self.resize_from = None
        self.log(f"budget {self.minutes:g} min, end of warmup: {sec_per_step:.3f} s/step over "
                 f"{step - since_step} steps -> schedule re-sized to {total} steps "
                 f"({total * self.batch_size:,} images)")
        return total


def open_run(run_dir: Path, cfg: object, run: Setup) -> RunLog:
    """The run folder's metrics log and, from rank 0, its ``config.yaml`` (the recipe)."""
    runlog = RunLog(run_dir, enabled=run.is_main)
    if run.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return runlog


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    (run_dir / "summary.yaml").write_text(yaml.safe_dump(summary, sort_keys=False))


def forward_precision(run: Setup, tc: TrainLoopConfig, log: Log) -> bool:
    """Whether the forward pass autocasts to bf16 (training/precision.py), said on rank 0 with
    the CPU thread count."""
    use_bf16 = precision.use_bf16(run.dev, cuda=tc.bf16, cpu=tc.cpu_bf16, log=log)
    run.main_log(log)(f"forward pass in {'bf16 autocast' if use_bf16 else 'fp32'}; "
                      f"{torch.get_num_threads()} CPU threads")
    return use_bf16


# ---- the loop ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """The numbers of a recipe's ``train`` section that the loop follows."""
    steps: int  # the schedule's length, unless a time budget sizes it
    lr: float  # the peak learning rate (a parameter group's own ``base_lr`` wins)
    warmup: int
    min_lr_ratio: float
    grad_clip: float
    batch_size: int  # the global batch
    log_every: int
    ckpt_every: int
    max_minutes: float | None
    sample_every: int = 0  # 0: no sample grids while training
    budget_minutes: float | None = None
    budget_calibration_steps: int = 0
    sized_steps: int | None = None  # the step count an earlier call's budget fixed
    eta: bool = True  # the log line says how long the rest of the schedule takes
    #: a run that joined its schedule at this step with fresh optimizer moments (a warm start
    #: from exported weights): its rate ramps up over REWARM_STEPS from there
    rewarm_from: int | None = None

    @classmethod
    def of(cls, tc: TrainLoopConfig, sized_steps: int | None) -> Plan:
        return cls(tc.steps, tc.lr, tc.warmup, tc.min_lr_ratio, tc.grad_clip, tc.batch_size,
                   tc.log_every, tc.ckpt_every, tc.max_minutes, tc.sample_every,
                   tc.budget_minutes, tc.budget_calibration_steps, sized_steps)


class RunState(Protocol):
    """What the loop reads of a trainer's run state (the part its ``last.pt`` keeps)."""

    @property
    def run(self) -> Setup: ...
    @property
    def progress(self) -> Progress: ...
    @property
    def model(self) -> nn.Module: ...
    @property
    def opt(self) -> torch.optim.Optimizer: ...
    @property
    def ema(self) -> EMA | None: ...

    def save(self, path: Path) -> None:
        """The checkpoint a run resumes from (written by rank 0 only)."""


class Trainer:
    """One trainer's part of a run, as ``run_steps`` drives it. A trainer subclasses it with a
    dataclass holding its run state, data and run folder, and writes its own ``train_step``;
    the other hooks, as here, are what a trainer without that part does.
    """

    state: RunState
    run_dir: Path
    runlog: RunLog
    log: Log

    def train_step(self) -> float:
        """This rank's loss of the step at ``state.progress.step``, its gradients in place."""
        raise NotImplementedError

    def applied(self, update: Update) -> None:
        """Right after a step changed the weights (a skipped step does not come here)."""

    def evaluate(self, total: int) -> None:
        """After a step's log line, before its checkpoint: where a trainer scores its weights
        as it goes (the classifier's validation passes)."""

    def save_samples(self, path: Path) -> None:
        """A grid of samples at ``path``, every ``sample_every`` steps (rank 0 only)."""

    def window_metrics(self) -> dict[str, Any]:
        """More fields for a log window's record. Called on every rank, so it may all-reduce."""
        return {}

    def logged(self, w: Window, total: int, sizing: bool) -> None:
        """After rank 0 wrote a window's record and line; ``sizing``: the budget still times
        the steps."""

    def sized(self, total: int) -> None:
        """The time budget fixed the schedule at ``total`` steps: a trainer with a budget keeps
        the count in its checkpoint, so that a resumed run does not size again."""

    def stopped_early(self) -> bool:
        """The trainer's own reason to end before the schedule does (the classifier's
        patience)."""
        return False


@dataclass
class Ran:
    """How the loop ended, for the trainer's summary."""
    total: int  # the schedule's step count: the recipe's, or what the budget sized
    control: RunControl  # its ``minutes()``: this call's wall time so far
    img_per_s: list[float]  # every log window's after the first (which includes compiling)


def run_steps(tr: Trainer, plan: Plan, *, stop_after_steps: int | None = None) -> Ran:
    """Step until the end of the schedule (``stop_after_steps``: earlier, the schedule
    unchanged), a SIGTERM, ``max_minutes`` or the trainer's own early stop."""
    st, log = tr.state, tr.log
    p = st.progress
    ctl = RunControl(st.run, plan.max_minutes, log)
    window = LogWindow(ctl.t_start, p.step)
    sizer = BudgetSizer(plan.budget_minutes, plan.budget_calibration_steps, warmup=plan.warmup,
                        first_step=p.step, sized_steps=plan.sized_steps,
                        batch_size=plan.batch_size, t_start=ctl.t_start, mean=st.run.mean,
                        log=st.run.main_log(log))
    total = plan.sized_steps or plan.steps
    end = last_step(sizer.horizon(total), stop_after_steps)
    with ctl:
        while p.step < end:
            sized = sizer.at_step(p.step, time.time())
            if sized is not None:
                total, end = sized, last_step(sized, stop_after_steps)
                tr.sized(total)
            if tr.stopped_early() or ctl.should_stop(p.step):
                break
            step_and_log(tr, plan, window, total, end, sizing=sizer.active)
    return Ran(total, ctl, window.img_per_s)


def step_and_log(tr: Trainer, plan: Plan, window: LogWindow, total: int, end: int, *,
                 sizing: bool) -> None:
    """One step: its learning rate, the trainer's forward and backward, the shared finish;
    then, unless the step was skipped, the log window, the trainer's evaluation, the checkpoint
    and the sample grid when their turn has come."""
    st = tr.state
    p = st.progress
    lr = set_lr(st.opt, p.step, peak=plan.lr, warmup=plan.warmup, total=total,
                min_ratio=plan.min_lr_ratio, rewarm_from=plan.rewarm_from)
    update = finish_step(st.run, p, st.model, st.opt, tr.train_step(), grad_clip=plan.grad_clip,
                         ema=st.ema, log=tr.log)
    if update is None:
        return
    window.add(update.loss, plan.batch_size)
    tr.applied(update)
    if p.step % plan.log_every == 0 or p.step == end:
        log_window(tr, window, lr, update, total, eta=plan.eta, sizing=sizing)
    tr.evaluate(total)
    if p.step % plan.ckpt_every == 0:
        st.save(tr.run_dir / "last.pt")
    if st.run.is_main and plan.sample_every and p.step % plan.sample_every == 0:
        tr.save_samples(tr.run_dir / "samples" / f"step{p.step:06d}.png")


def log_window(tr: Trainer, window: LogWindow, lr: float, update: Update, total: int, *,
               eta: bool, sizing: bool) -> None:
    """The window ending at this step: on rank 0 its record in ``metrics.jsonl`` and its
    console line. Every rank calls it: ``window_metrics`` may all-reduce."""
    st = tr.state
    p = st.progress
    extra = tr.window_metrics()
    w = window.close(p.step, total)
    if st.run.is_main:
        report(tr.runlog, tr.log, w, step=p.step, total=total, lr=lr,
               grad_norm=update.grad_norm, skipped=p.skipped, eta=eta, **extra)
        tr.logged(w, total, sizing)

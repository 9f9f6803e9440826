"""Generator training: flow matching on TinyDiT; build, resume, step, log, summary.

One step: draw the global batch from (seed, step) -> take this rank's slice -> micro-batches
(gradient accumulation) -> average grads across ranks -> skip the step if the loss is NaN/inf ->
clip -> AdamW -> EMA. On CUDA (and on CPUs with native bf16, when the recipe
asks): bf16 autocast; on CUDA an out-of-memory error halves the micro-batch
and retries the step. Checkpoints are atomic; a run resumes from ``last.pt`` in its folder.
The loop itself (devices and ranks, stopping, the non-finite skip, the logging window, sizing
to a time budget) is training/loop.py's ``run_steps``; this file is what the generator adds:
build, resume, its step, its log fields, its summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from tinycats.breeds import BREEDS, NULL_ID, NUM_GENERATOR_CLASSES
from tinycats.config import ConfigError, to_dict
from tinycats.generator import flow
from tinycats.generator.config import GeneratorConfig, GenTrainConfig, config_from_checkpoint
from tinycats.generator.data import GenData, draw_batch
from tinycats.generator.dit import TinyDiT, count_params, one_hot
from tinycats.generator.near_copies import TRACK_SEED, NearCopyTracker
from tinycats.grid import make_grid, save_png, to_uint8
from tinycats.training import checkpoint, distributed, flops, loop
from tinycats.training.compiling import maybe_compile
from tinycats.training.ema import EMA
from tinycats.training.runlog import RunLog

T_BINS = 5
#: model switches that only add a layer starting as the identity: a run may be resumed with
#: one of them turned on (the new layer's weights start from their init).
ADDITIVE_SWITCHES = frozenset({"final_conv"})


def draw_samples(model: TinyDiT, cfg: GeneratorConfig, labels: torch.Tensor, seed: int,
                 device: torch.device) -> np.ndarray:
    """(B, S, S, 3) uint8 samples of the classes ``labels`` with the recipe's sampler, from
    noise of ``seed``: the sample grids' and the near-copy tracker's."""
    g = torch.Generator().manual_seed(seed)
    s = cfg.model.image_size
    noise = torch.randn(len(labels), 3, s, s, generator=g).to(device)
    y = one_hot(labels).to(device)
    y_null = one_hot(torch.full_like(labels, NULL_ID)).to(device)
    sc = cfg.sampler
    x = flow.sample(model, noise, y, y_null, steps=sc.steps, cfg_scale=sc.cfg_scale,
                    prediction=cfg.prediction, solver=sc.solver, shift=sc.shift)  # type: ignore[arg-type]
    return to_uint8(x.float().cpu().numpy())


def sample_grid(model: TinyDiT, cfg: GeneratorConfig, device: torch.device, per_class: int = 2,
                seed: int = 0) -> np.ndarray:
    """A (per_class rows x 13 columns) grid: every breed plus ``any_cat``, fixed noise."""
    classes = [b.id for b in BREEDS] + [NUM_GENERATOR_CLASSES - 2]
    labels = torch.tensor(classes * per_class)
    return make_grid(draw_samples(model, cfg, labels, seed, device), ncols=len(classes))


def save_final(path: Path, ema: EMA, cfg: GeneratorConfig, step: int,
               extra: dict[str, Any]) -> None:
    checkpoint.save_atomic({"model": ema.model.state_dict(), "config": to_dict(cfg),
                            "step": step, "kind": "generator-ema", **extra}, path)


def draw_noise(shape: torch.Size, g: torch.Generator, dev: torch.device, seed: int, step: int
               ) -> torch.Tensor:
    """The step's Gaussian noise for the whole global batch. On CUDA it is drawn on the GPU from
    a generator seeded by (seed, step): drawing a large batch on the CPU would take longer than
    a GPU step of this small model. Elsewhere it comes from the batch's CPU generator."""
    if dev.type != "cuda":
        return torch.randn(shape, generator=g)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed * 1_000_003 + step)
    return torch.randn(shape, generator=gen, device=dev)


def throughput(model: TinyDiT, cfg: GeneratorConfig, dev: torch.device, use_bf16: bool,
               ips_windows: list[float], world: int) -> dict[str, Any]:
    """Median images/s over the logged windows (the first, with compiling, left out), the
    counted training FLOPs per image and, on a known accelerator, the MFU (training/flops.py)."""
    if not ips_windows:
        return {}
    s = cfg.model.image_size

    def one_step(b: int) -> torch.Tensor:
        x = torch.randn(b, cfg.model.channels, s, s, device=dev)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss, _ = flow.flow_loss(model, x, one_hot(torch.zeros(b, dtype=torch.long)).to(dev),
                                     torch.rand(b, device=dev), torch.randn_like(x),
                                     cfg.prediction)  # type: ignore[arg-type]
        return loss

    per_image = flops.train_flops_per_image(model, one_step)
    ips = float(np.median(ips_windows))
    out: dict[str, Any] = {"img_per_s_median": round(ips, 1),
                           "train_gflops_per_image": round(per_image / 1e9, 3)}
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        peak = flops.peak_flops(name)
        out["device"] = f"{world} x {name}"
        if peak is not None:
            out["mfu"] = round(flops.mfu(ips, per_image, peak * world), 4)
    return out


def make_optimizer(model: TinyDiT, tc: GenTrainConfig, groups: list[list[str]]
                   ) -> torch.optim.AdamW:
    params = dict(model.named_parameters())
    return torch.optim.AdamW([{"params": [params[n] for n in g]} for g in groups], lr=tc.lr,
                             betas=tuple(tc.betas), weight_decay=tc.weight_decay)  # type: ignore[arg-type]


@dataclass
class GenRun:
    """A generator run in progress: the model (and how the loop calls it), its EMA and
    optimizer, and the loop state that ``last.pt`` keeps with the recipe."""
    cfg: GeneratorConfig
    run: loop.Setup
    model: TinyDiT
    fwd: nn.Module  # ``model``, through torch.compile when the recipe asks
    ema: EMA
    opt: torch.optim.AdamW
    groups: list[list[str]]  # parameter names per optimizer group
    micro: int  # per-process micro-batch; halved after a CUDA out-of-memory error
    progress: loop.Progress = field(default_factory=loop.Progress)
    sized_steps: int | None = None  # the step count a budget_minutes run fixed
    init_from: str | None = None  # the weights a warm-started run began from
    #: the schedule step a warm start joined its recipe at (0: from the start)
    start_step: int = 0

    def save(self, path: Path) -> None:
        if self.run.is_main:
            checkpoint.save_atomic({
                "model": self.model.state_dict(), "ema": self.ema.model.state_dict(),
                "opt": self.opt.state_dict(), **self.progress.as_dict(), "micro": self.micro,
                "config": to_dict(self.cfg), "opt_groups": self.groups,
                "init_from": self.init_from, "start_step": self.start_step,
                "sized_steps": self.sized_steps}, path)

    def save_samples(self, path: Path) -> None:
        grid = sample_grid(cast(TinyDiT, self.ema.model), self.cfg, self.run.dev)
        save_png(grid, path, upscale=2)


def build(cfg: GeneratorConfig, data: GenData, run: loop.Setup,
          init_state: dict[str, torch.Tensor] | None, init_from: str | None,
          log: loop.Log) -> tuple[GenRun, GenData]:
    """A fresh run: the model (from ``init_state`` when given), its EMA and optimizer."""
    tc = cfg.train
    model = TinyDiT(cfg.model)
    if init_state is not None:
        model.load_state_dict(init_state)
    model = model.to(run.dev)
    if run.dev.type == "cuda":
        data = data.to(run.dev)  # batches are gathered on the GPU (GenData.to says why)
    ema = EMA(model, tc.ema_decay)
    fwd = maybe_compile(model, tc.compile, run.dev, log)
    groups = [[n for n, _ in model.named_parameters()]]
    micro = min(tc.micro_batch or run.local_batch, run.local_batch)
    return GenRun(cfg, run, model, fwd, ema, make_optimizer(model, tc, groups), groups, micro,
                  init_from=init_from), data


def resume(gr: GenRun, last: Path, log: loop.Log) -> None:
    """Continue from ``last``. A layer added to the architecture since (a switch in
    ADDITIVE_SWITCHES the checkpoint predates) keeps its identity init and joins the optimizer
    as a new group; every other tensor must match exactly."""
    ck = checkpoint.load(last, map_location=gr.run.dev)
    checkpoint.check_same_model(ck, to_dict(gr.cfg)["model"], last, ADDITIVE_SWITCHES)
    missing, unexpected = gr.model.load_state_dict(ck["model"], strict=False)
    if unexpected:
        raise checkpoint.CheckpointError(f"{last} has weights this model lacks: "
                                         f"{unexpected[:5]}")
    gr.ema.model.load_state_dict(ck["ema"], strict=False)
    names = [n for n, _ in gr.model.named_parameters()]
    gr.groups = ck.get("opt_groups") or [[n for n in names if n not in missing]]
    gr.opt = make_optimizer(gr.model, gr.cfg.train, gr.groups)
    gr.opt.load_state_dict(ck["opt"])
    known = {n for g in gr.groups for n in g}
    new = [n for n in names if n not in known]
    if new:
        params = dict(gr.model.named_parameters())
        gr.opt.add_param_group({"params": [params[n] for n in new]})
        gr.groups = [*gr.groups, new]
        log(f"new parameters start from their init: {len(new)} tensors")
    gr.progress = loop.Progress.from_checkpoint(ck)
    gr.sized_steps = ck.get("sized_steps")
    gr.micro = min(ck.get("micro", gr.micro), gr.run.local_batch)
    gr.init_from = ck.get("init_from")
    gr.start_step = ck.get("start_step", 0)
    log(f"resumed from {last} at step {gr.progress.step}")


def draw_slice(gr: GenRun, data: GenData
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """This rank's slice of the step's global batch: images, labels (a share dropped to the
    null class for classifier-free guidance), times t and noise."""
    cfg, tc, dev = gr.cfg, gr.cfg.train, gr.run.dev
    x, labels, g = draw_batch(data, cfg.data, tc.batch_size, tc.seed, gr.progress.step)
    drop = (torch.rand(tc.batch_size, generator=g) < cfg.p_uncond).to(labels.device)
    labels = torch.where(drop, torch.full_like(labels, NULL_ID), labels)
    t = flow.sample_t(tc.batch_size, cfg.t_sampling, mean=cfg.t_mean, std=cfg.t_std,
                      generator=g)
    eps = draw_noise(x.shape, g, dev, tc.seed, gr.progress.step)
    sl = gr.run.rank_slice()
    return x[sl].to(dev), labels[sl].to(dev), t[sl].to(dev), eps[sl].to(dev)


def forward_backward(gr: GenRun, x: torch.Tensor, labels: torch.Tensor, t: torch.Tensor,
                     eps: torch.Tensor, use_bf16: bool) -> tuple[float, torch.Tensor]:
    """Gradients of the slice's mean loss, accumulated over micro-batches; returns that loss
    and every sample's."""
    gr.opt.zero_grad(set_to_none=True)
    n, loss_sum, per_all = x.shape[0], 0.0, []
    for i in range(0, n, gr.micro):
        j = slice(i, i + gr.micro)
        y_j = one_hot(labels[j]).to(gr.run.dev)
        with torch.autocast(gr.run.dev.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss, per = flow.flow_loss(gr.fwd, x[j], y_j, t[j], eps[j],
                                       gr.cfg.prediction)  # type: ignore[arg-type]
        frac = per.shape[0] / n
        (loss * frac).backward()
        loss_sum += float(loss.detach()) * frac
        per_all.append(per.detach())
    return loss_sum, torch.cat(per_all)


@dataclass
class GenTrainer(loop.Trainer):
    """The generator's part of the shared loop (training/loop.py): its step (micro-batches, the
    CUDA out-of-memory retry), the loss per band of t in its log records (T_BINS bands of
    [0, 1], summed over ranks), a warning, once, that the schedule outlasts max_minutes, and
    its sample grids."""
    state: GenRun
    data: GenData
    run_dir: Path
    runlog: RunLog
    use_bf16: bool
    log: loop.Log
    bins_sum: np.ndarray = field(default_factory=lambda: np.zeros(T_BINS))
    bins_cnt: np.ndarray = field(default_factory=lambda: np.zeros(T_BINS))
    warned_slow: bool = False
    #: near-copies every ``train.track_every`` steps (None: not measured)
    tracker: NearCopyTracker | None = None
    #: the step's times t and per-sample losses, counted in the bins once the step is applied
    last: tuple[torch.Tensor, torch.Tensor] | None = None
    first_step: int = field(init=False)  # where this call's first log window began

    def __post_init__(self) -> None:
        self.first_step = self.state.progress.step

    def train_step(self) -> float:
        """On a CUDA out-of-memory error the micro-batch is halved and the step retried."""
        gr = self.state
        x, labels, t, eps = draw_slice(gr, self.data)
        while True:
            try:
                loss, per = forward_backward(gr, x, labels, t, eps, self.use_bf16)
                self.last = (t, per)
                return loss
            except torch.cuda.OutOfMemoryError:
                if gr.micro <= 1:
                    raise
                gr.micro = max(1, gr.micro // 2)
                torch.cuda.empty_cache()
                self.log(f"CUDA out of memory: micro-batch halved to {gr.micro}, "
                         f"step {gr.progress.step} retried")

    def applied(self, update: loop.Update) -> None:
        assert self.last is not None
        t, per = self.last
        b = np.minimum((t.cpu().numpy() * T_BINS).astype(int), T_BINS - 1)
        np.add.at(self.bins_sum, b, per.float().cpu().numpy())
        np.add.at(self.bins_cnt, b, 1)

    def window_metrics(self) -> dict[str, Any]:
        """The micro-batch and the window's loss per t band over every rank."""
        run = self.state.run
        distributed.all_reduce_sum_([self.bins_sum, self.bins_cnt], run.dist.world, run.dev)
        bins = {f"loss_t{k}": round(float(self.bins_sum[k] / max(self.bins_cnt[k], 1)), 5)
                for k in range(T_BINS)}
        self.bins_sum[:] = 0
        self.bins_cnt[:] = 0
        return {"micro": self.state.micro, **bins}

    def logged(self, w: loop.Window, total: int, sizing: bool) -> None:
        """Say it once, early, not when the limit hits."""
        step, tc = self.state.progress.step, self.state.cfg.train
        needed = w.minutes + w.minutes_to_go
        if (not self.warned_slow and not sizing and tc.max_minutes is not None
                and step - self.first_step >= 2 * tc.log_every
                and needed > 1.1 * tc.max_minutes):
            self.warned_slow = True
            self.log(f"at this speed the {total} steps need about {needed:.0f} min, more than "
                     f"max_minutes {tc.max_minutes:g}: the run will stop there with a checkpoint "
                     "(the same command continues it; --max-minutes sets another limit)")

    def save_samples(self, path: Path) -> None:
        self.state.save_samples(path)

    def evaluate(self, total: int) -> None:
        """Near-copies among the EMA's samples, on rank 0, every ``track_every`` steps."""
        gr = self.state
        every, step = gr.cfg.train.track_every, gr.progress.step
        if self.tracker is None or not every or step % every or not gr.run.is_main:
            return
        tr = self.tracker
        fig = tr.measure(draw_samples(cast(TinyDiT, gr.ema.model), gr.cfg, tr.labels(),
                                      TRACK_SEED, gr.run.dev))
        self.runlog.log(step, **fig)
        kept = ""
        if gr.cfg.train.keep_tracked_ema:
            save_final(self.run_dir / f"ema-step{step:06d}.pt", gr.ema, gr.cfg, step, fig)
            kept = f"; EMA kept in ema-step{step:06d}.pt"
        self.log(f"near-copies at step {step}: {fig['near_copies'] * 100:.1f}% of "
                 f"{self.tracker.samples} samples{kept}")

    def sized(self, total: int) -> None:
        self.state.sized_steps = total


def near_copy_tracker(cfg: GeneratorConfig, data: GenData, cut: float | None,
                      say: loop.Log) -> NearCopyTracker | None:
    """The recipe's near-copy tracking over the labelled crops of ``data`` (None: off)."""
    if not cfg.train.track_every:
        return None
    if cut is None:
        say("near-copies not tracked: this data folder has no test crops and no recorded cut")
        return None
    crops = data.images.permute(0, 2, 3, 1).cpu().numpy()
    return NearCopyTracker(crops, cut, cfg.train.track_samples)


def start(cfg: GeneratorConfig, data: GenData, run_dir: Path, *, device: str, resume_run: bool,
          init_state: dict[str, torch.Tensor] | None, init_from: str | None, log: loop.Log,
          start_step: int = 0, near_copy_cut: float | None = None) -> GenTrainer:
    """Devices and ranks, build, resume from ``last.pt`` when there is one, open the run folder
    and say what runs where."""
    tc = cfg.train
    run = loop.setup(device, batch_size=tc.batch_size, threads=tc.threads, seed=tc.seed)
    say = run.main_log(log)
    tracker = near_copy_tracker(cfg, data, near_copy_cut, say)
    gr, data = build(cfg, data, run, init_state, init_from, say)
    last = run_dir / "last.pt"
    if resume_run and last.exists():
        resume(gr, last, say)
    elif init_from is not None:
        say(f"warm start: model and EMA begin from {init_from}")
        if start_step:
            join_schedule(gr, start_step, say)
    runlog = loop.open_run(run_dir, cfg, run)
    say(f"TinyDiT {count_params(gr.model) / 1e6:.2f}M params on {run.dev} x{run.dist.world}; "
        f"data {data.per_class_counts()}")
    return GenTrainer(gr, data, run_dir, runlog, loop.forward_precision(run, cfg.train, log),
                      log, tracker=tracker)


def join_schedule(gr: GenRun, step: int, say: loop.Log) -> None:
    """A warm start that continues its recipe's run from ``step`` (its weights came from that
    step; the run's optimizer state did not survive): the schedule, the batches drawn from
    (seed, step) and the image count go on from there, with a short re-warm of the rate."""
    tc = gr.cfg.train
    if not 0 < step < tc.steps:
        raise ConfigError(f"--start-step {step} is outside the recipe's 1..{tc.steps - 1}")
    gr.progress = loop.Progress(step=step, seen=step * tc.batch_size)
    gr.start_step = step
    say(f"joining the recipe's schedule at step {step} with fresh optimizer moments "
        f"(learning rate re-warmed over {loop.REWARM_STEPS} steps)")


def finish(tr: GenTrainer, ran: loop.Ran) -> dict[str, Any]:
    """The last checkpoint, and on rank 0 the EMA weights, a final sample grid and the run's
    summary (returned)."""
    gr, run_dir = tr.state, tr.run_dir
    gr.save(run_dir / "last.pt")
    p, tc = gr.progress, gr.cfg.train
    summary = {"step": p.step, "total_steps": ran.total, "seen": p.seen, "skipped": p.skipped,
               "micro": gr.micro, "budget_minutes": tc.budget_minutes,
               "minutes": round(ran.control.minutes(), 2),
               "per_class_images": tr.data.per_class_counts(), "params": count_params(gr.model),
               "init_from": gr.init_from}
    if gr.run.is_main:
        summary.update(throughput(gr.model, gr.cfg, gr.run.dev, tr.use_bf16, ran.img_per_s,
                                  gr.run.dist.world))
        save_final(run_dir / "ema.pt", gr.ema, gr.cfg, p.step, {"summary": summary})
        gr.save_samples(run_dir / "samples" / "final.png")
        loop.write_summary(run_dir, summary)
        tr.runlog.close(finished=p.step >= ran.total)
    distributed.shutdown()
    return summary


def train(cfg: GeneratorConfig, data: GenData, run_dir: Path, *, device: str = "auto",
          resume: bool = True, log: Callable[[str], None] = print,
          stop_after_steps: int | None = None,
          init_state: dict[str, torch.Tensor] | None = None,
          init_from: str | None = None, start_step: int = 0,
          near_copy_cut: float | None = None) -> dict[str, Any]:
    """Train (or resume) a generator in ``run_dir``. Returns a summary dict.

    ``init_state`` (weights from ``warm_start.load_init_state``, named by ``init_from``) is the
    starting point of a new run, for the model and its EMA; a resumed run ignores it (its
    checkpoint already continues from there); ``start_step`` joins the recipe's schedule there
    (``join_schedule``). ``stop_after_steps`` stops early without changing
    the schedule (used by resume tests). ``near_copy_cut`` (generator/near_copies.py) lets the
    recipe's ``track_every`` measure near-copies as the run goes."""
    tr = start(cfg, data, run_dir, device=device, resume_run=resume, init_state=init_state,
               init_from=init_from, log=log, start_step=start_step, near_copy_cut=near_copy_cut)
    plan = loop.Plan.of(cfg.train, tr.state.sized_steps)
    if tr.state.start_step:
        plan = replace(plan, rewarm_from=tr.state.start_step)
    ran = loop.run_steps(tr, plan, stop_after_steps=stop_after_steps)
    return finish(tr, ran)


def load_generator(path: Path, device: str | torch.device = "cpu"
                   ) -> tuple[TinyDiT, GeneratorConfig]:
    """Load EMA weights (``ema.pt``) or a training checkpoint (``last.pt``: its EMA part)."""
    return checkpoint.load_ema_model(path, device, config_from_checkpoint,
                                     lambda cfg: TinyDiT(cfg.model))

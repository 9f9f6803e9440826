"""Upscaler training: flow matching on the super-resolution U-Net; build, resume, step, summary.

One step: draw the global batch from (seed, step) (targets, their degraded conditions and noise
levels: upscaler/data.py) -> this rank's slice -> the flow-matching loss (upscaler/loss.py) ->
backward -> the shared finish (training/loop.py: average over ranks, skip a non-finite loss,
clip, AdamW, EMA). bf16 autocast on CUDA and, when the recipe asks, on CPUs with native bf16.
Checkpoints are atomic; a run resumes from ``last.pt`` in its folder; SIGTERM and
``max_minutes`` stop it with a checkpoint; ``budget_minutes`` sizes the schedule to the wall
time on the machine that runs it. The loop is training/loop.py's ``run_steps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from tinycats.config import to_dict
from tinycats.generator.dit import count_params
from tinycats.grid import make_grid, save_png, to_uint8
from tinycats.training import checkpoint, distributed, flops, loop
from tinycats.training.compiling import maybe_compile
from tinycats.training.ema import EMA
from tinycats.training.runlog import RunLog
from tinycats.upscaler.config import UpscalerConfig, config_from_checkpoint
from tinycats.upscaler.data import UpBatch, UpData, draw_batch
from tinycats.upscaler.degrade import DegradeConfig
from tinycats.upscaler.loss import upscaler_loss
from tinycats.upscaler.model import UpscalerUNet
from tinycats.upscaler.sample import as_solver, sample_upscale

#: the preview grid's fixed targets: drawn once from this seed, without blur, JPEG or noise
PREVIEW_SEED = 12345
PREVIEW_N = 8


def preview_grid(model: UpscalerUNet, cfg: UpscalerConfig, data: UpData, device: torch.device
                 ) -> np.ndarray:
    """Rows: the 64 px condition (upscaled bicubically), the model's sample (the recipe's
    sampler defaults, fixed noise), the original."""
    b = draw_batch(data, cfg.data, DegradeConfig(p_blur=0.0, p_jpeg=0.0, s_max=0.0), PREVIEW_N,
                   PREVIEW_SEED, 0)
    sc = cfg.sampler
    out = sample_upscale(model, b.cond.to(device), sc.steps, sc.s, as_solver(sc.solver),
                         shift=sc.shift)
    bicubic = torch.nn.functional.interpolate(b.cond, scale_factor=2.0, mode="bicubic",
                                              align_corners=False)
    rows = torch.cat([bicubic, out.float().cpu(), b.x]).clamp(-1, 1)
    return make_grid(to_uint8(rows.numpy()), ncols=PREVIEW_N)


@dataclass
class UpRun:
    """An upscaler run in progress: what ``last.pt`` keeps (with the recipe) and the model as
    the loop calls it."""
    cfg: UpscalerConfig
    run: loop.Setup
    model: UpscalerUNet
    fwd: nn.Module  # ``model``, through torch.compile when the recipe asks
    ema: EMA
    opt: torch.optim.AdamW
    progress: loop.Progress = field(default_factory=loop.Progress)
    sized_steps: int | None = None  # the step count a budget_minutes run fixed
    init_from: str | None = None  # the weights a warm-started run began from

    def save(self, path: Path) -> None:
        if self.run.is_main:
            checkpoint.save_atomic({
                "model": self.model.state_dict(), "ema": self.ema.model.state_dict(),
                "opt": self.opt.state_dict(), **self.progress.as_dict(),
                "config": to_dict(self.cfg), "sized_steps": self.sized_steps,
                "init_from": self.init_from, "kind": "upscaler"}, path)

    def save_preview(self, data: UpData, path: Path) -> None:
        ema = cast(UpscalerUNet, self.ema.model)
        save_png(preview_grid(ema, self.cfg, data, self.run.dev), path)


def build(cfg: UpscalerConfig, run: loop.Setup, log: loop.Log,
          init_state: dict[str, torch.Tensor] | None = None) -> UpRun:
    """A fresh run: the model (from ``init_state`` when given), its EMA and optimizer."""
    tc = cfg.train
    model = UpscalerUNet(cfg.model)
    if init_state is not None:
        model.load_state_dict(init_state)
    model = model.to(run.dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=(tc.betas[0], tc.betas[1]),
                            weight_decay=tc.weight_decay)
    return UpRun(cfg, run, model, maybe_compile(model, tc.compile, run.dev, log),
                 EMA(model, tc.ema_decay), opt)


def resume(ur: UpRun, last: Path, log: loop.Log) -> None:
    """Continue from ``last`` (the same model config only)."""
    ck = checkpoint.load(last, map_location=ur.run.dev)
    config_from_checkpoint(ck["config"])  # refuses a run of the removed breed input
    checkpoint.check_same_model(ck, to_dict(ur.cfg)["model"], last)
    ur.model.load_state_dict(ck["model"])
    ur.ema.model.load_state_dict(ck["ema"])
    ur.opt.load_state_dict(ck["opt"])
    ur.progress = loop.Progress.from_checkpoint(ck)
    ur.sized_steps = ck.get("sized_steps")
    ur.init_from = ck.get("init_from")
    log(f"resumed from {last} at step {ur.progress.step}")


@dataclass
class UpTrainer(loop.Trainer):
    """The upscaler's part of the shared loop (training/loop.py): its step and its preview
    grids."""
    state: UpRun
    data: UpData
    run_dir: Path
    runlog: RunLog
    use_bf16: bool
    log: loop.Log

    def train_step(self) -> float:
        """The global batch (and the t and noise drawn after it) depends on (seed, step) only;
        each rank takes its slice."""
        ur = self.state
        cfg, tc, dev = ur.cfg, ur.cfg.train, ur.run.dev
        b = draw_batch(self.data, cfg.data, cfg.degrade, tc.batch_size, tc.seed, ur.progress.step)
        sl = ur.run.rank_slice()
        mine = UpBatch(b.x[sl].to(dev), b.cond[sl].to(dev), b.s[sl].to(dev), b.g)
        ur.opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.use_bf16):
            loss, _ = upscaler_loss(cast(UpscalerUNet, ur.fwd), mine, b.g,
                                    t_sampling=cfg.t_sampling, t_mean=cfg.t_mean,
                                    t_std=cfg.t_std)
        loss.backward()
        return float(loss.detach())

    def save_samples(self, path: Path) -> None:
        self.state.save_preview(self.data, path)

    def sized(self, total: int) -> None:
        self.state.sized_steps = total


def start(cfg: UpscalerConfig, data: UpData, run_dir: Path, *, device: str, resume_run: bool,
          log: loop.Log, init_state: dict[str, torch.Tensor] | None = None,
          init_from: str | None = None) -> UpTrainer:
    """Devices and ranks, build, resume from ``last.pt`` when there is one, open the run folder
    and say what runs where."""
    tc = cfg.train
    run = loop.setup(device, batch_size=tc.batch_size, threads=tc.threads, seed=tc.seed)
    say = run.main_log(log)
    ur = build(cfg, run, say, init_state)
    last = run_dir / "last.pt"
    if resume_run and last.exists():
        resume(ur, last, say)
    elif init_from is not None:
        ur.init_from = init_from
        say(f"warm start: model and EMA begin from {init_from}")
    runlog = loop.open_run(run_dir, cfg, run)
    say(f"upscaler U-Net {count_params(ur.model) / 1e6:.2f}M params on {run.dev} "
        f"x{run.dist.world}; data {len(data.photos)} photos + {len(data.faces)} face crops")
    return UpTrainer(ur, data, run_dir, runlog, loop.forward_precision(run, cfg.train, log), log)


def throughput(ur: UpRun, use_bf16: bool, ips_windows: list[float]) -> dict[str, Any]:
    """Median images/s over the logged windows after the first, and the counted training FLOPs
    per image (training/flops.py)."""
    if not ips_windows:
        return {}
    c, dev = ur.cfg.model, ur.run.dev

    def one_step(n: int) -> torch.Tensor:
        s = c.image_size
        batch = UpBatch(torch.zeros(n, c.channels, s, s, device=dev),
                        torch.zeros(n, c.channels, s // 2, s // 2, device=dev),
                        torch.zeros(n, device=dev), torch.Generator().manual_seed(0))
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
            return upscaler_loss(ur.model, batch, batch.g)[0]

    per_image = flops.train_flops_per_image(ur.model, one_step)
    return {"img_per_s_median": round(float(np.median(ips_windows)), 2),
            "train_gflops_per_image": round(per_image / 1e9, 3)}


def finish(tr: UpTrainer, ran: loop.Ran) -> dict[str, Any]:
    """The last checkpoint, and on rank 0 the EMA weights (``ema.pt``), a final preview and the
    run's summary (returned)."""
    ur, run_dir = tr.state, tr.run_dir
    ur.save(run_dir / "last.pt")
    p, tc = ur.progress, ur.cfg.train
    summary: dict[str, Any] = {
        "step": p.step, "total_steps": ran.total, "seen": p.seen, "skipped": p.skipped,
        "budget_minutes": tc.budget_minutes, "minutes": round(ran.control.minutes(), 2),
        "params": count_params(ur.model), "photos": len(tr.data.photos),
        "face_crops": len(tr.data.faces), "init_from": ur.init_from}
    if ur.run.is_main:
        summary.update(throughput(ur, tr.use_bf16, ran.img_per_s))
        checkpoint.save_atomic({"model": ur.ema.model.state_dict(), "config": to_dict(ur.cfg),
                                "step": p.step, "kind": "upscaler-ema", "summary": summary},
                               run_dir / "ema.pt")
        ur.save_preview(tr.data, run_dir / "samples" / "final.png")
        loop.write_summary(run_dir, summary)
        tr.runlog.close(finished=p.step >= ran.total)
    distributed.shutdown()
    return summary


def train(cfg: UpscalerConfig, data: UpData, run_dir: Path, *, device: str = "auto",
          resume: bool = True, log: loop.Log = print, stop_after_steps: int | None = None,
          init_state: dict[str, torch.Tensor] | None = None, init_from: str | None = None
          ) -> dict[str, Any]:
    """Train (or resume) an upscaler in ``run_dir``; returns a summary dict.
    ``init_state`` (upscaler/warm_start.py, read from ``init_from``) starts a new run there; a
    resumed run ignores it. ``stop_after_steps`` stops early without changing the schedule
    (used by resume tests)."""
    tr = start(cfg, data, run_dir, device=device, resume_run=resume, log=log,
               init_state=init_state, init_from=init_from)
    ran = loop.run_steps(tr, loop.Plan.of(cfg.train, tr.state.sized_steps),
                         stop_after_steps=stop_after_steps)
    return finish(tr, ran)


def load_upscaler(path: Path, device: str | torch.device = "cpu"
                  ) -> tuple[UpscalerUNet, UpscalerConfig]:
    """EMA weights (``ema.pt``) or a training checkpoint (``last.pt``: its EMA part)."""
    return checkpoint.load_ema_model(path, device, config_from_checkpoint,
                                     lambda cfg: UpscalerUNet(cfg.model))

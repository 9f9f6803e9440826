"""Upscaler training loop: flow matching on the super-resolution U-Net, top to bottom.

One step: draw the global batch from (seed, step) (targets, their degraded conditions and noise
levels: upscaler/data.py) -> this rank's slice -> the flow-matching loss (upscaler/loss.py) ->
backward -> the shared finish (training/loop.py: average over ranks, skip a non-finite loss,
clip, AdamW, EMA). bf16 autocast on CUDA and, when the recipe asks, on CPUs with native bf16.
Checkpoints are atomic; a run resumes from ``last.pt`` in its folder; SIGTERM and
``max_minutes`` stop it with a checkpoint; ``budget_minutes`` sizes the schedule to the wall
time on the machine that runs it.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from tinycats.config import from_dict, to_dict
from tinycats.generator.dit import count_params
from tinycats.grid import make_grid, save_png, to_uint8
from tinycats.training import checkpoint, distributed, flops, loop, precision
from tinycats.training.compiling import maybe_compile
from tinycats.training.ema import EMA
from tinycats.training.runlog import RunLog
from tinycats.upscaler.config import UpscalerConfig
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
                         shift=sc.shift, labels=b.labels, cfg_scale=sc.cfg_scale)
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

    def save(self, path: Path) -> None:
        if self.run.is_main:
            checkpoint.save_atomic({
                "model": self.model.state_dict(), "ema": self.ema.model.state_dict(),
                "opt": self.opt.state_dict(), **self.progress.as_dict(),
                "config": to_dict(self.cfg), "sized_steps": self.sized_steps,
                "kind": "upscaler"}, path)

    def save_preview(self, data: UpData, path: Path) -> None:
        ema = cast(UpscalerUNet, self.ema.model)
        save_png(preview_grid(ema, self.cfg, data, self.run.dev), path)


def build(cfg: UpscalerConfig, run: loop.Setup, log: loop.Log) -> UpRun:
    """A fresh run: the model, its EMA and optimizer."""
    tc = cfg.train
    model = UpscalerUNet(cfg.model).to(run.dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=(tc.betas[0], tc.betas[1]),
                            weight_decay=tc.weight_decay)
    return UpRun(cfg, run, model, maybe_compile(model, tc.compile, run.dev, log),
                 EMA(model, tc.ema_decay), opt)


def resume(ur: UpRun, last: Path, log: loop.Log) -> None:
    """Continue from ``last`` (the same model config only)."""
    ck = checkpoint.load(last, map_location=ur.run.dev)
    checkpoint.check_same_model(ck, to_dict(ur.cfg)["model"], last)
    ur.model.load_state_dict(ck["model"])
    ur.ema.model.load_state_dict(ck["ema"])
    ur.opt.load_state_dict(ck["opt"])
    ur.progress = loop.Progress.from_checkpoint(ck)
    ur.sized_steps = ck.get("sized_steps")
    log(f"resumed from {last} at step {ur.progress.step}")


def start(cfg: UpscalerConfig, data: UpData, run_dir: Path, run: loop.Setup, *,
          resume_run: bool, log: loop.Log) -> tuple[UpRun, RunLog, bool]:
    """Build, resume from ``last.pt`` when there is one, open the run folder and say what runs
    where; also returns whether the forward pass runs in bf16."""
    say = run.main_log(log)
    ur = build(cfg, run, say)
    last = run_dir / "last.pt"
    if resume_run and last.exists():
        resume(ur, last, say)
    runlog = loop.open_run(run_dir, cfg, run)
    say(f"upscaler U-Net {count_params(ur.model) / 1e6:.2f}M params on {run.dev} "
        f"x{run.dist.world}; data {len(data.photos)} photos + {len(data.faces)} face crops")
    use_bf16 = precision.use_bf16(run.dev, cuda=cfg.train.bf16, cpu=cfg.train.cpu_bf16, log=log)
    say(f"forward pass in {'bf16 autocast' if use_bf16 else 'fp32'}; "
        f"{torch.get_num_threads()} CPU threads")
    return ur, runlog, use_bf16


def train_step(ur: UpRun, data: UpData, use_bf16: bool) -> float:
    """This rank's loss of one step, gradients in place. The global batch (and the t and noise
    drawn after it) depends on (seed, step) only; each rank takes its slice."""
    cfg, tc, dev = ur.cfg, ur.cfg.train, ur.run.dev
    b = draw_batch(data, cfg.data, cfg.degrade, tc.batch_size, tc.seed, ur.progress.step)
    sl = ur.run.rank_slice()
    mine = UpBatch(b.x[sl].to(dev), b.cond[sl].to(dev), b.s[sl].to(dev), b.labels[sl], b.g)
    ur.opt.zero_grad(set_to_none=True)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
        loss, _ = upscaler_loss(cast(UpscalerUNet, ur.fwd), mine, b.g,
                                t_sampling=cfg.t_sampling, t_mean=cfg.t_mean, t_std=cfg.t_std,
                                p_uncond=cfg.p_uncond)
    loss.backward()
    return float(loss.detach())


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
                        torch.zeros(n, device=dev), torch.zeros(n, dtype=torch.long),
                        torch.Generator().manual_seed(0))
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
            return upscaler_loss(ur.model, batch, batch.g)[0]

    per_image = flops.train_flops_per_image(ur.model, one_step)
    return {"img_per_s_median": round(float(np.median(ips_windows)), 2),
            "train_gflops_per_image": round(per_image / 1e9, 3)}


def finish(ur: UpRun, data: UpData, run_dir: Path, runlog: RunLog, window: loop.LogWindow,
           ctl: loop.RunControl, total: int, use_bf16: bool) -> dict[str, Any]:
    """The last checkpoint, and on rank 0 the EMA weights (``ema.pt``), a final preview and the
    run's summary (returned)."""
    ur.save(run_dir / "last.pt")
    p, tc = ur.progress, ur.cfg.train
    summary: dict[str, Any] = {
        "step": p.step, "total_steps": total, "seen": p.seen, "skipped": p.skipped,
        "budget_minutes": tc.budget_minutes, "minutes": round(ctl.minutes(), 2),
        "params": count_params(ur.model), "photos": len(data.photos),
        "face_crops": len(data.faces)}
    if ur.run.is_main:
        summary.update(throughput(ur, use_bf16, window.img_per_s))
        checkpoint.save_atomic({"model": ur.ema.model.state_dict(), "config": to_dict(ur.cfg),
                                "step": p.step, "kind": "upscaler-ema", "summary": summary},
                               run_dir / "ema.pt")
        ur.save_preview(data, run_dir / "samples" / "final.png")
        loop.write_summary(run_dir, summary)
        runlog.close(finished=p.step >= total)
    distributed.shutdown()
    return summary


def budget_sizer(ur: UpRun, ctl: loop.RunControl, log: loop.Log) -> loop.BudgetSizer:
    tc = ur.cfg.train
    return loop.BudgetSizer(tc.budget_minutes, tc.budget_calibration_steps, warmup=tc.warmup,
                            first_step=ur.progress.step, sized_steps=ur.sized_steps,
                            batch_size=tc.batch_size, t_start=ctl.t_start, mean=ur.run.mean,
                            log=ur.run.main_log(log))


def train(cfg: UpscalerConfig, data: UpData, run_dir: Path, *, device: str = "auto",
          resume: bool = True, log: loop.Log = print, stop_after_steps: int | None = None
          ) -> dict[str, Any]:
    """Train (or resume) an upscaler in ``run_dir``; returns a summary dict.
    ``stop_after_steps`` stops early without changing the schedule (used by resume tests)."""
    tc = cfg.train
    run = loop.setup(device, batch_size=tc.batch_size, threads=tc.threads, seed=tc.seed)
    ur, runlog, use_bf16 = start(cfg, data, run_dir, run, resume_run=resume, log=log)
    p = ur.progress
    ctl = loop.RunControl(run, tc.max_minutes, log)
    window = loop.LogWindow(ctl.t_start, p.step)
    sizer = budget_sizer(ur, ctl, log)
    total = ur.sized_steps or tc.steps
    end = loop.last_step(sizer.horizon(total), stop_after_steps)
    with ctl:
        while p.step < end:
            sized = sizer.at_step(p.step, time.time())
            if sized is not None:
                ur.sized_steps = total = sized
                end = loop.last_step(total, stop_after_steps)
            if ctl.should_stop(p.step):
                break
            lr = loop.set_lr(ur.opt, p.step, peak=tc.lr, warmup=tc.warmup, total=total,
                             min_ratio=tc.min_lr_ratio)
            loss = train_step(ur, data, use_bf16)
            update = loop.finish_step(run, p, ur.model, ur.opt, loss, grad_clip=tc.grad_clip,
                                      ema=ur.ema, log=log)
            if update is None:
                continue
            window.add(update.loss, tc.batch_size)
            if p.step % tc.log_every == 0 or p.step == end:
                w = window.close(p.step, total)
                if run.is_main:
                    loop.report(runlog, log, w, step=p.step, total=total, lr=lr,
                                grad_norm=update.grad_norm, skipped=p.skipped, eta=True)
            if p.step % tc.ckpt_every == 0:
                ur.save(run_dir / "last.pt")
            if run.is_main and tc.sample_every and p.step % tc.sample_every == 0:
                ur.save_preview(data, run_dir / "samples" / f"step{p.step:06d}.png")
    return finish(ur, data, run_dir, runlog, window, ctl, total, use_bf16)


def load_upscaler(path: Path, device: str | torch.device = "cpu"
                  ) -> tuple[UpscalerUNet, UpscalerConfig]:
    """EMA weights (``ema.pt``) or a training checkpoint (``last.pt``: its EMA part)."""
    ck = checkpoint.load(path, map_location=device)
    cfg = from_dict(UpscalerConfig, ck["config"])
    model = UpscalerUNet(cfg.model)
    model.load_state_dict(ck["ema"] if "ema" in ck else ck["model"])
    return model.to(device).eval(), cfg


def replace(cfg: UpscalerConfig, **train_overrides: Any) -> UpscalerConfig:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **train_overrides))

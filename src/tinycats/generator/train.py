"""Generator training loop: flow matching on TinyDiT, visible from top to bottom.

One step: draw the global batch from (seed, step) -> take this rank's slice -> micro-batches
(gradient accumulation) -> average grads across ranks -> skip the step if the loss is NaN/inf ->
clip -> AdamW -> EMA. On CUDA (and on CPUs with native bf16, when the recipe
asks): bf16 autocast; on CUDA an out-of-memory error halves the micro-batch
and retries the step. Checkpoints are atomic; a run resumes from ``last.pt`` in its folder.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import yaml
from torch import nn

from tinycats.breeds import BREEDS, NULL_ID, NUM_GENERATOR_CLASSES
from tinycats.config import ConfigError, to_dict
from tinycats.generator import flow, repa
from tinycats.generator.config import GeneratorConfig
from tinycats.generator.data import GenData, draw_batch
from tinycats.generator.dit import TinyDiT, count_params, one_hot
from tinycats.grid import make_grid, save_png, to_uint8
from tinycats.training import checkpoint, distributed, flops, precision
from tinycats.training.compiling import maybe_compile
from tinycats.training.ema import EMA
from tinycats.training.runlog import RunLog
from tinycats.training.schedule import lr_at, steps_for_budget

T_BINS = 5
#: model switches that only add a layer starting as the identity: a run may be resumed with
#: one of them turned on (the new layer's weights start from their init).
ADDITIVE_SWITCHES = {"final_conv"}


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def sample_grid(model: TinyDiT, cfg: GeneratorConfig, device: torch.device, per_class: int = 2,
                seed: int = 0) -> np.ndarray:
    """A (per_class rows x 13 columns) grid: every breed plus ``any_cat``, fixed noise."""
    classes = [b.id for b in BREEDS] + [NUM_GENERATOR_CLASSES - 2]
    labels = torch.tensor(classes * per_class, device=device)
    g = torch.Generator().manual_seed(seed)
    s = cfg.model.image_size
    noise = torch.randn(len(labels), 3, s, s, generator=g).to(device)
    y = one_hot(labels).to(device)
    y_null = one_hot(torch.full_like(labels, NULL_ID)).to(device)
    sc = cfg.sampler
    x = flow.sample(model, noise, y, y_null, steps=sc.steps, cfg_scale=sc.cfg_scale,
                    prediction=cfg.prediction, solver=sc.solver, shift=sc.shift)  # type: ignore[arg-type]
    return make_grid(to_uint8(x.float().cpu().numpy()), ncols=len(classes))


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


def make_optimizer(model: TinyDiT, tc: Any, groups: list[list[str]]) -> torch.optim.AdamW:
    params = dict(model.named_parameters())
    return torch.optim.AdamW([{"params": [params[n] for n in g]} for g in groups], lr=tc.lr,
                             betas=tuple(tc.betas), weight_decay=tc.weight_decay)


def train(cfg: GeneratorConfig, data: GenData, run_dir: Path, *, device: str = "auto",
          resume: bool = True, log: Callable[[str], None] = print,
          stop_after_steps: int | None = None,
          init_state: dict[str, torch.Tensor] | None = None,
          init_from: str | None = None) -> dict[str, Any]:
    """Train (or resume) a generator in ``run_dir``. Returns a summary dict.

    ``init_state`` (weights from ``warm_start.load_init_state``, named by ``init_from``) is the
    starting point of a new run, for the model and its EMA; a resumed run ignores it (its
    checkpoint already continues from there). ``stop_after_steps`` stops early without changing
    the schedule (used by resume tests)."""
    tc = cfg.train
    dev = pick_device(device)
    dist = distributed.init(dev.type)
    if dist.enabled and dev.type == "cuda":
        dev = torch.device("cuda", dist.local_rank)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)

    model = TinyDiT(cfg.model)
    if init_state is not None:
        model.load_state_dict(init_state)
    model = model.to(dev)
    if dev.type == "cuda":
        data = data.to(dev)  # batches are gathered on the GPU (GenData.to says why)
    ema = EMA(model, tc.ema_decay)
    names = [n for n, _ in model.named_parameters()]
    groups: list[list[str]] = [names]  # parameter names per optimizer group
    # REPA (generator/repa.py): a projector trained beside the model, never exported.
    projector: repa.Projector | None = None
    trained: nn.Module = model
    if cfg.repa.weight > 0:
        if not 1 <= cfg.repa.layer <= cfg.model.depth:
            raise ConfigError(f"repa.layer {cfg.repa.layer} is not a block of this model "
                              f"(1..{cfg.model.depth})")
        if data.targets is None or (data.extra is not None and data.extra_targets is None):
            raise ConfigError("the recipe sets repa.weight but the data has no encoder "
                              "targets (generator.data.attach_targets computes them)")
        projector = repa.Projector(cfg.model.width, data.targets.shape[-1],
                                   cfg.repa.proj_hidden).to(dev)
        trained = repa.AlignedDiT(model, projector, cfg.repa.layer)
    fwd = maybe_compile(trained, tc.compile, dev, log if dist.is_main else (lambda _m: None))
    params_to_clip = list(trained.parameters())
    if tc.batch_size % dist.world:
        raise ConfigError(f"train.batch_size {tc.batch_size} is not divisible by {dist.world} "
                          "processes; pick a batch size that is a multiple of --nproc_per_node")
    local_batch = tc.batch_size // dist.world
    micro = min(tc.micro_batch or local_batch, local_batch)

    def add_projector_group(opt: torch.optim.AdamW) -> None:
        if projector is not None:
            opt.add_param_group({"params": list(projector.parameters())})

    step, skipped, seen = 0, 0, 0
    sized_steps: int | None = None  # the step count a budget_minutes run fixed (checkpointed)
    opt = make_optimizer(model, tc, groups)
    add_projector_group(opt)
    last = run_dir / "last.pt"
    if resume and last.exists():
        ck = checkpoint.load(last, map_location=dev)
        ck_model = ck.get("config", {}).get("model", {})
        if any(ck_model.get(k, v) != v for k, v in to_dict(cfg)["model"].items()
               if not (k in ADDITIVE_SWITCHES and not ck_model.get(k))):
            raise checkpoint.CheckpointError(
                f"{last} was trained with a different model config; use a new run folder "
                "or --fresh")
        # A layer added to the architecture since the checkpoint (a config switch the
        # checkpoint predates, e.g. final_conv) keeps its identity init and joins the
        # optimizer as a new group; every other tensor must match exactly.
        missing, unexpected = model.load_state_dict(ck["model"], strict=False)
        if unexpected:
            raise checkpoint.CheckpointError(f"{last} has weights this model lacks: "
                                             f"{unexpected[:5]}")
        ema.model.load_state_dict(ck["ema"], strict=False)
        groups = ck.get("opt_groups") or [[n for n in names if n not in missing]]
        opt = make_optimizer(model, tc, groups)
        has_proj = "repa_projector" in ck
        if has_proj and projector is None:
            raise checkpoint.CheckpointError(
                f"{last} was trained with representation alignment (repa.weight > 0): keep "
                "it on to resume, or use a new run folder or --fresh")
        if has_proj and projector is not None:
            projector.load_state_dict(ck["repa_projector"])
            add_projector_group(opt)
        opt.load_state_dict(ck["opt"])
        if not has_proj:  # REPA switched on since the checkpoint: a fresh projector
            add_projector_group(opt)
        known = {n for g in groups for n in g}
        new = [n for n in names if n not in known]
        if new:
            params = dict(model.named_parameters())
            opt.add_param_group({"params": [params[n] for n in new]})
            groups = [*groups, new]
            if dist.is_main:
                log(f"new parameters start from their init: {len(new)} tensors")
        step, skipped, seen = ck["step"], ck.get("skipped", 0), ck.get("seen", 0)
        sized_steps = ck.get("sized_steps")
        micro = min(ck.get("micro", micro), local_batch)
        init_from = ck.get("init_from")
        if dist.is_main:
            log(f"resumed from {last} at step {step}")
    elif init_from is not None and dist.is_main:
        log(f"warm start: model and EMA begin from {init_from}")
    runlog = RunLog(run_dir, enabled=dist.is_main)
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        log(f"TinyDiT {count_params(model) / 1e6:.2f}M params on {dev} x{dist.world}; "
            f"data {data.per_class_counts()}")

    stop = {"flag": False}

    def on_term(signum: int, frame: object) -> None:  # preemption: checkpoint, then exit
        stop["flag"] = True

    old = signal.signal(signal.SIGTERM, on_term)
    use_bf16 = precision.use_bf16(dev, cuda=tc.bf16, cpu=tc.cpu_bf16, log=log)
    if dist.is_main:
        log(f"forward pass in {'bf16 autocast' if use_bf16 else 'fp32'}; "
            f"{torch.get_num_threads()} CPU threads")

    def save_ckpt() -> None:
        if dist.is_main:
            checkpoint.save_atomic({"model": model.state_dict(), "ema": ema.model.state_dict(),
                                    "opt": opt.state_dict(), "step": step, "skipped": skipped,
                                    "seen": seen, "micro": micro, "config": to_dict(cfg),
                                    "opt_groups": groups, "init_from": init_from,
                                    "sized_steps": sized_steps,
                                    **({} if projector is None else
                                       {"repa_projector": projector.state_dict()})}, last)

    t_start = time.time()
    first_step, warned_slow = step, False
    speed_from: tuple[float, int] | None = None  # (time, step) at the first logged window
    t_win, n_win = time.time(), 0
    bins_sum = np.zeros(T_BINS)
    bins_cnt = np.zeros(T_BINS)
    loss_win: list[float] = []
    align_win: list[float] = []  # REPA: 1 - cosine similarity, mean per step
    ips_windows: list[float] = []  # images/s of each logged window after the first (compile)
    # A budget_minutes run sizes its schedule once, from the speed of this process's steps
    # [first + cal, first + 2 cal); until then it plans with ``steps`` (warmup only, normally).
    sizing = tc.budget_minutes is not None and sized_steps is None
    if sizing and tc.budget_calibration_steps < 1:
        raise ConfigError("train.budget_calibration_steps must be at least 1")
    cal = tc.budget_calibration_steps
    cal_from: float | None = None  # wall time when the timed calibration steps began
    total_steps = sized_steps or tc.steps

    def end_at(total: int) -> int:
        return total if stop_after_steps is None else min(total, stop_after_steps)

    end_step = end_at(total_steps) if not sizing else end_at(max(total_steps, first_step + 2 * cal))
    try:
        while step < end_step:
            if sizing and step == first_step + cal:
                cal_from = time.time()
            if sizing and step == first_step + 2 * cal:
                assert cal_from is not None and tc.budget_minutes is not None
                sec_per_step = distributed.all_reduce_scalar((time.time() - cal_from) / cal,
                                                             dist.world, dev)
                elapsed_s = distributed.all_reduce_scalar(time.time() - t_start, dist.world, dev)
                sized_steps = total_steps = steps_for_budget(step, elapsed_s, sec_per_step,
                                                             tc.budget_minutes * 60)
                end_step, sizing = end_at(total_steps), False
                if dist.is_main:
                    log(f"budget {tc.budget_minutes:g} min: {sec_per_step:.3f} s/step measured "
                        f"over {cal} steps -> schedule sized to {total_steps} steps "
                        f"({total_steps * tc.batch_size:,} images)")
                if dist.is_main and total_steps <= tc.warmup:
                    log(f"warning: the budget holds {total_steps} steps, no more than the "
                        f"{tc.warmup} warmup steps: the learning rate never decays")
            # Stop (SIGTERM, wall-time limit) only when every rank agrees, after the same step.
            over_time = (tc.max_minutes is not None
                         and (time.time() - t_start) / 60 > tc.max_minutes)
            if distributed.any_rank(stop["flag"] or over_time, dist.world, dev):
                if dist.is_main:
                    why = "stop requested (SIGTERM)" if stop["flag"] else (
                        f"max_minutes {tc.max_minutes} reached")
                    log(f"{why} at step {step}; checkpointing")
                break
            lr = lr_at(step, peak=tc.lr, warmup=tc.warmup, total=total_steps,
                       min_ratio=tc.min_lr_ratio)
            for group in opt.param_groups:
                group["lr"] = lr
            x, labels, g, targets = draw_batch(data, cfg.data, tc.batch_size, tc.seed, step)
            drop = (torch.rand(tc.batch_size, generator=g) < cfg.p_uncond).to(labels.device)
            labels = torch.where(drop, torch.full_like(labels, NULL_ID), labels)
            t = flow.sample_t(tc.batch_size, cfg.t_sampling, mean=cfg.t_mean, std=cfg.t_std,
                              generator=g)
            eps = draw_noise(x.shape, g, dev, tc.seed, step)
            sl = slice(dist.rank * local_batch, (dist.rank + 1) * local_batch)
            x, labels, t, eps = x[sl].to(dev), labels[sl].to(dev), t[sl].to(dev), eps[sl].to(dev)
            if targets is not None:
                targets = targets[sl].to(dev)

            while True:  # retried with a smaller micro-batch after a CUDA OOM
                try:
                    opt.zero_grad(set_to_none=True)
                    loss_sum, align_sum = 0.0, 0.0
                    per_all = []
                    for i in range(0, local_batch, micro):
                        j = slice(i, i + micro)
                        y_j = one_hot(labels[j]).to(dev)
                        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                            if projector is None:
                                loss, per = flow.flow_loss(fwd, x[j], y_j, t[j], eps[j],
                                                           cfg.prediction)  # type: ignore[arg-type]
                                total = loss
                            else:
                                assert targets is not None
                                x_t = flow.interpolate(x[j], eps[j], t[j])
                                out, z = fwd(x_t, t[j], y_j)
                                loss, per = flow.velocity_loss(out, x_t, x[j], eps[j], t[j],
                                                               cfg.prediction)  # type: ignore[arg-type]
                                align = repa.alignment_loss(z, targets[j]).mean()
                                total = loss + cfg.repa.weight * align
                        frac = per.shape[0] / local_batch
                        (total * frac).backward()
                        if projector is not None:
                            align_sum += float(align.detach()) * frac
                        loss_sum += float(loss.detach()) * frac
                        per_all.append(per.detach())
                    break
                except torch.cuda.OutOfMemoryError:
                    if micro <= 1:
                        raise
                    micro = max(1, micro // 2)
                    torch.cuda.empty_cache()
                    log(f"CUDA out of memory: micro-batch halved to {micro}, step {step} retried")

            distributed.all_reduce_grads(trained, dist.world)
            loss_val = distributed.all_reduce_scalar(loss_sum, dist.world, dev)
            align_val = distributed.all_reduce_scalar(align_sum, dist.world, dev)
            if not math.isfinite(loss_val + align_val):
                skipped += 1
                opt.zero_grad(set_to_none=True)
                log(f"step {step}: non-finite loss, step skipped ({skipped} so far)")
                step += 1
                continue
            gnorm = float(torch.nn.utils.clip_grad_norm_(params_to_clip, tc.grad_clip))
            opt.step()
            ema.update(model, step)
            step += 1
            seen += tc.batch_size
            n_win += tc.batch_size
            loss_win.append(loss_val)
            if projector is not None:
                align_win.append(align_val)
            per_cat = torch.cat(per_all).float().cpu().numpy()
            b = np.minimum((t.cpu().numpy() * T_BINS).astype(int), T_BINS - 1)
            np.add.at(bins_sum, b, per_cat)
            np.add.at(bins_cnt, b, 1)

            if step % tc.log_every == 0 or step == end_step:
                # t-bins hold each rank's own slice: sum them over ranks before logging.
                distributed.all_reduce_sum_([bins_sum, bins_cnt], dist.world, dev)
                if dist.is_main:
                    dt = time.time() - t_win
                    ips = n_win / max(dt, 1e-9)
                    if speed_from is not None:  # not this process's first (compiling) window
                        ips_windows.append(ips)
                    bins = {f"loss_t{k}": round(float(bins_sum[k] / max(bins_cnt[k], 1)), 5)
                            for k in range(T_BINS)}
                    mean_loss = float(np.mean(loss_win))
                    aligned = ({} if not align_win else
                               {"repa_align": round(float(np.mean(align_win)), 5)})
                    runlog.log(step, loss=round(mean_loss, 5), lr=lr, grad_norm=round(gnorm, 4),
                               img_per_s=round(ips, 1), skipped=skipped, micro=micro, **bins,
                               **aligned)
                    elapsed = (time.time() - t_start) / 60
                    # speed since the first logged window (that one includes compiling)
                    base_t, base_step = speed_from or (t_start, first_step)
                    per_step = (time.time() - base_t) / 60 / max(step - base_step, 1)
                    eta = (total_steps - step) * per_step
                    speed_from = speed_from or (time.time(), step)
                    log(f"step {step}/{total_steps} loss {mean_loss:.4f} "
                        + (f"align {aligned['repa_align']:.3f} " if aligned else "")
                        + f"lr {lr:.2e} "
                        f"gnorm {gnorm:.2f} {ips:.1f} img/s "
                        f"elapsed {elapsed:.1f} min, about {eta:.0f} min to go")
                    if (not warned_slow and not sizing and tc.max_minutes is not None
                            and step - first_step
                            >= 2 * tc.log_every and elapsed + eta > 1.1 * tc.max_minutes):
                        warned_slow = True  # say it once, early, not when the limit hits
                        log(f"at this speed the {total_steps} steps need about "
                            f"{elapsed + eta:.0f} min, more than max_minutes "
                            f"{tc.max_minutes:g}: the run will stop there with a checkpoint "
                            "(the same command continues it; --max-minutes sets another limit)")
                t_win, n_win = time.time(), 0
                bins_sum[:] = 0
                bins_cnt[:] = 0
                loss_win = []
                align_win = []
            if step % tc.ckpt_every == 0:
                save_ckpt()
            if dist.is_main and tc.sample_every and step % tc.sample_every == 0:
                grid = sample_grid(cast(TinyDiT, ema.model), cfg, dev)
                save_png(grid, run_dir / "samples" / f"step{step:06d}.png", upscale=2)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    save_ckpt()
    summary = {"step": step, "total_steps": total_steps, "seen": seen, "skipped": skipped,
               "micro": micro, "budget_minutes": tc.budget_minutes,
               "minutes": round((time.time() - t_start) / 60, 2),
               "per_class_images": data.per_class_counts(), "params": count_params(model),
               "init_from": init_from}
    if dist.is_main:
        summary.update(throughput(model, cfg, dev, use_bf16, ips_windows, dist.world))
        save_final(run_dir / "ema.pt", ema, cfg, step, {"summary": summary})
        grid = sample_grid(cast(TinyDiT, ema.model), cfg, dev)
        save_png(grid, run_dir / "samples" / "final.png", upscale=2)
        (run_dir / "summary.yaml").write_text(yaml.safe_dump(summary, sort_keys=False))
        runlog.close(finished=step >= total_steps)
    distributed.shutdown()
    return summary


def load_generator(path: Path, device: str | torch.device = "cpu"
                   ) -> tuple[TinyDiT, GeneratorConfig]:
    """Load EMA weights (``ema.pt``) or a training checkpoint (``last.pt``: its EMA part)."""
    from tinycats.config import from_dict

    ck = checkpoint.load(path, map_location=device)
    cfg = from_dict(GeneratorConfig, ck["config"])
    model = TinyDiT(cfg.model)
    model.load_state_dict(ck["ema"] if "ema" in ck else ck["model"])
    return model.to(device).eval(), cfg


def replace(cfg: GeneratorConfig, **train_overrides: Any) -> GeneratorConfig:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **train_overrides))

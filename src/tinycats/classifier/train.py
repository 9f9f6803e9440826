"""Classifier training loop: fine-tune EfficientNet-Lite, visible from top to bottom.

One step: draw the global batch from (seed, step) with class-balancing weights -> augment it
(same generator) -> take this rank's slice -> forward/backward (the frozen stem and first blocks
run without autograd) -> average grads across ranks -> skip the step if the loss is NaN/inf ->
clip -> AdamW (warmup + cosine) -> EMA. Every ``eval_every`` steps both the weights and their EMA
are scored on the validation split; the better one is kept in ``model.pt`` when it beats the best
so far, and training stops early after ``patience`` passes without improvement.

Checkpoints (``last.pt``) are atomic and hold everything the loop state depends on (weights, EMA,
optimizer, step, early-stopping state), and the data and dropout randomness are functions of
(seed, step), so a run stopped at any checkpoint and resumed ends with the same weights as an
uninterrupted one. The same code runs on CPU, CUDA and under torchrun.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
import torch.nn.functional as F
import yaml

from tinycats.breeds import NUM_BREEDS, OTHER_ID
from tinycats.classifier.config import ClassifierConfig
from tinycats.classifier.data import LabeledImages, draw_indices, sample_weights
from tinycats.classifier.model import EfficientNetLite, build_classifier, count_params
from tinycats.config import ConfigError, from_dict, to_dict
from tinycats.data.augment import AugmentConfig, augment, center_input
from tinycats.training import checkpoint, distributed
from tinycats.training.ema import EMA
from tinycats.training.runlog import RunLog
from tinycats.training.schedule import lr_at


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def total_steps(cfg: ClassifierConfig, n_train: int) -> int:
    return max(1, math.ceil(cfg.train.epochs * n_train / cfg.train.batch_size))


def augment_config(cfg: ClassifierConfig) -> AugmentConfig:
    a = cfg.data.augment
    # YAML gives lists where the dataclass says tuples; normalise once here.
    return AugmentConfig(tuple(a.crop_scale), tuple(a.crop_ratio), a.hflip,  # type: ignore[arg-type]
                         a.brightness, a.contrast, a.saturation, a.lowres_p,
                         tuple(a.lowres_sizes))  # type: ignore[arg-type]


@dataclass
class ValScore:
    acc: float  # top-1 over all 13 labels
    breed_acc: float  # top-1 over the cat images (a cat predicted "other" is wrong)
    cat_vs_other: float
    nll: float

    def better_than(self, other: ValScore | None) -> bool:
        if other is None:
            return True
        return (self.acc, -self.nll) > (other.acc, -other.nll)

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 5) for k, v in vars(self).items()}


@torch.no_grad()
def score(model: EfficientNetLite, data: LabeledImages, input_size: int, dev: torch.device,
          rank: int = 0, world: int = 1, batch: int = 64, channels_last: bool = True
          ) -> ValScore:
    """Validation score; each rank scores every world-th image, totals are summed."""
    was_training = model.training
    model.eval()
    idx = torch.arange(rank, len(data), world)
    correct = breed_correct = breeds = cvo = 0
    nll = 0.0
    for i in range(0, len(idx), batch):
        j = idx[i:i + batch]
        x = center_input(data.images[j].to(dev), input_size)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = data.labels[j].to(dev)
        logits, _ = model(x)
        logits = logits.float()
        pred = logits.argmax(1)
        correct += int((pred == y).sum())
        is_cat = y < NUM_BREEDS
        breeds += int(is_cat.sum())
        breed_correct += int((pred == y)[is_cat].sum())
        cvo += int(((pred == OTHER_ID) == (y == OTHER_ID)).sum())
        nll += float(F.cross_entropy(logits, y, reduction="sum"))
    model.train(was_training)
    tot = [float(v) for v in (correct, breed_correct, breeds, cvo, len(idx))]
    tot.append(nll)
    tot = [distributed.all_reduce_scalar(v, world, dev) * world for v in tot]
    correct_f, breed_correct_f, breeds_f, cvo_f, n_f, nll_f = tot
    n_f = max(n_f, 1.0)
    return ValScore(correct_f / n_f, breed_correct_f / max(breeds_f, 1.0), cvo_f / n_f,
                    nll_f / n_f)


@torch.no_grad()
def fit_temperature(model: EfficientNetLite, data: LabeledImages, input_size: int,
                    dev: torch.device, batch: int = 64) -> dict[str, float]:
    """Temperature scaling on the validation split: the T minimising the NLL of
    softmax(logits / T), searched on a log grid (one parameter: a grid is exact enough and
    cannot diverge). Label smoothing leaves the raw model under-confident; this fixes the
    calibration without changing any prediction."""
    model.eval()
    logits = torch.cat([model(center_input(data.images[i:i + batch].to(dev), input_size))[0]
                        .float().cpu() for i in range(0, len(data), batch)])
    y = data.labels
    grid = torch.exp(torch.linspace(math.log(0.2), math.log(5.0), 241))
    nlls = torch.stack([F.cross_entropy(logits / t, y) for t in grid])
    k = int(nlls.argmin())
    return {"temperature": round(float(grid[k]), 5), "val_nll_before": round(float(
        F.cross_entropy(logits, y)), 5), "val_nll_after": round(float(nlls[k]), 5)}


def calibrate_checkpoint(path: Path, val_set: LabeledImages, dev: torch.device,
                         refit: bool = False) -> dict[str, float]:
    """Fit the temperature of the weights in ``path`` (a ``model.pt``) on ``val_set`` and store
    it there (atomically), unless it already has one and ``refit`` is False. The export folds
    T into the ONNX softmax; no prediction changes, only how confident they are."""
    ck = checkpoint.load(path, map_location=dev)
    calibration: dict[str, float] | None = ck.get("calibration")
    if calibration is None or refit:
        cfg = from_dict(ClassifierConfig, ck["config"])
        m = build_classifier(cfg.model.backbone, pretrained=False,
                             dropout=cfg.model.dropout).to(dev)
        m.load_state_dict(ck["model"])
        calibration = fit_temperature(m, val_set, cfg.model.input_size, dev)
        ck["temperature"], ck["calibration"] = calibration["temperature"], calibration
        checkpoint.save_atomic(ck, path)
    return calibration


def param_groups(model: EfficientNetLite, cfg: ClassifierConfig) -> list[dict[str, Any]]:
    """AdamW groups: backbone / head, and no weight decay on BatchNorm and biases."""
    tc = cfg.train
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = (name.startswith("fc."), p.ndim > 1)
        groups.setdefault(key, []).append(p)
    out = []
    for (is_head, decay), params in sorted(groups.items()):
        out.append({"params": params, "base_lr": tc.lr * (tc.head_lr_mult if is_head else 1.0),
                    "weight_decay": tc.weight_decay if decay else 0.0})
    return out


def save_model(path: Path, state: dict[str, torch.Tensor], cfg: ClassifierConfig, step: int,
               which: str, val: ValScore | None) -> None:
    """The deliverable: weights + recipe (what export and eval read)."""
    checkpoint.save_atomic({"model": state, "config": to_dict(cfg), "step": step,
                            "kind": "classifier", "weights": which,
                            "val": val.as_dict() if val else None}, path)


def train(cfg: ClassifierConfig, train_set: LabeledImages, val_set: LabeledImages,
          run_dir: Path, *, device: str = "auto", resume: bool = True,
          log: Callable[[str], None] = print,
          stop_after_steps: int | None = None) -> dict[str, Any]:
    """Train (or resume) a classifier in ``run_dir``; the best weights end in ``model.pt``.

    ``stop_after_steps`` stops early without changing the schedule (used by resume tests)."""
    tc, mc = cfg.train, cfg.model
    dev = pick_device(device)
    dist = distributed.init(dev.type)
    if dist.enabled and dev.type == "cuda":
        dev = torch.device("cuda", dist.local_rank)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    if tc.batch_size % dist.world:
        raise ConfigError(f"train.batch_size {tc.batch_size} is not divisible by {dist.world} "
                          "processes; pick a batch size that is a multiple of --nproc_per_node")
    local_batch = tc.batch_size // dist.world
    torch.manual_seed(tc.seed)

    model = build_classifier(mc.backbone, pretrained=mc.pretrained, dropout=mc.dropout)
    model.freeze(mc.freeze_blocks)
    model.to(dev)
    fmt = torch.channels_last if tc.channels_last else torch.contiguous_format
    model.to(memory_format=fmt)  # type: ignore[call-overload]
    model.train()
    ema = EMA(model, tc.ema_decay) if tc.ema_decay > 0 else None
    opt = torch.optim.AdamW(param_groups(model, cfg), lr=tc.lr,
                            betas=tuple(tc.betas))  # type: ignore[arg-type]
    aug = augment_config(cfg)
    weights = sample_weights(train_set.labels, cfg.data.balance)
    steps = total_steps(cfg, len(train_set))

    step, skipped, seen = 0, 0, 0
    best: ValScore | None = None
    best_step, since_best, stopped_early = 0, 0, False
    history: list[dict[str, Any]] = []
    last, best_path = run_dir / "last.pt", run_dir / "model.pt"
    if resume and last.exists():
        ck = checkpoint.load(last, map_location=dev)
        if ck.get("config", {}).get("model") != to_dict(cfg)["model"]:
            raise checkpoint.CheckpointError(
                f"{last} was trained with a different model config; use a new run folder "
                "or --fresh")
        model.load_state_dict(ck["model"])
        if ema is not None and ck.get("ema") is not None:
            ema.model.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, skipped, seen = ck["step"], ck["skipped"], ck["seen"]
        best = ValScore(**ck["best"]) if ck.get("best") else None
        best_step, since_best = ck["best_step"], ck["since_best"]
        stopped_early, history = ck.get("stopped_early", False), ck.get("history", [])
        if dist.is_main:
            log(f"resumed from {last} at step {step}/{steps}")

    runlog = RunLog(run_dir, enabled=dist.is_main)
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log(f"EfficientNet-{mc.backbone} {count_params(model) / 1e6:.2f}M params "
            f"({trainable / 1e6:.2f}M trained) at {mc.input_size}px on {dev} x{dist.world}; "
            f"{len(train_set)} train / {len(val_set)} val images; {steps} steps")

    stop = {"flag": False}

    def on_term(signum: int, frame: object) -> None:  # preemption: checkpoint, then exit
        stop["flag"] = True

    old = signal.signal(signal.SIGTERM, on_term)
    use_bf16 = tc.bf16 and dev.type == "cuda"

    def save_ckpt() -> None:
        if dist.is_main:
            checkpoint.save_atomic({
                "model": model.state_dict(), "ema": ema.model.state_dict() if ema else None,
                "opt": opt.state_dict(), "step": step, "skipped": skipped, "seen": seen,
                "best": best.as_dict() if best else None, "best_step": best_step,
                "since_best": since_best, "stopped_early": stopped_early, "history": history,
                "config": to_dict(cfg)}, last)

    def validate() -> None:
        nonlocal best, best_step, since_best, stopped_early
        if dist.enabled:  # BatchNorm statistics differ per rank: score rank 0's everywhere
            for b in model.buffers():
                tdist.broadcast(b, 0)
        cands = [("weights", model)] + ([("ema", ema.model)] if ema is not None else [])
        scores = {which: score(m, val_set, mc.input_size, dev, dist.rank, dist.world,  # type: ignore[arg-type]
                               channels_last=tc.channels_last)
                  for which, m in cands}
        which = max(scores, key=lambda k: (scores[k].acc, -scores[k].nll))
        rec = {"step": step, **{f"{k}_{m}": v for k, s in scores.items()
                                for m, v in s.as_dict().items()}}
        history.append(rec)
        if scores[which].better_than(best):
            best, best_step, since_best = scores[which], step, 0
            if dist.is_main:
                src = model if which == "weights" else ema.model  # type: ignore[union-attr]
                save_model(best_path, src.state_dict(), cfg, step, which, best)
        else:
            since_best += 1
        if dist.is_main:
            runlog.log(step, **{k: v for k, v in rec.items() if k != "step"})
            parts = "  ".join(f"{k}: acc {s.acc:.3f} breeds {s.breed_acc:.3f} "
                              f"cat/other {s.cat_vs_other:.3f} nll {s.nll:.3f}"
                              for k, s in scores.items())
            log(f"val @ {step}: {parts}  (best {best.acc if best else 0:.3f} @ {best_step})")
        if since_best >= tc.patience:
            stopped_early = True

    t_start = time.time()
    t_win, n_win, loss_win = time.time(), 0, []
    end_step = steps if stop_after_steps is None else min(steps, stop_after_steps)
    try:
        while step < end_step and not stopped_early:
            # Stop (SIGTERM, wall-time limit) only when every rank agrees, after the same step.
            over_time = (tc.max_minutes is not None
                         and (time.time() - t_start) / 60 > tc.max_minutes)
            if distributed.any_rank(stop["flag"] or over_time, dist.world, dev):
                if dist.is_main:
                    why = "stop requested (SIGTERM)" if stop["flag"] else (
                        f"max_minutes {tc.max_minutes} reached")
                    log(f"{why} at step {step}; checkpointing")
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(step, peak=group["base_lr"], warmup=tc.warmup_steps,
                                    total=steps, min_ratio=tc.min_lr_ratio)
            idx, g = draw_indices(weights, tc.batch_size, tc.seed, step)
            sl = slice(dist.rank * local_batch, (dist.rank + 1) * local_batch)
            x = augment(train_set.images[idx].to(dev), mc.input_size, g, aug)[sl]
            y = train_set.labels[idx][sl].to(dev)
            if tc.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            torch.manual_seed(tc.seed * 7919 + step)  # dropout: a function of (seed, step)

            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits, _ = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=tc.label_smoothing)
            loss.backward()
            distributed.all_reduce_grads(model, dist.world)
            loss_val = distributed.all_reduce_scalar(float(loss.detach()), dist.world, dev)
            if not math.isfinite(loss_val):
                skipped += 1
                opt.zero_grad(set_to_none=True)
                log(f"step {step}: non-finite loss, step skipped ({skipped} so far)")
                step += 1
                continue
            gnorm = float(torch.nn.utils.clip_grad_norm_(
                [p for p in model.parameters() if p.requires_grad], tc.grad_clip))
            opt.step()
            if ema is not None:
                ema.update(model, step)
            step += 1
            seen += tc.batch_size
            n_win += tc.batch_size
            loss_win.append(loss_val)

            if dist.is_main and (step % tc.log_every == 0 or step == end_step):
                dt = time.time() - t_win
                ips = n_win / max(dt, 1e-9)
                mean_loss = sum(loss_win) / len(loss_win)
                lr_now = opt.param_groups[0]["lr"]
                runlog.log(step, loss=round(mean_loss, 5), lr=lr_now, grad_norm=round(gnorm, 4),
                           img_per_s=round(ips, 1), skipped=skipped)
                elapsed = (time.time() - t_start) / 60
                log(f"step {step}/{steps} loss {mean_loss:.4f} lr {lr_now:.2e} "
                    f"gnorm {gnorm:.2f} {ips:.1f} img/s elapsed {elapsed:.1f} min")
                t_win, n_win, loss_win = time.time(), 0, []
            if step % tc.eval_every == 0 or step == steps:
                validate()
                if stopped_early and dist.is_main:
                    log(f"early stop at step {step}: no improvement in {tc.patience} "
                        f"validation passes (best at step {best_step})")
            if step % tc.ckpt_every == 0:
                save_ckpt()
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    save_ckpt()
    done = step >= steps or stopped_early
    if done and best is None:  # no validation pass ran (tiny runs): ship the last weights
        validate()
    calibration = None
    if dist.is_main and done and best_path.exists():
        calibration = calibrate_checkpoint(best_path, val_set, dev)
        log(f"temperature scaling on validation: T = {calibration['temperature']:.3f}, NLL "
            f"{calibration['val_nll_before']:.3f} -> {calibration['val_nll_after']:.3f}")
    summary = {"step": step, "steps": steps, "seen": seen, "skipped": skipped,
               "epochs": round(seen / max(len(train_set), 1), 2), "done": done,
               "stopped_early": stopped_early, "best_step": best_step,
               "best_val": best.as_dict() if best else None, "calibration": calibration,
               "minutes_this_session": round((time.time() - t_start) / 60, 2),
               "train_counts": train_set.counts(), "val_counts": val_set.counts(),
               "params": count_params(model)}
    if dist.is_main:
        (run_dir / "summary.yaml").write_text(yaml.safe_dump(summary, sort_keys=False))
    distributed.shutdown()
    return summary


def load_classifier(path: Path, device: str | torch.device = "cpu"
                    ) -> tuple[EfficientNetLite, ClassifierConfig]:
    """Weights from ``model.pt`` (or a ``last.pt`` training checkpoint), in eval mode."""
    ck = checkpoint.load(path, map_location=device)
    cfg = from_dict(ClassifierConfig, ck["config"])
    model = build_classifier(cfg.model.backbone, pretrained=False, dropout=cfg.model.dropout)
    state = ck["model"]
    if ck.get("ema"):
        state = ck["ema"]
    model.load_state_dict(state)
    model.temperature = float(ck.get("temperature", 1.0))
    return model.to(device).eval(), cfg

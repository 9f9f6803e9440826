"""Classifier training: fine-tune EfficientNet-Lite; build, resume, step, validate, summary.

One step: draw the global batch from (seed, step) with class-balancing weights -> augment it
(same generator) -> take this rank's slice -> forward/backward (the frozen stem and first blocks
run without autograd) -> average grads across ranks -> skip the step if the loss is NaN/inf ->
clip -> AdamW (warmup + cosine) -> EMA. Every ``eval_every`` steps both the weights and their EMA
are scored on the validation split; the better one is kept in ``model.pt`` when it beats the best
so far, and training stops early after ``patience`` passes without improvement.

Checkpoints (``last.pt``) are atomic and hold everything the loop state depends on (weights, EMA,
optimizer, step, early-stopping state), and the data and dropout randomness are functions of
(seed, step), so a run stopped at any checkpoint and resumed ends with the same weights as an
uninterrupted one. The same code runs on CPU, CUDA and under torchrun. The loop itself
(devices and ranks, stopping, the non-finite skip, the logging window) is training/loop.py's
``run_steps``; this file is what the classifier adds: build, resume, its step, validation, its
summary.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
import torch.nn.functional as F

from tinycats.breeds import NUM_BREEDS, OTHER_ID
from tinycats.classifier.config import ClassifierConfig
from tinycats.classifier.data import LabeledImages, draw_indices, sample_weights
from tinycats.classifier.model import EfficientNetLite, build_classifier, count_params
from tinycats.config import from_dict, to_dict
from tinycats.data.augment import AugmentConfig, augment, center_input
from tinycats.training import checkpoint, distributed, loop, precision
from tinycats.training.ema import EMA
from tinycats.training.runlog import RunLog


def total_steps(cfg: ClassifierConfig, n_train: int) -> int:
    return max(1, math.ceil(cfg.train.epochs * n_train / cfg.train.batch_size))


def augment_config(cfg: ClassifierConfig) -> AugmentConfig:
    a = cfg.data.augment
    # YAML gives lists where the dataclass says tuples; normalise once here.
    return dataclasses.replace(
        a, crop_scale=(a.crop_scale[0], a.crop_scale[1]),
        crop_ratio=(a.crop_ratio[0], a.crop_ratio[1]),
        lowres_sizes=(a.lowres_sizes[0], a.lowres_sizes[1]),
        jpeg_quality=(a.jpeg_quality[0], a.jpeg_quality[1]))


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


def distill_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, *,
                 alpha: float, temperature: float, label_smoothing: float) -> torch.Tensor:
    """(1 - alpha) * cross-entropy with the labels + alpha * T^2 * KL(teacher || student) at
    temperature T (the T^2 keeps the soft term's gradients on the scale of the hard one's)."""
    hard = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    t = temperature
    soft = F.kl_div(F.log_softmax(logits / t, dim=1), F.log_softmax(teacher_logits / t, dim=1),
                    reduction="batchmean", log_target=True) * t * t
    return (1 - alpha) * hard + alpha * soft


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


@dataclass
class ClsRun:
    """A classifier run in progress: the model, its EMA and optimizer, and the loop state
    that ``last.pt`` keeps with the recipe."""
    cfg: ClassifierConfig
    run: loop.Setup
    model: EfficientNetLite
    ema: EMA | None
    opt: torch.optim.AdamW
    progress: loop.Progress = field(default_factory=loop.Progress)
    best: ValScore | None = None
    best_step: int = 0
    since_best: int = 0  # validation passes since the best one
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)  # every validation pass

    def save(self, path: Path) -> None:
        if self.run.is_main:
            checkpoint.save_atomic({
                "model": self.model.state_dict(),
                "ema": self.ema.model.state_dict() if self.ema else None,
                "opt": self.opt.state_dict(), **self.progress.as_dict(),
                "best": self.best.as_dict() if self.best else None, "best_step": self.best_step,
                "since_best": self.since_best, "stopped_early": self.stopped_early,
                "history": self.history, "config": to_dict(self.cfg)}, path)


def build(cfg: ClassifierConfig, run: loop.Setup) -> ClsRun:
    """The backbone (ImageNet weights unless the recipe says not), frozen up to
    ``freeze_blocks``, its EMA and optimizer."""
    tc, mc = cfg.train, cfg.model
    model = build_classifier(mc.backbone, pretrained=mc.pretrained, dropout=mc.dropout)
    model.freeze(mc.freeze_blocks)
    model.to(run.dev)
    fmt = torch.channels_last if tc.channels_last else torch.contiguous_format
    model.to(memory_format=fmt)  # type: ignore[call-overload]
    model.train()
    ema = EMA(model, tc.ema_decay) if tc.ema_decay > 0 else None
    opt = torch.optim.AdamW(param_groups(model, cfg), lr=tc.lr,
                            betas=tuple(tc.betas))  # type: ignore[arg-type]
    return ClsRun(cfg, run, model, ema, opt)


def resume(cr: ClsRun, last: Path, steps: int, log: loop.Log) -> None:
    ck = checkpoint.load(last, map_location=cr.run.dev)
    checkpoint.check_same_model(ck, to_dict(cr.cfg)["model"], last)
    cr.model.load_state_dict(ck["model"])
    if cr.ema is not None and ck.get("ema") is not None:
        cr.ema.model.load_state_dict(ck["ema"])
    cr.opt.load_state_dict(ck["opt"])
    cr.progress = loop.Progress.from_checkpoint(ck)
    cr.best = ValScore(**ck["best"]) if ck.get("best") else None
    cr.best_step, cr.since_best = ck["best_step"], ck["since_best"]
    cr.stopped_early, cr.history = ck.get("stopped_early", False), ck.get("history", [])
    log(f"resumed from {last} at step {cr.progress.step}/{steps}")


def validate(cr: ClsRun, val_set: LabeledImages, runlog: RunLog, best_path: Path,
             log: loop.Log) -> None:
    """Score the weights and their EMA; keep the better one in ``best_path`` when it beats the
    best so far; stop early after ``patience`` passes without improvement."""
    run, tc, step = cr.run, cr.cfg.train, cr.progress.step
    if run.dist.enabled:  # BatchNorm statistics differ per rank: score rank 0's everywhere
        for b in cr.model.buffers():
            tdist.broadcast(b, 0)
    cands = [("weights", cr.model)] + ([("ema", cr.ema.model)] if cr.ema is not None else [])
    scores = {which: score(m, val_set, cr.cfg.model.input_size, run.dev, run.dist.rank,  # type: ignore[arg-type]
                           run.dist.world, channels_last=tc.channels_last)
              for which, m in cands}
    which = max(scores, key=lambda k: (scores[k].acc, -scores[k].nll))
    rec = {"step": step, **{f"{k}_{m}": v for k, s in scores.items()
                            for m, v in s.as_dict().items()}}
    cr.history.append(rec)
    if scores[which].better_than(cr.best):
        cr.best, cr.best_step, cr.since_best = scores[which], step, 0
        if run.is_main:
            save_model(best_path, dict(cands)[which].state_dict(), cr.cfg, step, which, cr.best)
    else:
        cr.since_best += 1
    if run.is_main:
        runlog.log(step, **{k: v for k, v in rec.items() if k != "step"})
        parts = "  ".join(f"{k}: acc {s.acc:.3f} breeds {s.breed_acc:.3f} "
                          f"cat/other {s.cat_vs_other:.3f} nll {s.nll:.3f}"
                          for k, s in scores.items())
        best_acc = cr.best.acc if cr.best else 0
        log(f"val @ {step}: {parts}  (best {best_acc:.3f} @ {cr.best_step})")
    if cr.since_best >= tc.patience:
        cr.stopped_early = True
        if run.is_main:
            log(f"early stop at step {step}: no improvement in {tc.patience} "
                f"validation passes (best at step {cr.best_step})")


def resize_view(view: torch.Tensor, size: int) -> torch.Tensor:
    """A normalised (B, 3, S, S) batch at ``size`` (antialiased bilinear; as it is when S is)."""
    if view.shape[-1] == size:
        return view
    return F.interpolate(view, size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False)


@dataclass
class Teacher:
    """A trained classifier whose probabilities a student learns; frozen, in eval mode."""
    model: EfficientNetLite
    input_size: int
    channels_last: bool

    @torch.no_grad()
    def logits(self, view: torch.Tensor) -> torch.Tensor:
        x = resize_view(view, self.input_size)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)[0].float()


def load_teacher(path: Path, student: ClassifierConfig, device: torch.device) -> Teacher:
    """The classifier in ``path`` (every classifier has the same labels, breeds.py) as a
    teacher."""
    model, cfg = load_classifier(path, device)  # in eval mode; Teacher.logits runs no_grad
    fmt = torch.channels_last if student.train.channels_last else torch.contiguous_format
    model.to(memory_format=fmt)  # type: ignore[call-overload]
    return Teacher(model, cfg.model.input_size, student.train.channels_last)


@dataclass
class ClsTrainer(loop.Trainer):
    """The classifier's part of the shared loop (training/loop.py): its step and its validation
    passes (best weights kept, early stop)."""
    state: ClsRun
    train_set: LabeledImages
    val_set: LabeledImages
    run_dir: Path
    runlog: RunLog
    log: loop.Log
    weights: torch.Tensor  # every training image's draw weight (class balancing)
    aug: AugmentConfig
    use_bf16: bool
    teacher: Teacher | None = None

    def train_step(self) -> float:
        """The augmented slice of the step's global batch (with a teacher: cut at the larger
        input size, resized for the smaller network)."""
        cr = self.state
        tc, dev, step = cr.cfg.train, cr.run.dev, cr.progress.step
        idx, g = draw_indices(self.weights, tc.batch_size, tc.seed, step)
        sl = cr.run.rank_slice()
        size = cr.cfg.model.input_size
        crop = max(size, self.teacher.input_size) if self.teacher else size
        view = augment(self.train_set.images[idx].to(dev), crop, g, self.aug)[sl]
        x = resize_view(view, size)
        y = self.train_set.labels[idx][sl].to(dev)
        if tc.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        torch.manual_seed(tc.seed * 7919 + step)  # dropout: a function of (seed, step)
        cr.opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.use_bf16):
            logits, _ = cr.model(x)
        if self.teacher is None:
            loss = F.cross_entropy(logits.float(), y, label_smoothing=tc.label_smoothing)
        else:
            dc = cr.cfg.distill
            loss = distill_loss(logits.float(), self.teacher.logits(view), y, alpha=dc.alpha,
                                temperature=dc.temperature,
                                label_smoothing=tc.label_smoothing)
        loss.backward()
        return float(loss.detach())

    def evaluate(self, total: int) -> None:
        step = self.state.progress.step
        if step % self.state.cfg.train.eval_every == 0 or step == total:
            validate(self.state, self.val_set, self.runlog, self.run_dir / "model.pt", self.log)

    def stopped_early(self) -> bool:
        return self.state.stopped_early


def start(cfg: ClassifierConfig, train_set: LabeledImages, val_set: LabeledImages,
          run_dir: Path, *, device: str, resume_run: bool, steps: int, log: loop.Log
          ) -> ClsTrainer:
    """Devices and ranks, build, resume from ``last.pt`` when there is one, open the run
    folder, say what runs."""
    tc = cfg.train
    run = loop.setup(device, batch_size=tc.batch_size, threads=tc.threads, seed=tc.seed)
    say = run.main_log(log)
    cr = build(cfg, run)
    last = run_dir / "last.pt"
    if resume_run and last.exists():
        resume(cr, last, steps, say)
    runlog = loop.open_run(run_dir, cfg, run)
    mc = cfg.model
    trainable = sum(p.numel() for p in cr.model.parameters() if p.requires_grad)
    say(f"EfficientNet-{mc.backbone} {count_params(cr.model) / 1e6:.2f}M params "
        f"({trainable / 1e6:.2f}M trained) at {mc.input_size}px on {run.dev} "
        f"x{run.dist.world}; {len(train_set)} train / {len(val_set)} val images; {steps} steps")
    weights = sample_weights(train_set.labels, cfg.data.balance)
    use_bf16 = precision.use_bf16(run.dev, cuda=cfg.train.bf16, cpu=False, log=log)
    teacher = None
    if cfg.distill.teacher is not None:
        teacher = load_teacher(Path(cfg.distill.teacher), cfg, run.dev)
        say(f"distilling from {cfg.distill.teacher} (its input {teacher.input_size}px; alpha "
            f"{cfg.distill.alpha}, temperature {cfg.distill.temperature})")
    return ClsTrainer(cr, train_set, val_set, run_dir, runlog, log, weights,
                      augment_config(cfg), use_bf16, teacher)


def loop_plan(cfg: ClassifierConfig, steps: int) -> loop.Plan:
    """A schedule of ``steps`` steps (the recipe gives epochs), no time budget; the log lines
    say no time to go (validation passes make it uneven)."""
    tc = cfg.train
    return loop.Plan(steps, tc.lr, tc.warmup_steps, tc.min_lr_ratio, tc.grad_clip,
                     tc.batch_size, tc.log_every, tc.ckpt_every, tc.max_minutes, eta=False)


def finish(tr: ClsTrainer, ran: loop.Ran) -> dict[str, Any]:
    """The last checkpoint; a finished run's best weights calibrated; the run's summary."""
    cr, val_set, steps = tr.state, tr.val_set, ran.total
    cr.save(tr.run_dir / "last.pt")
    p, best_path = cr.progress, tr.run_dir / "model.pt"
    done = p.step >= steps or cr.stopped_early
    if done and cr.best is None:  # no validation pass ran (tiny runs): ship the last weights
        validate(cr, val_set, tr.runlog, best_path, tr.log)
    calibration = None
    if cr.run.is_main and done and best_path.exists():
        calibration = calibrate_checkpoint(best_path, val_set, cr.run.dev)
        tr.log(f"temperature scaling on validation: T = {calibration['temperature']:.3f}, NLL "
               f"{calibration['val_nll_before']:.3f} -> {calibration['val_nll_after']:.3f}")
    summary = {"step": p.step, "steps": steps, "seen": p.seen, "skipped": p.skipped,
               "epochs": round(p.seen / max(len(tr.train_set), 1), 2), "done": done,
               "stopped_early": cr.stopped_early, "best_step": cr.best_step,
               "best_val": cr.best.as_dict() if cr.best else None, "calibration": calibration,
               "minutes_this_run": round(ran.control.minutes(), 2),
               "train_counts": tr.train_set.counts(), "val_counts": val_set.counts(),
               "params": count_params(cr.model)}
    if cr.run.is_main:
        loop.write_summary(tr.run_dir, summary)
    distributed.shutdown()
    return summary


def train(cfg: ClassifierConfig, train_set: LabeledImages, val_set: LabeledImages,
          run_dir: Path, *, device: str = "auto", resume: bool = True,
          log: Callable[[str], None] = print,
          stop_after_steps: int | None = None) -> dict[str, Any]:
    """Train (or resume) a classifier in ``run_dir``; the best weights end in ``model.pt``.

    ``stop_after_steps`` stops early without changing the schedule (used by resume tests)."""
    steps = total_steps(cfg, len(train_set))
    tr = start(cfg, train_set, val_set, run_dir, device=device, resume_run=resume, steps=steps,
               log=log)
    ran = loop.run_steps(tr, loop_plan(cfg, steps), stop_after_steps=stop_after_steps)
    return finish(tr, ran)


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

"""Classifier commands: train, eval, export, classify, bench.

``classify`` needs only onnxruntime, NumPy and Pillow; the others import torch lazily, inside the
command, so ``tinycats classify`` works from a runtime-only install.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from tinycats.cli.common import (
    DataDirOpt,
    DeviceOpt,
    FreshOpt,
    MaxMinutesOpt,
    RecipeOpt,
    RunDirOpt,
    console,
    err_console,
    resolve_data_dir,
)
from tinycats.errors import TinycatsError
from tinycats.paths import repo_root, runs_dir

if TYPE_CHECKING:
    import numpy as np

    from tinycats.classifier.config import ClassifierConfig

DEFAULT_CONFIG = "configs/classifier.yaml"
DEFAULT_MODEL_DIR = "web/public/models"
DEFAULT_REPORT = "reports/classifier.json"
LOWRES_SIZE = 64  # the generator's image size


def _repo_path(p: Path) -> Path:
    """A relative path that does not exist from here is tried from the checkout's root."""
    if not p.is_absolute() and not p.exists() and (repo_root() / p).exists():
        return repo_root() / p
    return p


def _load_config(config: Path) -> ClassifierConfig:
    from tinycats.classifier.config import ClassifierConfig
    from tinycats.config import load_yaml

    return load_yaml(ClassifierConfig, _repo_path(config))


def _ensure_caches(root: Path, sources: list[str], sizes: list[int]) -> None:
    """Prepare (or reuse: a matching fingerprint is not rebuilt) every cache a command needs."""
    from tinycats.data.cache import prepare_source
    from tinycats.data.sources import load_registry

    registry = load_registry(root)
    for name in sources:
        if name not in registry:
            raise TinycatsError(f"data source {name!r} is not registered in {root}; "
                                "run tinycats data fetch (Oxford) or tinycats data add")
        for size in sorted(set(sizes)):
            info = prepare_source(root, registry[name], size)
            if not info.reused:
                err_console.print(f"prepared cache {name} at {size}px ({info.manifest['count']} "
                                  "images)")


def _default_checkpoint(root: Path, config: Path) -> Path:
    return runs_dir(root) / _load_config(config).name / "model.pt"


def _test_images(root: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    from tinycats.data import cache

    _ensure_caches(root, ["oxford"], [size])
    cs = cache.load(root, "oxford", size, mmap=False)
    keep = cs.splits == cache.SPLITS.index("test")
    return np.asarray(cs.images[keep]), cs.labels[keep].astype(np.int64)


# ---- train ---------------------------------------------------------------------------------

def train_classifier(
    config: RecipeOpt = Path(DEFAULT_CONFIG),
    data_dir: DataDirOpt = None,
    run_dir: RunDirOpt = None,
    fresh: FreshOpt = False,
    device: DeviceOpt = "auto",
    epochs: Annotated[float | None, typer.Option(help="Override the recipe's epochs.")] = None,
    max_minutes: MaxMinutesOpt = None,
    threads: Annotated[int | None, typer.Option(
        help="Override the recipe's CPU threads (1 is much faster when other jobs share "
             "the cores: busy-waiting OpenMP threads stall each other).")] = None,
) -> None:
    """Fine-tune the breed classifier (resumes from <run-dir>/last.pt unless --fresh)."""
    import dataclasses

    from tinycats.classifier.data import load_split
    from tinycats.classifier.train import train

    cfg = _load_config(config)
    overrides: dict[str, Any] = {}
    if epochs is not None:
        overrides["epochs"] = epochs
    if max_minutes is not None:
        overrides["max_minutes"] = max_minutes
    if threads is not None:
        overrides["threads"] = threads
    if overrides:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **overrides))
    root = resolve_data_dir(data_dir)
    _ensure_caches(root, cfg.data.sources, [cfg.data.cache_size])
    _ensure_caches(root, ["oxford"], [cfg.model.input_size])
    train_set = load_split(root, cfg.data.sources, cfg.data.cache_size, "train")
    val_set = load_split(root, ["oxford"], cfg.model.input_size, "val")
    out = run_dir or runs_dir(root) / cfg.name
    if fresh:
        (out / "last.pt").unlink(missing_ok=True)
        (out / "metrics.jsonl").unlink(missing_ok=True)
    t0 = time.time()
    summary = train(cfg, train_set, val_set, out, device=device, resume=not fresh,
                    log=console.print)
    console.print(f"done: step {summary['step']}/{summary['steps']} in "
                  f"{(time.time() - t0) / 60:.1f} min this session; best validation "
                  f"{summary['best_val']} at step {summary['best_step']}; weights in "
                  f"{out / 'model.pt'}")


def calibrate_classifier(
    checkpoint: Annotated[Path | None, typer.Option(
        help="Trained weights (default: <data>/runs/<recipe name>/model.pt).")] = None,
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe (for the default "
                                         "checkpoint path).")] = Path(DEFAULT_CONFIG),
    data_dir: DataDirOpt = None,
    refit: Annotated[bool, typer.Option("--refit", help="Fit again even if the checkpoint "
                                        "already has a temperature.")] = False,
) -> None:
    """Fit the softmax temperature on the validation split and store it in the checkpoint.

    Training does this when it finishes; use this for weights whose run was stopped, then
    export again (the temperature is folded into the ONNX softmax)."""
    from tinycats.classifier.config import ClassifierConfig
    from tinycats.classifier.data import load_split
    from tinycats.classifier.train import calibrate_checkpoint
    from tinycats.cli.common import fail
    from tinycats.config import from_dict
    from tinycats.training import checkpoint as ckpt_io

    root = resolve_data_dir(data_dir)
    path = checkpoint or runs_dir(root) / _load_config(config).name / "model.pt"
    if not path.exists():
        raise fail(f"checkpoint {path} does not exist; train first or pass --checkpoint")
    size = from_dict(ClassifierConfig, ckpt_io.load(path)["config"]).model.input_size
    _ensure_caches(root, ["oxford"], [size])
    val_set = load_split(root, ["oxford"], size, "val")
    import torch

    cal = calibrate_checkpoint(path, val_set, torch.device("cpu"), refit=refit)
    console.print(f"temperature T = {cal['temperature']:.3f} on {len(val_set)} validation "
                  f"images: NLL {cal['val_nll_before']:.3f} -> {cal['val_nll_after']:.3f}; "
                  f"stored in {path}")


# ---- export --------------------------------------------------------------------------------

def export_classifier_cmd(
    checkpoint: Annotated[Path | None, typer.Option(
        help="Trained weights (default: <data>/runs/<recipe name>/model.pt).")] = None,
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe (for the default "
                                         "checkpoint path).")] = Path(DEFAULT_CONFIG),
    out: Annotated[Path, typer.Option(help="Folder for the ONNX files and manifest.json.")
                   ] = Path(DEFAULT_MODEL_DIR),
    int8: Annotated[str, typer.Option(help="int8 quantisation: static or dynamic.")
                    ] = "static",
    calibration_images: Annotated[int, typer.Option(help="Training images for calibration.")
                                  ] = 256,
    parity_images: Annotated[int, typer.Option(help="Validation images for the parity check.")
                             ] = 128,
    requantize: Annotated[bool, typer.Option(
        help="Only rebuild the int8 file from the fp32 ONNX in --out (no checkpoint needed).")
                          ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Export to ONNX (fp32 + int8), check parity with PyTorch, update the manifest."""
    import numpy as np
    import torch

    from tinycats.classifier.model import count_params
    from tinycats.classifier.train import load_classifier
    from tinycats.data import cache
    from tinycats.export.classifier_onnx import export_classifier

    root = resolve_data_dir(data_dir)
    out = _repo_path(out) if out == Path(DEFAULT_MODEL_DIR) else out
    if requantize:  # the recipe gives the calibration sources; the manifest the input size
        from tinycats.export import manifest as mf

        cfg = _load_config(config)
        size = int(mf.model_entry(mf.load(out / mf.MANIFEST_NAME), "classifier")["input"]["size"])
    else:
        ckpt = checkpoint or _default_checkpoint(root, config)
        if not ckpt.exists():
            raise TinycatsError(f"no trained classifier at {ckpt}; train one first "
                                "(tinycats train classifier) or pass --checkpoint")
        model, cfg = load_classifier(ckpt)
        size = cfg.model.input_size
    _ensure_caches(root, cfg.data.sources, [size])
    # Calibration: a fixed, class-balanced-ish draw of training images; parity: validation.
    parts = []
    for name in cfg.data.sources:
        cs = cache.load(root, name, size)
        parts.append(np.asarray(cs.images[cs.splits == cache.SPLITS.index("train")]))
    train_imgs = np.concatenate(parts)
    rng = np.random.default_rng(0)
    calib = train_imgs[np.sort(rng.choice(len(train_imgs), min(calibration_images,
                                                               len(train_imgs)), replace=False))]
    ox = cache.load(root, "oxford", size)
    val = np.asarray(ox.images[ox.splits == cache.SPLITS.index("val")])[:parity_images]
    if requantize:
        from tinycats.export.classifier_onnx import requantize_classifier

        requantize_classifier(out, calib, val, log=console.print)
        return
    ck = torch.load(ckpt, map_location="cpu", weights_only=False)
    extra = {"backbone": f"efficientnet-{cfg.model.backbone}", "params": count_params(model),
             "recipe": cfg.name, "trained_steps": ck.get("step"), "weights": ck.get("weights"),
             "val": ck.get("val"), "calibration_images": len(calib)}
    export_classifier(model, size, out, parity_images=val, calibration=calib, int8_mode=int8,
                      extra=extra, log=console.print)


# ---- eval ----------------------------------------------------------------------------------

def eval_classifier(
    model_dir: Annotated[Path, typer.Option(help="Folder with manifest.json + ONNX files.")
                         ] = Path(DEFAULT_MODEL_DIR),
    checkpoint: Annotated[Path | None, typer.Option(
        help="PyTorch weights to evaluate too (default: <data>/runs/<recipe>/model.pt; "
             "skipped when absent).")] = None,
    config: Annotated[Path, typer.Option("--config", "-c")] = Path(DEFAULT_CONFIG),
    report: Annotated[Path, typer.Option(help="JSON report (a PNG confusion matrix beside it)."
                                         )] = Path(DEFAULT_REPORT),
    update_manifest: Annotated[bool, typer.Option(
        help="Write the measured ONNX metrics into the manifest entry.")] = True,
    lowres: Annotated[bool, typer.Option(
        help=f"Also measure the ONNX models on the test photos shrunk to {LOWRES_SIZE} px.")
                      ] = True,
    data_dir: DataDirOpt = None,
) -> None:
    """Test-split metrics for PyTorch and each exported ONNX variant; JSON + PNG report."""
    from tinycats.classifier.evaluate import confusion_png, metrics, summary_line
    from tinycats.export import manifest as mf
    from tinycats.runtime.classify import Classifier

    root = resolve_data_dir(data_dir)
    model_dir = _repo_path(model_dir)
    man_path = model_dir / mf.MANIFEST_NAME
    entry = mf.model_entry(mf.load(man_path), "classifier")
    size = int(entry["input"]["size"])
    images, labels = _test_images(root, size)
    console.print(f"official test split: {len(labels)} images at {size}px")
    results: dict[str, Any] = {}
    ckpt = checkpoint or _default_checkpoint(root, config)
    if ckpt.exists():
        from tinycats.classifier.train import load_classifier
        from tinycats.export.classifier_onnx import run_torch

        model, _ = load_classifier(ckpt)
        results["torch"] = metrics(run_torch(model, images)[0], labels)
        console.print(summary_line("torch", results["torch"]))
    elif checkpoint is not None:
        raise TinycatsError(f"checkpoint {checkpoint} does not exist")
    else:
        console.print(f"[dim]no checkpoint at {ckpt}: PyTorch not evaluated[/]")
    # The generator's samples are 64x64: the same test photos at 64 px (the runtime scales them
    # back up) show how far the classifier can be trusted to judge them.
    small, small_labels = _test_images(root, LOWRES_SIZE) if lowres else (None, None)
    for variant in entry["files"]:
        clf = Classifier(man_path, variant)
        results[f"onnx_{variant}"] = metrics(clf.predict(images), labels, clf.other_threshold)
        console.print(summary_line(f"onnx {variant}", results[f"onnx_{variant}"]))
        if small is not None and small_labels is not None:
            key = f"onnx_{variant}_from_{LOWRES_SIZE}px"
            results[key] = metrics(clf.predict(small), small_labels, clf.other_threshold)
            console.print(summary_line(f"  {LOWRES_SIZE}px in", results[key]))
    default = f"onnx_{entry.get('default_variant', 'int8')}"
    if "onnx_fp32" in results and "onnx_int8" in results:
        d = results["onnx_int8"]["top1_breeds"] - results["onnx_fp32"]["top1_breeds"]
        console.print(f"int8 quantisation cost: {d * 100:+.2f} points of top-1 breeds")
    rep = {
        "command": "tinycats " + " ".join(sys.argv[1:]) if sys.argv[0].endswith(
            ("tinycats", "__main__.py")) else "tinycats eval classifier",
        "split": "official Oxford-IIIT Pet test split (cats: 12 breeds; other: the dogs)",
        "input_size": size,
        "model": {k: entry.get(k) for k in ("backbone", "params", "recipe", "trained_steps",
                                            "int8_mode", "val")},
        "files": {k: {"bytes": v["bytes"], "sha256": v["sha256"]}
                  for k, v in entry["files"].items()},
        "definitions": "see src/tinycats/classifier/evaluate.py",
        "results": results,
    }
    report = _repo_path(report.parent) / report.name if not report.is_absolute() else report
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(rep, indent=2) + "\n")
    png = report.with_name(report.stem + "-confusion.png")
    if default in results:
        confusion_png(results[default]["confusion"], png,
                      f"tinycats classifier ({default.replace('_', ' ')}), official test split")
    console.print(f"report: {report}  confusion matrix: {png}")
    if update_manifest:
        keep = ("top1_breeds", "top3_breeds", "cat_vs_other", "ece", "images")
        entry["metrics"] = {"split": "oxford-test", **{
            k: {m: v[m] for m in keep} for k, v in results.items()}}
        for k in ("exported", "producer"):
            entry.pop(k, None)
        mf.update_model(man_path, "classifier", entry)


# ---- classify ------------------------------------------------------------------------------

def classify(
    images: Annotated[list[Path], typer.Argument(help="Image files.", show_default=False)],
    model_dir: Annotated[Path, typer.Option(help="Folder with manifest.json + ONNX files.")
                         ] = Path(DEFAULT_MODEL_DIR),
    variant: Annotated[str | None, typer.Option(help="Model variant: fp32 or int8 (default: "
                                                "the manifest's).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=13)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line per image."
                                          )] = False,
    cam: Annotated[Path | None, typer.Option(
        help="Write the class-activation overlay of the top label here (PNG); with several "
             "images, -<image name> is added before the suffix.")] = None,
) -> None:
    """Classify images with the exported ONNX model (no torch needed)."""
    from PIL import Image

    from tinycats.runtime.classify import Classifier, ImageInputError, cam_overlay, read_image

    clf = Classifier(_repo_path(model_dir) / "manifest.json", variant)
    failures = 0
    table = Table(title=f"tinycats classifier ({clf.variant})", show_lines=False)
    for col in ("image", "#", "label", "probability"):
        table.add_column(col, justify="right" if col in ("#", "probability") else "left")
    for path in images:
        try:
            im = read_image(path)
        except ImageInputError as e:
            failures += 1
            err_console.print(f"[bold red]error:[/] {e}", highlight=False)
            if as_json:
                print(json.dumps({"path": str(path), "error": str(e)}), flush=True)
            continue
        square = clf.squares([im])
        probs, cams = clf.run(square, with_cam=cam is not None)
        p = probs[0]
        top = int(clf.top(probs)[0])
        # the label the image gets first (the manifest's rule), then the most probable others
        order = [top, *[int(i) for i in p.argsort()[::-1] if i != top][:top_k - 1]]
        if cam is not None and cams is not None:
            dest = cam if len(images) == 1 else cam.with_name(
                f"{cam.stem}-{path.stem}{cam.suffix or '.png'}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(cam_overlay(square[0], cams[0, order[0]])).save(dest)
        if as_json:
            print(json.dumps({
                "path": str(path), "top": order[0], "label": clf.keys[order[0]],
                "display": clf.labels[order[0]]["display"],
                "probs": {k: round(float(v), 6) for k, v in zip(clf.keys, p, strict=True)},
                "top_k": [{"id": i, "key": clf.keys[i], "prob": round(float(p[i]), 6)}
                          for i in order],
                "variant": clf.variant}), flush=True)
        else:
            for rank, i in enumerate(order, 1):
                # the file name keeps the table readable; --json carries the full path
                table.add_row(path.name if rank == 1 else "", str(rank),
                              clf.labels[i]["display"], f"{p[i] * 100:.1f}%")
    if not as_json and table.row_count:
        console.print(table)
    if failures:
        raise typer.Exit(1)


# ---- bench ---------------------------------------------------------------------------------

def bench_classifier(
    model_dir: Annotated[Path, typer.Option(help="Folder with manifest.json + ONNX files.")
                         ] = Path(DEFAULT_MODEL_DIR),
    checkpoint: Annotated[Path | None, typer.Option(help="PyTorch weights (default: the "
                                                    "recipe's run; else the architecture "
                                                    "with random weights: same speed).")
                          ] = None,
    config: Annotated[Path, typer.Option("--config", "-c")] = Path(DEFAULT_CONFIG),
    threads: Annotated[int, typer.Option(help="CPU threads for torch and onnxruntime.")] = 2,
    batch: Annotated[int, typer.Option(help="Batch size for the throughput figure.")] = 32,
    seconds: Annotated[float, typer.Option(help="Time per measurement.")] = 3.0,
    data_dir: DataDirOpt = None,
) -> None:
    """Measured images/s and per-image latency: PyTorch, ONNX fp32 and int8 (warm-up first)."""
    import numpy as np
    import torch

    from tinycats.classifier.bench import time_fn
    from tinycats.classifier.model import build_classifier
    from tinycats.export import manifest as mf
    from tinycats.export.classifier_onnx import normalize_np
    from tinycats.runtime.classify import Classifier

    torch.set_num_threads(threads)
    man_path = _repo_path(model_dir) / mf.MANIFEST_NAME
    entry = mf.model_entry(mf.load(man_path), "classifier")
    size = int(entry["input"]["size"])
    root = resolve_data_dir(data_dir)
    ckpt = checkpoint or _default_checkpoint(root, config)
    if ckpt.exists():
        from tinycats.classifier.train import load_classifier

        model, _ = load_classifier(ckpt)
        src = str(ckpt)
    else:
        backbone = str(entry.get("backbone", "efficientnet-lite0")).removeprefix(
            "efficientnet-")
        model = build_classifier(backbone, pretrained=False).eval()
        src = f"{backbone}, random weights (no checkpoint at {ckpt})"
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    rng = np.random.default_rng(0)
    x1 = rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    xb = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)

    def torch_fn(x: np.ndarray) -> Any:
        t = torch.from_numpy(normalize_np(x)).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return model(t)

    table = Table(title=f"classifier inference, {size}px, {threads} threads, this machine")
    for col in ("runtime", "latency (batch 1)", f"images/s (batch {batch})", "model"):
        table.add_column(col)
    runs: list[tuple[str, Any, str]] = [("PyTorch fp32", torch_fn, src)]
    for variant in entry["files"]:
        clf = Classifier(man_path, variant, threads=threads)

        def onnx_fn(x: np.ndarray, clf: Classifier = clf) -> Any:
            return clf.session.run([clf.probs_name], {clf.input_name: clf.pre.normalize(x)})

        runs.append((f"ONNX {variant}", onnx_fn,
                     f"{clf.model_path.name} ({clf.model_path.stat().st_size / 1e6:.1f} MB)"))
    for name, fn, desc in runs:
        lat = time_fn(functools.partial(fn, x1), seconds)
        thr = time_fn(functools.partial(fn, xb), seconds)
        table.add_row(name, f"{lat['median_s'] * 1000:.1f} ms (p90 {lat['p90_s'] * 1000:.1f})",
                      f"{batch / thr['median_s']:.1f}", desc)
    console.print(table)


def register(*, app: typer.Typer, data: typer.Typer, train: typer.Typer, eval: typer.Typer,
             export: typer.Typer, bench: typer.Typer) -> None:
    train.command("classifier")(train_classifier)
    train.command("calibrate-classifier")(calibrate_classifier)
    eval.command("classifier")(eval_classifier)
    export.command("classifier")(export_classifier_cmd)
    bench.command("classifier")(bench_classifier)
    app.command("classify")(classify)

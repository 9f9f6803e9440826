"""Classifier commands: train, eval, export, classify, bench.

``classify`` needs only onnxruntime, NumPy and Pillow; the others import torch lazily, inside the
command, so ``tinycats classify`` works from a runtime-only install.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from tinycats.cli import common
from tinycats.cli.common import console, err_console
from tinycats.errors import TinycatsError
from tinycats.paths import SHIPPED_MODELS

if TYPE_CHECKING:
    from tinycats.classifier.config import ClassifierConfig
    from tinycats.classifier.evaluate import TestSet

DEFAULT_CONFIG = "configs/classifier.yaml"
DEFAULT_REPORT = "reports/classifier.json"
#: the generator's image size: the test photos at this size (the runtime scales them back up)
#: show how far the classifier can be trusted to judge generated cats
LOWRES_SIZE = 64

#: the ONNX models (default: the shipped ones, found from any folder: common.in_checkout)
ModelDirOpt = Annotated[Path, typer.Option(help="Folder with manifest.json + ONNX files.")]
WeightsOpt = Annotated[Path | None, typer.Option(
    help="Trained weights (default: <data>/runs/<recipe name>/model.pt).")]
WeightsRecipeOpt = Annotated[Path, typer.Option("--config", "-c", help="Recipe (for the default "
                                                "checkpoint path).")]


def _recipe(config: Path, train_overrides: dict[str, object] | None = None
            ) -> ClassifierConfig:
    from tinycats.classifier.config import ClassifierConfig

    return common.load_recipe(ClassifierConfig, config, train_overrides)


def _weights(checkpoint: Path | None, root: Path, config: Path) -> Path:
    """``--checkpoint``, else the ``model.pt`` of the recipe's run (the recipe is read only
    then)."""
    return checkpoint or common.run_folder(root, _recipe(config).name) / "model.pt"


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


def _test_images(root: Path, size: int) -> TestSet:
    import numpy as np

    from tinycats.classifier.evaluate import TestSet
    from tinycats.data import cache

    _ensure_caches(root, ["oxford"], [size])
    cs = cache.load(root, "oxford", size, mmap=False)
    keep = cs.splits == cache.SPLITS.index("test")
    return TestSet(np.asarray(cs.images[keep]), cs.labels[keep].astype(np.int64))


# ---- train ---------------------------------------------------------------------------------

def _with_teacher(cfg: ClassifierConfig, root: Path) -> ClassifierConfig:
    """The recipe with its distillation teacher found (a relative path is read from the data
    folder, where runs live) and its settings checked, before any data is loaded."""
    dc = cfg.distill
    if dc.teacher is None:
        return cfg
    if not 0.0 <= dc.alpha <= 1.0 or dc.temperature <= 0:
        raise TinycatsError(f"distill.alpha must be in [0, 1] and distill.temperature > 0, got "
                            f"{dc.alpha} and {dc.temperature}")
    path = Path(dc.teacher).expanduser()
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise TinycatsError(f"the recipe's distill.teacher {path} does not exist: train the "
                            "teacher first (its run's model.pt)")
    return dataclasses.replace(cfg, distill=dataclasses.replace(dc, teacher=str(path)))


def train_classifier(
    config: common.RecipeOpt = Path(DEFAULT_CONFIG),
    data_dir: common.DataDirOpt = None,
    run_dir: common.RunDirOpt = None,
    fresh: common.FreshOpt = False,
    device: common.DeviceOpt = "auto",
    epochs: Annotated[float | None, typer.Option(help="Override the recipe's epochs.")] = None,
    max_minutes: common.MaxMinutesOpt = None,
    threads: Annotated[int | None, typer.Option(
        help="Override the recipe's CPU threads (1 is much faster when other jobs share "
             "the cores: busy-waiting OpenMP threads stall each other).")] = None,
) -> None:
    """Fine-tune the breed classifier (resumes from <run-dir>/last.pt unless --fresh)."""
    from tinycats.classifier.data import load_split
    from tinycats.classifier.train import train

    cfg = _recipe(config, common.given(epochs=epochs, max_minutes=max_minutes, threads=threads))
    root = common.resolve_data_dir(data_dir)
    _ensure_caches(root, cfg.data.sources, [cfg.data.cache_size])
    _ensure_caches(root, ["oxford"], [cfg.model.input_size])
    cfg = _with_teacher(cfg, root)
    train_set = load_split(root, cfg.data.sources, cfg.data.cache_size, "train")
    val_set = load_split(root, ["oxford"], cfg.model.input_size, "val")
    out = common.run_folder(root, cfg.name, run_dir)
    if fresh:
        (out / "last.pt").unlink(missing_ok=True)
        (out / "metrics.jsonl").unlink(missing_ok=True)
    t0 = time.time()
    summary = train(cfg, train_set, val_set, out, device=device, resume=not fresh,
                    log=console.print)
    console.print(f"done: step {summary['step']}/{summary['steps']} in "
                  f"{(time.time() - t0) / 60:.1f} min in this invocation; best validation "
                  f"{summary['best_val']} at step {summary['best_step']}; weights in "
                  f"{out / 'model.pt'}")


def calibrate_classifier(
    checkpoint: WeightsOpt = None,
    config: WeightsRecipeOpt = Path(DEFAULT_CONFIG),
    data_dir: common.DataDirOpt = None,
    refit: Annotated[bool, typer.Option("--refit", help="Fit again even if the checkpoint "
                                        "already has a temperature.")] = False,
) -> None:
    """Fit the softmax temperature on the validation split and store it in the checkpoint.

    Training does this when it finishes; use this for weights whose run was stopped, then
    export again (the temperature is folded into the ONNX softmax)."""
    from tinycats.classifier.config import ClassifierConfig
    from tinycats.classifier.data import load_split
    from tinycats.classifier.train import calibrate_checkpoint
    from tinycats.config import from_dict
    from tinycats.training import checkpoint as ckpt_io

    root = common.resolve_data_dir(data_dir)
    path = common.existing_checkpoint(_weights(checkpoint, root, config))
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
    checkpoint: WeightsOpt = None,
    config: WeightsRecipeOpt = Path(DEFAULT_CONFIG),
    out: Annotated[Path, typer.Option(help="Folder for the ONNX files and manifest.json.")
                   ] = Path(SHIPPED_MODELS),
    int8: Annotated[str, typer.Option(help="int8 quantisation: static or dynamic.")
                    ] = "static",
    calibration_images: Annotated[int, typer.Option(help="Training images for calibration.")
                                  ] = 256,
    parity_images: Annotated[int, typer.Option(help="Validation images for the parity check.")
                             ] = 128,
    requantize: Annotated[bool, typer.Option(
        help="Only rebuild the int8 file from the fp32 ONNX in --out (no checkpoint needed).")
                          ] = False,
    data_dir: common.DataDirOpt = None,
) -> None:
    """Export to ONNX (fp32 + int8), check parity with PyTorch, update the manifest."""
    import numpy as np
    import torch

    from tinycats.classifier.model import count_params
    from tinycats.classifier.train import load_classifier
    from tinycats.data import cache
    from tinycats.export.classifier_onnx import export_classifier

    root = common.resolve_data_dir(data_dir)
    out = common.in_checkout(out) if out == Path(SHIPPED_MODELS) else out  # the default only
    if requantize:  # the recipe gives the calibration sources; the manifest the input size
        from tinycats.export import manifest as mf

        cfg = _recipe(config)
        size = int(mf.model_entry(mf.load(out / mf.MANIFEST_NAME), "classifier")["input"]["size"])
    else:
        ckpt = _weights(checkpoint, root, config)
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
    model_dir: ModelDirOpt = Path(SHIPPED_MODELS),
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
    robustness: Annotated[bool, typer.Option(
        help="Also measure the default variant on degraded test photos (64 px and back, "
             "JPEG 20, a centre crop).")] = True,
    data_dir: common.DataDirOpt = None,
) -> None:
    """Test-split metrics for PyTorch and each exported ONNX variant; JSON + PNG report."""
    from tinycats.classifier import evaluate as ev
    from tinycats.export import manifest as mf

    root = common.resolve_data_dir(data_dir)
    man_path = common.models_folder(model_dir) / mf.MANIFEST_NAME
    entry = mf.model_entry(mf.load(man_path), "classifier")
    size = int(entry["input"]["size"])
    test = _test_images(root, size)
    console.print(f"official test split: {len(test.labels)} images at {size}px")
    results = _torch_results(checkpoint, root, config, test)
    small = _test_images(root, LOWRES_SIZE) if lowres else None
    results |= ev.onnx_metrics(man_path, entry["files"], test, small, console.print)
    if robustness:
        from tinycats.classifier.robustness import SOURCE_SIZE

        default = str(entry.get("default_variant") or next(iter(entry["files"])))
        console.print(f"onnx {default} on the test photos degraded (from {SOURCE_SIZE} px):")
        results |= ev.robustness_metrics(man_path, default, _test_images(root, SOURCE_SIZE),
                                         console.print)
    cost = ev.int8_cost(results)
    if cost is not None:
        console.print(f"int8 quantisation cost: {cost * 100:+.2f} points of top-1 breeds")
    path = common.report_path(report)
    common.write_json(path, ev.build_report(entry, results, _command_line()))
    png = ev.confusion_path(path)
    ev.save_default_confusion(entry, results, png)
    console.print(f"report: {path}  confusion matrix: {png}")
    if update_manifest:
        common.store_metrics(man_path, "classifier", ev.manifest_metrics(results))


def _torch_results(checkpoint: Path | None, root: Path, config: Path, test: TestSet
                   ) -> dict[str, Any]:
    """The PyTorch weights' metrics; none (said) when the recipe's run has no weights."""
    from tinycats.classifier.evaluate import summary_line, torch_metrics

    ckpt = _weights(checkpoint, root, config)
    if ckpt.exists():
        results = {"torch": torch_metrics(ckpt, test)}
        console.print(summary_line("torch", results["torch"]))
        return results
    if checkpoint is not None:
        raise TinycatsError(f"checkpoint {checkpoint} does not exist")
    console.print(f"[dim]no checkpoint at {ckpt}: PyTorch not evaluated[/]")
    return {}


def _command_line() -> str:
    """How this evaluation was asked for, for the report (called from Python: the command)."""
    if sys.argv[0].endswith(("tinycats", "__main__.py")):
        return "tinycats " + " ".join(sys.argv[1:])
    return "tinycats eval classifier"


# ---- classify ------------------------------------------------------------------------------

def classify(
    images: Annotated[list[Path], typer.Argument(help="Image files.", show_default=False)],
    model_dir: ModelDirOpt = Path(SHIPPED_MODELS),
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
    import numpy as np
    from PIL import Image

    from tinycats.runtime.classify import (
        UNSURE_CANDIDATES,
        Classifier,
        ImageInputError,
        cam_overlay,
        read_image,
        unsure,
    )

    clf = Classifier(common.models_folder(model_dir) / "manifest.json", variant)
    failures = 0
    rows: list[tuple[str, str, str, str, str]] = []
    unsure_seen = False
    read_as: list[str] = []  # pictures enlarged with nearest neighbour, read as their source
    for path in images:
        try:
            im = read_image(path)
        except ImageInputError as e:
            failures += 1
            err_console.print(f"[bold red]error:[/] {e}", highlight=False)
            if as_json:
                print(json.dumps({"path": str(path), "error": str(e)}), flush=True)
            continue
        src = clf.pre.source(im)
        size = (src.shape[1], src.shape[0]) if isinstance(src, np.ndarray) else src.size
        read_as_size = size if size != im.size else None
        if read_as_size:
            read_as.append(f"{path.name}: read as the {size[0]}x{size[1]} picture it enlarges "
                           "with nearest neighbour")
        square = clf.pre.square(src, from_source=True)[None]
        probs, cams = clf.run(square, with_cam=cam is not None)
        p = probs[0]
        tops = clf.top(probs)
        top, is_unsure = int(tops[0]), bool(unsure(probs, tops, clf.unsure_below)[0])
        unsure_seen |= is_unsure
        # the label the image gets first (the manifest's rule), then the most probable others;
        # an unsure answer puts no label first: the candidates by probability (as the app does)
        if is_unsure:
            order = [int(i) for i in p.argsort()[::-1][:max(top_k, UNSURE_CANDIDATES)]]
        else:
            order = [top, *[int(i) for i in p.argsort()[::-1] if i != top][:top_k - 1]]
        if cam is not None and cams is not None:
            dest = cam if len(images) == 1 else cam.with_name(
                f"{cam.stem}-{path.stem}{cam.suffix or '.png'}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(cam_overlay(square[0], cams[0, order[0]])).save(dest)
        if as_json:
            print(json.dumps({
                "path": str(path), "top": top, "label": clf.keys[top],
                "display": clf.labels[top]["display"], "unsure": is_unsure,
                "probs": {k: round(float(v), 6) for k, v in zip(clf.keys, p, strict=True)},
                "top_k": [{"id": i, "key": clf.keys[i], "prob": round(float(p[i]), 6)}
                          for i in order],
                "variant": clf.variant,
                **({"read_as": [int(v) for v in read_as_size]} if read_as_size else {}),
            }), flush=True)
        else:
            for rank, i in enumerate(order, 1):
                # the file name keeps the table readable; --json carries the full path
                answer = ("not sure" if is_unsure else "") if rank == 1 else ""
                rows.append((path.name if rank == 1 else "", str(rank),
                             clf.labels[i]["display"], f"{p[i] * 100:.1f}%", answer))
    if not as_json and rows:
        # the "answer" column appears only when it has something to say
        cols = ("image", "#", "label", "probability", "answer")[:5 if unsure_seen else 4]
        table = Table(title=f"tinycats classifier ({clf.variant})", show_lines=False)
        for col in cols:
            table.add_column(col, justify="right" if col in ("#", "probability") else "left")
        for row in rows:
            table.add_row(*row[:len(cols)])
        console.print(table)
        for line in read_as:
            console.print(line, highlight=False)
        if unsure_seen and clf.unsure_below is not None:
            console.print(f"not sure: no label reaches {clf.unsure_below * 100:.0f}% "
                          "(calibrated probabilities), so the most probable ones are shown")
    if failures:
        raise typer.Exit(1)


# ---- bench ---------------------------------------------------------------------------------

def bench_classifier(
    model_dir: ModelDirOpt = Path(SHIPPED_MODELS),
    checkpoint: Annotated[Path | None, typer.Option(help="PyTorch weights (default: the "
                                                    "recipe's run; else the architecture "
                                                    "with random weights: same speed).")
                          ] = None,
    config: Annotated[Path, typer.Option("--config", "-c")] = Path(DEFAULT_CONFIG),
    threads: Annotated[int, typer.Option(help="CPU threads for torch and onnxruntime.")] = 2,
    batch: Annotated[int, typer.Option(help="Batch size for the throughput figure.")] = 32,
    seconds: Annotated[float, typer.Option(help="Time per measurement.")] = 3.0,
    data_dir: common.DataDirOpt = None,
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
    man_path = common.models_folder(model_dir) / mf.MANIFEST_NAME
    entry = mf.model_entry(mf.load(man_path), "classifier")
    size = int(entry["input"]["size"])
    ckpt = _weights(checkpoint, common.resolve_data_dir(data_dir), config)
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


register = common.registrar({
    "train": {"classifier": train_classifier, "calibrate-classifier": calibrate_classifier},
    "eval": {"classifier": eval_classifier},
    "export": {"classifier": export_classifier_cmd},
    "bench": {"classifier": bench_classifier},
    "app": {"classify": classify},
})

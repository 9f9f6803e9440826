"""``tinycats train upscaler`` and ``tinycats eval upscaler``: the 64 -> 128 px stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tinycats.cli import common
from tinycats.cli.common import console
from tinycats.errors import TinycatsError

if TYPE_CHECKING:
    from tinycats.upscaler.config import UpscalerConfig
    from tinycats.upscaler.evaluate import BreedJudge
    from tinycats.upscaler.model import UpscalerUNet

DEFAULT_CONFIG = "configs/upscaler.yaml"


def _weights(checkpoint: Path | None, root: Path) -> Path:
    """``--checkpoint``, else the EMA weights ``train upscaler`` leaves in its run folder."""
    return checkpoint or common.run_folder(root, "upscaler") / "ema.pt"


def train_upscaler(
    config: common.RecipeOpt = Path(DEFAULT_CONFIG),
    data_dir: common.DataDirOpt = None,
    run_dir: common.RunDirOpt = None,
    fresh: common.FreshOpt = False,
    device: common.DeviceOpt = "auto",
    steps: common.StepsOpt = None,
    max_minutes: common.MaxMinutesOpt = None,
    budget_minutes: common.BudgetMinutesOpt = None,
    init_from: Annotated[Path | None, typer.Option(
        "--init-from", help="Start a new run from these weights: an exported upscaler-fp32.onnx"
        " (e.g. the shipped one) or an ema.pt/last.pt, of the recipe's architecture.")] = None,
) -> None:
    """Train the upscaler with flow matching (resumes from <run-dir>/last.pt unless --fresh)."""
    from tinycats.upscaler.config import UpscalerConfig
    from tinycats.upscaler.data import load_upscaler_data
    from tinycats.upscaler.train import train

    cfg = common.load_recipe(UpscalerConfig, config,
                             common.schedule_overrides(steps, budget_minutes, max_minutes))
    root = common.resolve_data_dir(data_dir)
    data = load_upscaler_data(root, cfg.data, log=console.print)
    out = common.run_folder(root, cfg.name, run_dir)
    from tinycats.upscaler.warm_start import load_init_state

    init_state = common.warm_start(init_from, out, fresh,
                                   lambda path: load_init_state(path, cfg.model))
    summary = train(cfg, data, out, device=device, resume=not fresh, log=console.print,
                    init_state=init_state, init_from=None if init_from is None else str(init_from))
    console.print(f"done: {summary['step']} steps, EMA weights in {out / 'ema.pt'}")


def eval_upscaler(
    checkpoint: Annotated[Path | None, typer.Option(
        help="ema.pt, last.pt, or an exported upscaler-fp32.onnx (e.g. the shipped one, read"
             " back with the recipe's architecture) (default: <data>/runs/upscaler/ema.pt).")
                                 ] = None,
    config: Annotated[Path, typer.Option(
        "--config", "-c", help="With an .onnx checkpoint: the recipe whose architecture and "
        "sampler it has.")] = Path(DEFAULT_CONFIG),
    data_dir: common.DataDirOpt = None,
    steps: Annotated[int | None, typer.Option(help="Sampler steps (default: the recipe's).")
                     ] = None,
    s: Annotated[float | None, typer.Option(
        "--s", help="Condition noise level at sampling (default: the recipe's).")] = None,
    solver: Annotated[str | None, typer.Option(help="euler or heun (default: the recipe's).")
                      ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N test faces.")] = None,
    with_fid: Annotated[bool, typer.Option("--fid/--no-fid", help="Compute FID (slow).")
                        ] = True,
    report: Annotated[Path | None, typer.Option(help="Write the figures to this JSON file.")
                      ] = None,
    update_manifest: Annotated[bool, typer.Option(
        help="Store the figures in the manifest's upscaler entry (the checkpoint must be the "
             "one exported there, and FID measured).")] = False,
    model_dir: Annotated[Path | None, typer.Option(
        help="Folder whose manifest --update-manifest writes (default: the shipped models).")
                         ] = None,
) -> None:
    """PSNR and FID at 128 px of bicubic and of the upscaler on the Oxford test face crops,
    downscaled to 64 px and upscaled back."""
    from tinycats.generator.evaluate import Inception
    from tinycats.upscaler.evaluate import (
        UpEvalConfig,
        evaluate_upscaler,
        held_out_faces,
        manifest_metrics,
    )
    from tinycats.upscaler.train import load_upscaler

    root = common.resolve_data_dir(data_dir)
    weights = _weights(checkpoint, root)
    manifest = common.models_folder(model_dir) / "manifest.json"
    if update_manifest:  # refused before the slow part, not after it
        _check_exported(weights, manifest, with_fid)
    model, cfg = (_from_export(weights, config) if weights.suffix == ".onnx"
                  else load_upscaler(weights))
    sc = cfg.sampler
    ecfg = UpEvalConfig(steps=steps or sc.steps, s=sc.s if s is None else s,
                        solver=solver or sc.solver, shift=sc.shift, fid=with_fid)
    originals, labels = held_out_faces(root, cfg.data.size, cfg.data.face_margin)
    figures = evaluate_upscaler(model, originals[:limit], labels[:limit], ecfg,
                                Inception() if with_fid else None,
                                judge=_shipped_classifier(manifest.parent))
    console.print(json.dumps(figures, indent=2))
    if report is not None:
        common.write_json(report, figures)
    if update_manifest:
        common.store_metrics(manifest, "upscaler", manifest_metrics(figures))
        console.print(f"figures stored in {manifest}")


def _from_export(path: Path, config: Path) -> tuple[UpscalerUNet, UpscalerConfig]:
    """The upscaler in an exported fp32 file, with the recipe's architecture, checked against
    the file (upscaler/warm_start.py)."""
    from tinycats.upscaler.config import UpscalerConfig
    from tinycats.upscaler.model import UpscalerUNet
    from tinycats.upscaler.warm_start import load_init_state

    cfg = common.load_recipe(UpscalerConfig, config)
    model = UpscalerUNet(cfg.model)
    model.load_state_dict(load_init_state(path, cfg.model))
    return model.eval(), cfg


def _shipped_classifier(model_dir: Path) -> BreedJudge | None:
    """The classifier of ``model_dir`` as the breed judge (None when it has none)."""
    from tinycats.export import manifest as mf
    from tinycats.runtime.classify import Classifier
    from tinycats.upscaler.evaluate import BreedJudge

    path = model_dir / "manifest.json"
    if not path.exists() or "classifier" not in mf.load(path).get("models", {}):
        console.print(f"{model_dir} has no classifier: breed accuracy is not measured")
        return None
    clf = Classifier(path)
    return BreedJudge(lambda images: clf.predict(images).argmax(1), clf.other_id)


def _check_exported(weights: Path, manifest: Path, with_fid: bool) -> None:
    """--update-manifest's conditions: FID is measured, and ``weights`` are the exported ones
    (the training step the export recorded), so the manifest never describes another model."""
    from tinycats.export import manifest as mf
    from tinycats.training import checkpoint

    if not with_fid:
        raise TinycatsError("--update-manifest needs FID: leave out --no-fid")
    entry = mf.model_entry(mf.load(manifest), "upscaler")
    if weights.suffix == ".onnx":  # an export: it must be the very file the manifest lists
        if mf.sha256_file(weights) != entry.get("files", {}).get("fp32", {}).get("sha256"):
            raise TinycatsError(f"{weights} is not the fp32 file {manifest} lists: "
                                "leave out --update-manifest")
        return
    exported = entry.get("training", {}).get("steps")
    step = checkpoint.load(weights, map_location="cpu").get("step")
    if step is None or step != exported:
        raise TinycatsError(f"{weights} is step {step} but {manifest} holds the upscaler exported "
                            f"at step {exported}: export it first (tinycats export upscaler), "
                            "or leave out --update-manifest")


def eval_cascade(
    model_dir: Annotated[Path | None, typer.Option(
        "--model-dir", help="Folder with manifest.json + ONNX files (default: the shipped "
        "models).")] = None,
    data_dir: common.DataDirOpt = None,
    n_per_breed: Annotated[int, typer.Option(help="Cats per breed (per seed).")] = 32,
    seed: Annotated[list[int] | None, typer.Option(
        "--seed", help="Base noise seed, repeatable (the generator evaluation's seeds). "
        "Default 1234.")] = None,
    steps: Annotated[int | None, typer.Option(help="Upscaler sampler steps (default: "
                     "manifest).")] = None,
    s: Annotated[float | None, typer.Option("--s", help="Upscaler condition noise level "
                 "(default: manifest).")] = None,
    with_judge: Annotated[bool, typer.Option("--judge/--no-judge", help="Second breed judge.")
                          ] = True,
    report: Annotated[Path | None, typer.Option(help="Write the figures to this JSON file, and "
                      "a bicubic-vs-upscaler grid beside it.")] = None,
) -> None:
    """The two stages at 128 px against the generator + bicubic upscaling: FID/KID against the
    Oxford test face crops at 128 px, breed accuracy by the classifier and the second judge."""
    from tinycats.upscaler.cascade_eval import CascadeEvalConfig, evaluate_cascade

    cfg = CascadeEvalConfig(n_per_breed=n_per_breed, seeds=tuple(seed or [1234]), steps=steps,
                            s=s, judge=with_judge)
    with common.progress_bar("evaluating", 1) as bar:
        task = bar.task_ids[0]

        def progress(stage: str, i: int, n: int) -> None:
            bar.update(task, description=stage, completed=i, total=n)

        figures, sets, labels = evaluate_cascade(common.models_folder(model_dir),
                                                 common.resolve_data_dir(data_dir), cfg,
                                                 log=console.print, progress=progress)
    console.print(json.dumps(figures, indent=2))
    if report is not None:
        import numpy as np

        from tinycats.grid import make_grid
        from tinycats.runtime.output import save_image_atomic

        common.write_json(report, figures)
        first = [int(i) for b in sorted(set(labels.tolist())) for i in
                 (labels == b).nonzero()[0][:2]]
        # top row bicubic, bottom row the upscaler: two cats of every breed
        grid = make_grid(np.concatenate([sets["bicubic"][first], sets["upscaler"][first]]),
                         ncols=len(first))
        save_image_atomic(grid, report.with_suffix(".png"))
        console.print(f"wrote {report} and {report.with_suffix('.png')}")


def export_upscaler_cmd(
    checkpoint: Annotated[Path | None, typer.Option(
        help="ema.pt or last.pt (default: <data>/runs/upscaler/ema.pt).")] = None,
    data_dir: common.DataDirOpt = None,
    out: Annotated[Path | None, typer.Option(help="Folder with the generator's manifest.json "
                   "(default: the shipped models folder).")] = None,
    variants: Annotated[str, typer.Option(help="Comma-separated: fp32,fp16.")] = "fp32,fp16",
    steps: Annotated[int | None, typer.Option(help="Sampler steps written to the manifest "
                     "(default: the recipe's).")] = None,
    s: Annotated[float | None, typer.Option("--s", help="Condition noise level written to the "
                 "manifest (default: the recipe's).")] = None,
    solver: Annotated[str | None, typer.Option(help="euler or heun (default: the recipe's).")
                      ] = None,
) -> None:
    """Export the upscaler's EMA weights to ONNX (fp32/fp16), parity-checked, as the manifest's
    second stage."""
    from tinycats.export.upscaler_onnx import export_upscaler
    from tinycats.paths import shipped_models_dir

    ck = common.existing_checkpoint(_weights(checkpoint, common.resolve_data_dir(data_dir)))
    dest = out or shipped_models_dir()
    entry = export_upscaler(ck, dest, variants=tuple(v.strip() for v in variants.split(",")),
                            sampler=common.given(steps=steps, s=s, solver=solver))
    common.print_export(entry, dest)


def pack_upscaler(
    out: Annotated[Path, typer.Option(help="New data folder to write (replaced if present).")],
    config: common.RecipeOpt = Path(DEFAULT_CONFIG),
    data_dir: common.DataDirOpt = None,
    jpeg_quality: Annotated[int, typer.Option(
        min=1, max=100, help="JPEG quality of the packed images.")] = 95,
    max_mb: common.MaxMbOpt = None,
) -> None:
    """Write a compact data folder with only what upscaler training reads (for a GPU box)."""
    from tinycats.upscaler.config import UpscalerConfig
    from tinycats.upscaler.pack import pack_upscaler_data

    cfg = common.load_recipe(UpscalerConfig, config)
    total = pack_upscaler_data(common.resolve_data_dir(data_dir), out, cfg.data, jpeg_quality)
    common.report_pack(out, total, max_mb, "use a lower --jpeg-quality")


register = common.registrar({
    "train": {"upscaler": train_upscaler},
    "data": {"pack-upscaler": pack_upscaler},
    "eval": {"upscaler": eval_upscaler, "cascade": eval_cascade},
    "export": {"upscaler": export_upscaler_cmd},
})

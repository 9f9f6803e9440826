"""``tinycats train upscaler`` and ``tinycats eval upscaler``: the 64 -> 128 px stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tinycats.cli.common import (
    BudgetMinutesOpt,
    DataDirOpt,
    DeviceOpt,
    FreshOpt,
    MaxMinutesOpt,
    RecipeOpt,
    RunDirOpt,
    StepsOpt,
    console,
    resolve_data_dir,
    schedule_overrides,
)
from tinycats.paths import runs_dir

DEFAULT_CONFIG = "configs/upscaler.yaml"


def train_upscaler(
    config: RecipeOpt = Path(DEFAULT_CONFIG),
    data_dir: DataDirOpt = None,
    run_dir: RunDirOpt = None,
    fresh: FreshOpt = False,
    device: DeviceOpt = "auto",
    steps: StepsOpt = None,
    max_minutes: MaxMinutesOpt = None,
    budget_minutes: BudgetMinutesOpt = None,
) -> None:
    """Train the upscaler with flow matching (resumes from <run-dir>/last.pt unless --fresh)."""
    from tinycats.config import load_yaml
    from tinycats.upscaler.config import UpscalerConfig
    from tinycats.upscaler.data import load_upscaler_data
    from tinycats.upscaler.train import replace, train

    cfg = load_yaml(UpscalerConfig, config)
    overrides = schedule_overrides(steps, budget_minutes, max_minutes)
    if overrides:
        cfg = replace(cfg, **overrides)
    root = resolve_data_dir(data_dir)
    data = load_upscaler_data(root, cfg.data, log=console.print)
    out = run_dir or runs_dir(root) / cfg.name
    summary = train(cfg, data, out, device=device, resume=not fresh, log=console.print)
    console.print(f"done: {summary['step']} steps, EMA weights in {out / 'ema.pt'}")


def eval_upscaler(
    checkpoint: Annotated[Path | None, typer.Option(
        help="ema.pt or last.pt (default: <data>/runs/upscaler/ema.pt).")] = None,
    data_dir: DataDirOpt = None,
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
) -> None:
    """PSNR and FID at 128 px of bicubic and of the upscaler on the Oxford test face crops,
    downscaled to 64 px and upscaled back."""
    from tinycats.generator.evaluate import Inception
    from tinycats.upscaler.evaluate import UpEvalConfig, evaluate_upscaler, held_out_faces
    from tinycats.upscaler.train import load_upscaler

    root = resolve_data_dir(data_dir)
    model, cfg = load_upscaler(checkpoint or runs_dir(root) / "upscaler" / "ema.pt")
    sc = cfg.sampler
    ecfg = UpEvalConfig(steps=steps or sc.steps, s=sc.s if s is None else s,
                        solver=solver or sc.solver, shift=sc.shift, fid=with_fid)
    originals = held_out_faces(root, cfg.data.size, cfg.data.face_margin)[:limit]
    figures = evaluate_upscaler(model, originals, ecfg, Inception() if with_fid else None)
    text = json.dumps(figures, indent=2)
    console.print(text)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text + "\n")


def register(*, app: typer.Typer, data: typer.Typer, train: typer.Typer, eval: typer.Typer,
             export: typer.Typer, bench: typer.Typer) -> None:
    train.command("upscaler")(train_upscaler)
    eval.command("upscaler")(eval_upscaler)

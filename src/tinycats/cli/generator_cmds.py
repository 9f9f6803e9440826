"""Generator commands: train, eval, export, generate, bench."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tinycats.cli.common import DataDirOpt, console, resolve_data_dir
from tinycats.paths import repo_root, runs_dir

DEFAULT_CONFIG = "configs/generator-64-cpu.yaml"


def train_generator(
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML.")] = Path(
        DEFAULT_CONFIG),
    data_dir: DataDirOpt = None,
    run_dir: Annotated[Path | None, typer.Option(help="Run folder (default: <data>/runs/<name>).")
                       ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore an existing checkpoint.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")] = "auto",
    steps: Annotated[int | None, typer.Option(help="Override the recipe's step count.")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Override the wall-time limit.")
                           ] = None,
) -> None:
    """Train TinyDiT with flow matching (resumes from <run-dir>/last.pt unless --fresh)."""
    from tinycats.config import load_yaml
    from tinycats.generator.config import GeneratorConfig
    from tinycats.generator.data import load_gen_data
    from tinycats.generator.train import replace, train

    if not config.exists() and (repo_root() / config).exists():
        config = repo_root() / config
    cfg = load_yaml(GeneratorConfig, config)
    overrides: dict[str, object] = {}
    if steps is not None:
        overrides["steps"] = steps
    if max_minutes is not None:
        overrides["max_minutes"] = max_minutes
    if overrides:
        cfg = replace(cfg, **overrides)
    root = resolve_data_dir(data_dir)
    data = load_gen_data(root, cfg.data)
    out = run_dir or runs_dir(root) / cfg.name
    summary = train(cfg, data, out, device=device, resume=not fresh, log=console.print)
    console.print(f"done: {summary['step']} steps, EMA weights in {out / 'ema.pt'}")


def register(*, app: typer.Typer, data: typer.Typer, train: typer.Typer, eval: typer.Typer,
             export: typer.Typer, bench: typer.Typer) -> None:
    train.command("generator")(train_generator)

"""Options and helpers every command shares: the data folder, progress bars, clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tinycats.errors import TinycatsError
from tinycats.paths import data_dir

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data, caches and runs folder "
                 "(default: $TINYCATS_DATA, else ~/.cache/tinycats).", show_default=False),
]

# The options every `tinycats train ...` command shares, declared once.
RecipeOpt = Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML.")]
RunDirOpt = Annotated[Path | None, typer.Option(help="Run folder (default: <data>/runs/<name>).")]
FreshOpt = Annotated[bool, typer.Option("--fresh", help="Ignore an existing checkpoint.")]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")]
MaxMinutesOpt = Annotated[float | None, typer.Option(help="Override the wall-time limit.")]
StepsOpt = Annotated[int | None, typer.Option(help="Override the recipe's step count.")]
BudgetMinutesOpt = Annotated[float | None, typer.Option(
    help="Size the schedule to this many minutes on this machine (measured speed).")]


def schedule_overrides(steps: int | None, budget_minutes: float | None,
                       max_minutes: float | None) -> dict[str, object]:
    """The train commands' --steps / --budget-minutes / --max-minutes as recipe overrides; an
    explicit step count replaces a recipe's time budget."""
    out: dict[str, object] = {}
    if steps is not None:
        out.update(steps=steps, budget_minutes=None)
    if budget_minutes is not None:
        out["budget_minutes"] = budget_minutes
    if max_minutes is not None:
        out["max_minutes"] = max_minutes
    return out


def resolve_data_dir(opt: Path | None) -> Path:
    return data_dir(opt)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one clear red line to stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Progress]:
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
                  transient=False) as p:
        p.add_task(description, total=total)
        yield p


__all__ = ["DataDirOpt", "TinycatsError", "console", "err_console", "fail", "progress_bar",
           "resolve_data_dir"]


def print_export(entry: dict[str, Any], dest: Path) -> None:
    """One line per exported file (size and parity against PyTorch), then the manifest's path."""
    for name, fe in entry["files"].items():
        console.print(f"{name}: {fe['file']} {fe['bytes'] / 1e6:.1f} MB, max |onnx - torch| "
                      f"{fe['parity_vs_torch']['max_abs_diff']:.2e}")
    console.print(f"manifest: {dest / 'manifest.json'}")

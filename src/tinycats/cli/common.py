"""What every command shares: its options, the data folder, progress bars, the recipe a train
command reads, where runs, models and reports are found, and how a measurement reaches the
manifest.

User-caused errors are raised as ``TinycatsError``: ``cli/main.py`` prints one red line and exits
with code 2. ``fail`` prints the same line for an exit code of its own (``report --check``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

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
from tinycats.paths import data_dir, repo_root, runs_dir, shipped_models_dir

if TYPE_CHECKING:
    from tinycats.config import Recipe

R = TypeVar("R", bound="Recipe")

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
# `tinycats data pack-*`: the data folders that travel to a GPU box, and their size limit.
MaxMbOpt = Annotated[float | None, typer.Option(
    help="Refuse a pack larger than this many MB (a device's or upload's limit).")]


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


def registrar(commands: Mapping[str, Mapping[str, Callable[..., Any]]]) -> Callable[..., None]:
    """A module's ``register``, from its table of commands ``{group: {name: command}}`` (group
    ``app`` is the top level). ``cli/main.py`` calls it with every group by name; each group
    lists its commands in the order the table gives them."""

    def register(**groups: typer.Typer) -> None:
        for group, named in commands.items():
            for name, command in named.items():
                groups[group].command(name)(command)

    return register


# ---- recipes and overrides -----------------------------------------------------------------

def given(**options: object) -> dict[str, object]:
    """The options the command line gave (an option left at None was not given)."""
    return {k: v for k, v in options.items() if v is not None}


def schedule_overrides(steps: int | None, budget_minutes: float | None,
                       max_minutes: float | None) -> dict[str, object]:
    """The train commands' --steps / --budget-minutes / --max-minutes as recipe overrides; an
    explicit step count replaces a recipe's time budget."""
    out: dict[str, object] = {}
    if steps is not None:
        out.update(steps=steps, budget_minutes=None)
    return {**out, **given(budget_minutes=budget_minutes, max_minutes=max_minutes)}


def load_recipe(cls: type[R], config: Path, train_overrides: Mapping[str, object] | None = None
                ) -> R:
    """The recipe in ``config`` (found in the checkout too) with a train command's overrides
    of its ``train`` section."""
    from tinycats.config import load_yaml, replace_train

    recipe = load_yaml(cls, in_checkout(config))
    return replace_train(recipe, **train_overrides) if train_overrides else recipe


def warm_start(init_from: Path | None, run_dir: Path, fresh: bool,
               load: Callable[[Path], dict[str, Any]]) -> dict[str, Any] | None:
    """The weights ``--init-from`` names, read by ``load`` (a model's warm_start.load_init_state)
    for a new run; None when there are none or when the run resumes its own ``last.pt``."""
    if init_from is None:
        return None
    if not fresh and (run_dir / "last.pt").exists():
        console.print(f"{run_dir / 'last.pt'} exists: resuming it, --init-from is not read "
                      "(add --fresh to start over from it)")
        return None
    console.print(f"reading the starting weights from {init_from} (checked against it)")
    return load(init_from)


# ---- where runs, models and reports are ----------------------------------------------------

def in_checkout(path: Path) -> Path:
    """``path``; when it is relative and not there from here, the checkout's one of that name
    (if that exists), so recipes, reports and the shipped models are found from any folder."""
    if not path.is_absolute() and not path.exists() and (repo_root() / path).exists():
        return repo_root() / path
    return path


def run_folder(root: Path, name: str, run_dir: Path | None = None) -> Path:
    """``--run-dir`` when given, else ``<data>/runs/<name>`` (the recipe's name)."""
    return run_dir or runs_dir(root) / name


def existing_checkpoint(path: Path) -> Path:
    """``path``, refused in one line when no checkpoint is there."""
    if not path.exists():
        raise TinycatsError(f"checkpoint {path} does not exist; train first or pass --checkpoint")
    return path


def models_folder(model_dir: Path | None) -> Path:
    """``--model-dir`` (see ``in_checkout``), else the shipped models."""
    return shipped_models_dir() if model_dir is None else in_checkout(model_dir)


def report_path(path: Path) -> Path:
    """Where a report file goes: a relative path's folder is looked up in the checkout too, so
    ``reports/`` (the README's tables are made from it) is found from any folder."""
    return path if path.is_absolute() else in_checkout(path.parent) / path.name


def write_json(path: Path, obj: Any) -> None:
    """A report: ``obj`` as indented JSON, its folder made first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def store_metrics(manifest: Path, key: str, metrics: dict[str, Any]) -> None:
    """Write measured figures into the manifest entry ``key``; the entry keeps its export's
    date and producer (``manifest.update_model``: only a re-export renews them)."""
    from tinycats.export import manifest as mf

    entry = mf.model_entry(mf.load(manifest), key)
    entry["metrics"] = metrics
    mf.update_model(manifest, key, entry)


def print_export(entry: dict[str, Any], dest: Path) -> None:
    """One line per exported file (size and parity against PyTorch), then the manifest's path."""
    for name, fe in entry["files"].items():
        console.print(f"{name}: {fe['file']} {fe['bytes'] / 1e6:.1f} MB, max |onnx - torch| "
                      f"{fe['parity_vs_torch']['max_abs_diff']:.2e}")
    console.print(f"manifest: {dest / 'manifest.json'}")


def report_pack(out: Path, total_bytes: int, max_mb: float | None, smaller: str) -> None:
    """Say where a data pack went and how big it is, or refuse it when over `max_mb`.

    `smaller` names the options that shrink this kind of pack.
    """
    if max_mb is not None and total_bytes > max_mb * 1e6:
        raise TinycatsError(f"the pack at {out} is {total_bytes / 1e6:.1f} MB, over --max-mb "
                            f"{max_mb:g}: {smaller}")
    console.print(f"wrote {out} ({total_bytes / 1e6:.1f} MB); train with --data-dir {out}")

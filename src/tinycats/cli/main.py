"""``tinycats``: one command tree for data, training, evaluation, export and the runtimes."""

from __future__ import annotations

import inspect
import sys
from typing import Annotated

import typer

from tinycats import __version__
from tinycats.cli import (
    classifier_cmds,
    data_cmds,
    generator_cmds,
    report_cmds,
    scale_cmds,
    upscaler_cmds,
    web_cmds,
)
from tinycats.cli.common import err_console
from tinycats.errors import TinycatsError

app = typer.Typer(help="tinycats: cat breeds, classified and generated, on your own machine.",
                  no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
data_app = typer.Typer(help="Fetch, add, prepare and inspect the data.", no_args_is_help=True)
train_app = typer.Typer(help="Train the classifier, the generator or the upscaler.",
                        no_args_is_help=True)
eval_app = typer.Typer(help="Measure a trained model.", no_args_is_help=True)
export_app = typer.Typer(help="Export trained models to ONNX + manifest.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print measured figures.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(export_app, name="export")
app.add_typer(bench_app, name="bench")

for area in (data_cmds, classifier_cmds, generator_cmds, web_cmds, scale_cmds, report_cmds,
             upscaler_cmds):
    area.register(app=app, data=data_app, train=train_app, eval=eval_app, export=export_app,
                  bench=bench_app)


def _one_line_summaries(*apps: typer.Typer) -> None:
    """Join each command's first docstring paragraph into one line. typer's command listing
    keeps that paragraph's source line breaks in its rich mode, so a summary wrapped at 100
    columns in the source would break mid-sentence in ``--help``."""
    for group in apps:
        for info in group.registered_commands:
            doc = info.help or (inspect.getdoc(info.callback) if info.callback else None) or ""
            first, sep, rest = doc.partition("\n\n")
            info.help = first.replace("\n", " ") + sep + rest


_one_line_summaries(app, data_app, train_app, eval_app, export_app, bench_app)


def version_text() -> str:
    """The package version, then one line per shipped model: its version and training date
    (from the manifest the runtimes read: the checkout's, else the installed package's)."""
    from tinycats.export import manifest as mf
    from tinycats.paths import shipped_models_dir

    path = shipped_models_dir() / mf.MANIFEST_NAME
    lines = [f"tinycats {__version__}"]
    try:
        models = mf.load(path)["models"]
    except mf.ManifestError as e:
        return "\n".join([*lines, f"models: none ({e})"])
    for key, entry in models.items():
        rel = mf.release_fields(entry)
        lines.append(f"{key} {rel['model_version']} (trained {rel['trained']}, default "
                     f"{entry.get('default_variant', '?')})")
    lines.append(f"models: {path.parent}")
    return "\n".join(lines)


def _print_version(value: bool) -> None:
    if value:
        print(version_text())
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option(
        "--version", "-V", is_eager=True, callback=_print_version,
        help="Print the tinycats version and the shipped models' versions, then exit.")] = False,
) -> None:
    pass


@app.command()
def version() -> None:
    """Print the tinycats version and the shipped models' versions."""
    print(version_text())


def main() -> None:
    try:
        app()
    except TinycatsError as e:
        err_console.print(f"[bold red]error:[/] {e}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except OSError as e:  # a disk that is full or a folder that cannot be made: one line
        where = f"{e.filename}: " if e.filename else ""
        err_console.print(f"[bold red]error:[/] {where}{e.strerror or e}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()

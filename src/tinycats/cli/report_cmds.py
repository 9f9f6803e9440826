"""``tinycats report``: the README's results tables, regenerated from ``reports/*.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tinycats.cli import common
from tinycats.cli.common import console, fail
from tinycats.paths import SHIPPED_MODELS, repo_root


def report(
    check: Annotated[bool, typer.Option(
        "--check", help="Change nothing; exit 1 if README.md is out of date.")] = False,
    readme: Annotated[Path | None, typer.Option(
        help="The README to rewrite (default: the checkout's README.md).")] = None,
    reports: Annotated[Path | None, typer.Option(
        help="The measured reports (default: the checkout's reports/).")] = None,
    manifest: Annotated[Path | None, typer.Option(
        help="The shipped models' manifest (sizes, variants).")] = None,
    stamp: Annotated[list[Path] | None, typer.Option(
        help="First record, in reports/machines.json, that this report (as it is now) was "
             "measured on --date on --machine. Repeatable.")] = None,
    date: Annotated[str | None, typer.Option(help="With --stamp: YYYY-MM-DD.")] = None,
    machine: Annotated[str | None, typer.Option(
        help='With --stamp: the CPU and its features, e.g. "2-vCPU AMD EPYC, AVX2 only".')
    ] = None,
    command: Annotated[str | None, typer.Option(
        help="With --stamp: the command that measured it, when the report does not say.")
    ] = None,
) -> None:
    """Rewrite README.md's classifier, generator and speed tables from reports/*.json."""
    from tinycats import report as rp

    root = repo_root()
    readme = readme or root / "README.md"
    reports = reports or root / "reports"
    manifest = manifest or root / SHIPPED_MODELS / "manifest.json"
    if stamp:
        if not date:
            raise fail("--stamp needs --date YYYY-MM-DD (and usually --machine)")
        if check:
            raise fail("--stamp changes reports/machines.json: not with --check")
        for name in rp.stamp(reports, stamp, date, machine, command):
            console.print(f"recorded reports/{name}: {date}" + (f", {machine}" if machine else ""))
    changed = rp.regenerate(readme, reports, manifest, check=check)
    if check and changed:
        raise fail(f"{readme.name} is out of date with reports/: run `tinycats report`", code=1)
    console.print(f"{readme.name}: " + ("tables rewritten from reports/" if changed
                                        else "tables up to date"))


register = common.registrar({"app": {"report": report}})

"""Commands of this area (filled in by its owner)."""

from __future__ import annotations

import typer


def register(*, app: typer.Typer, data: typer.Typer, train: typer.Typer, eval: typer.Typer,
             export: typer.Typer, bench: typer.Typer) -> None:
    return None

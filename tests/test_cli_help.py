"""``--help`` reads as prose: each command's summary in a group's listing stays on one line,
not broken where the source's docstring wraps."""

from __future__ import annotations

import inspect

import pytest
from typer.testing import CliRunner

from tinycats.cli.main import app

GROUPS = ["data", "train", "eval", "export", "bench"]


@pytest.mark.parametrize("group", GROUPS)
def test_group_listing_keeps_each_summary_on_one_line(group: str) -> None:
    # wide enough that rich never wraps a summary itself: a break left is the docstring's
    result = CliRunner().invoke(app, [group, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    sub = next(g.typer_instance for g in app.registered_groups if g.name == group)
    assert sub is not None and sub.registered_commands
    lines = [" ".join(ln.split()) for ln in result.output.splitlines()]
    for info in sub.registered_commands:
        summary = " ".join((inspect.getdoc(info.callback) or "").partition("\n\n")[0].split())
        assert any(summary in ln for ln in lines), f"{group}: {summary!r} is broken across lines"

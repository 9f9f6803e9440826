"""Shared pytest fixtures: the committed Oxford-IIIT Pet mini set and throwaway data folders.

Tests never touch the user's data folder or ../shared: every data folder here is a temp dir.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tinycats.data.sources import Source, register
from tinycats.paths import ENV_VAR

FIXTURES = Path(__file__).parent / "fixtures"
OXFORD_MINI = FIXTURES / "oxford-mini"


@pytest.fixture(scope="session")
def oxford_mini() -> Path:
    """The committed mini set (official layout: images/ + annotations/). Read it, never write it."""
    assert (OXFORD_MINI / "annotations" / "trainval.txt").exists(), OXFORD_MINI
    return OXFORD_MINI


@pytest.fixture
def oxford_mini_copy(tmp_path: Path) -> Path:
    """A private copy of the mini set, for tests that add, break or delete files."""
    dst = tmp_path / "oxford-mini"
    shutil.copytree(OXFORD_MINI, dst)
    return dst


@pytest.fixture
def data_root(tmp_path: Path, oxford_mini_copy: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temp data folder with a copy of oxford-mini registered as the ``oxford`` source.

    ``TINYCATS_DATA`` points at it for the duration of the test, so CLI commands run without
    ``--data-dir`` use it too (and never the real per-user folder).
    """
    root = tmp_path / "data"
    register(root, Source(name="oxford", kind="oxford", path=str(oxford_mini_copy)))
    monkeypatch.setenv(ENV_VAR, str(root))
    yield root


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``tinycats ARGS...`` in-process through the real entry point (``main``: exit codes,
    one-line errors), capturing stdout/stderr. Much faster than a subprocess per call."""
    # Imported here, not at the top: a broken CLI module must fail only the CLI tests.
    from tinycats.cli import common
    from tinycats.cli.main import main

    for con in (common.console, common.err_console):
        monkeypatch.setattr(con, "width", 200)  # no table wrapping in assertions

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["tinycats", *args])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run

"""Helpers the CLI commands share (cli/common.py)."""

from pathlib import Path

import pytest

from tinycats.cli import common
from tinycats.errors import TinycatsError


def test_report_pack_refuses_a_pack_over_the_limit_and_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TinycatsError) as e:
        common.report_pack(tmp_path / "p", 2_500_000, 2.0, "use a lower --jpeg-quality")
    assert "2.5 MB, over --max-mb 2" in str(e.value)
    assert str(e.value).endswith("use a lower --jpeg-quality")


def test_report_pack_accepts_a_pack_within_the_limit_or_without_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common.report_pack(tmp_path / "p", 2_000_000, 2.0, "unused")
    common.report_pack(tmp_path / "q", 9_000_000_000, None, "unused")
    out = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal's width
    assert "(2.0 MB); train with --data-dir" in out and "(9000.0 MB)" in out

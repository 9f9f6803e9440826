"""The committed fixture set is what the other tests assume: every breed, both splits, dogs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tinycats.breeds import BREEDS
from tinycats.data import oxford
from tinycats.data.sources import load_registry


def test_oxford_mini_covers_every_breed_and_split(oxford_mini: Path) -> None:
    scan = oxford.scan(oxford_mini)
    assert scan.unlisted == [] and scan.listed_missing == 0 and scan.unknown_name == []
    per = Counter((it.label_key, it.split) for it in scan.items)
    for b in BREEDS:
        assert per[(b.key, "trainval")] == 3
        assert per[(b.key, "test")] == 2
    assert per[("other", "trainval")] + per[("other", "test")] == 4


def test_fixture_folder_is_small(oxford_mini: Path) -> None:
    total = sum(p.stat().st_size for p in oxford_mini.rglob("*") if p.is_file())
    assert total < 1_500_000


def test_data_root_registers_a_private_copy(data_root: Path, oxford_mini: Path) -> None:
    reg = load_registry(data_root)
    assert Path(reg["oxford"].path) != oxford_mini
    assert (Path(reg["oxford"].path) / "images").is_dir()

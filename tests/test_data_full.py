"""Slow check on the full ../shared/data (not in the default run: `make test-slow`).

Prepares the whole Oxford-IIIT Pet copy plus the not-cat and supplementary folders, and checks
the counts documented in ../shared/data/README.md: 2,383 cat images over 12 breeds, the official
split sizes for the images present, 440 dogs in ``other``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tinycats.breeds import BREEDS, breed_from_oxford_name, is_oxford_dog
from tinycats.data import cache, oxford
from tinycats.data.fetch import ingest
from tinycats.data.folders import add_folder
from tinycats.data.prepare import prepare_all

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "data").resolve()
OXFORD = SHARED / "oxford-iiit-pet"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.shared,
    pytest.mark.skipif(not OXFORD.is_dir(), reason=f"{SHARED} is not here"),
]

SIZE = 64
CATS_PER_BREED = {b.key: 200 for b in BREEDS} | {"bombay": 184, "egyptian_mau": 196,
                                                  "abyssinian": 203}


def test_full_shared_data_counts(tmp_path: Path) -> None:
    root = tmp_path / "data"
    res = ingest(root, [OXFORD])
    assert res.in_place and res.images == 2_383 + 440

    # What is on disk: 2,383 cats over 12 breeds, 440 dogs.
    stems = [p.stem for p in (OXFORD / "images").glob("*.jpg")]
    on_disk = Counter(b.key for s in stems if (b := breed_from_oxford_name(s)) is not None)
    assert on_disk == CATS_PER_BREED and sum(on_disk.values()) == 2_383
    assert sum(1 for s in stems if is_oxford_dog(s)) == 440

    add_folder(root, SHARED / "not-cat", label="other")
    add_folder(root, SHARED / "supplementary")
    outcomes = {o.source.name: o for o in prepare_all(root, SIZE)}
    assert {o.status for o in outcomes.values()} == {"built"}, outcomes

    cs = cache.load(root, "oxford", SIZE)
    man = outcomes["oxford"].info.manifest  # type: ignore[union-attr]
    labels = [cache.LABEL_KEYS[i] for i in cs.labels.tolist()]
    splits = [cache.SPLITS[i] for i in cs.splits.tolist()]
    unlisted = man["skipped"].get("unlisted", {"count": 0, "names": []})
    # Every cat is either in the cache or an image in neither official list; none failed.
    assert set(man["skipped"]) <= {"unlisted"}
    cached_cats = Counter(lab for lab in labels if lab != "other")
    unlisted_cats = Counter(breed_from_oxford_name(n).key  # type: ignore[union-attr]
                            for n in unlisted["names"])
    assert unlisted["count"] == len(unlisted["names"])  # the list is complete (under 50)
    assert cached_cats + unlisted_cats == Counter(CATS_PER_BREED)
    assert len(cached_cats) == 12
    assert labels.count("other") == 440

    # The official split sizes for the images present.
    present = set(stems)
    trainval = set(oxford.read_split_list(OXFORD / "annotations" / "trainval.txt")) & present
    test = set(oxford.read_split_list(OXFORD / "annotations" / "test.txt")) & present
    assert splits.count("test") == len(test)
    assert splits.count("train") + splits.count("val") == len(trainval)
    assert {n for n, s in zip(cs.names, splits, strict=True) if s == "test"} == test
    # The validation carve-out: ~15% of trainval per label.
    assert abs(splits.count("val") - 0.15 * len(trainval)) < 13

    for name, n in (("not-cat", 99), ("supplementary", 694)):
        info = outcomes[name].info
        assert info is not None and info.manifest["count"] == n
    print(f"\ncats cached {sum(cached_cats.values())} + unlisted {sum(unlisted_cats.values())}"
          f" = 2383; train {splits.count('train')}, val {splits.count('val')}, "
          f"test {splits.count('test')}; other {labels.count('other')}")

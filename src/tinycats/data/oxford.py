"""Oxford-IIIT Pet: read the official split lists and list the images of an extracted folder.

Rules (see docs/decisions/0002-data-splits.md):
- the official ``trainval.txt`` / ``test.txt`` decide the split; a validation set is carved from
  trainval deterministically (``splits.carve_validation``);
- images on disk that are in neither list are skipped and counted as ``unlisted`` (the official
  tarball has a few; using them would blur the official split);
- names in a list whose image is absent (this copy holds only some dogs) are counted as
  ``listed_missing``, never an error;
- cats get their breed label from the file-name prefix; every dog becomes ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinycats.breeds import OTHER, breed_from_oxford_name, is_oxford_dog
from tinycats.errors import TinycatsError

SPLIT_FILES = {"trainval": "trainval.txt", "test": "test.txt"}


class OxfordLayoutError(TinycatsError, FileNotFoundError):
    """The folder does not look like an extracted Oxford-IIIT Pet dataset."""


@dataclass
class OxfordItem:
    path: Path
    stem: str
    label_key: str  # a classifier label key: breed key or "other"
    split: str  # "trainval" or "test"


@dataclass
class OxfordScan:
    items: list[OxfordItem] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    listed_missing: int = 0
    unknown_name: list[str] = field(default_factory=list)


def read_split_list(path: Path) -> list[str]:
    """Image stems of one official list file (``Name CLASS-ID SPECIES BREED-ID`` per line)."""
    stems = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        stems.append(line.split()[0])
    return stems


def check_layout(root: Path) -> None:
    missing = [p for p in ("images", "annotations/trainval.txt", "annotations/test.txt")
               if not (root / p).exists()]
    if missing:
        raise OxfordLayoutError(
            f"{root} does not look like an extracted Oxford-IIIT Pet dataset "
            f"(missing: {', '.join(missing)}); expected images/ and annotations/"
        )


def scan(root: Path) -> OxfordScan:
    check_layout(root)
    split_of: dict[str, str] = {}
    for split, fname in SPLIT_FILES.items():
        for stem in read_split_list(root / "annotations" / fname):
            split_of[stem] = split
    out = OxfordScan()
    on_disk = {p.stem: p for p in sorted((root / "images").glob("*.jpg"))}
    out.listed_missing = sum(1 for s in split_of if s not in on_disk)
    for stem, p in on_disk.items():
        if stem not in split_of:
            out.unlisted.append(stem)
            continue
        split = split_of[stem]
        breed = breed_from_oxford_name(stem)
        if breed is not None:
            key = breed.key
        elif is_oxford_dog(stem):
            key = OTHER.key
        else:
            out.unknown_name.append(stem)
            continue
        out.items.append(OxfordItem(p, stem, key, split))
    return out

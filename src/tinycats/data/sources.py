"""The registry of data sources a data folder knows about (``sources.json``).

``tinycats data fetch`` registers the Oxford-IIIT Pet folder; ``tinycats data add`` registers a
labeled folder. ``tinycats data prepare`` reads this registry, so it never needs to guess paths.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from tinycats.errors import TinycatsError

SourceKind = Literal["oxford", "folder"]
REGISTRY_FILE = "sources.json"


@dataclass(frozen=True)
class Source:
    name: str
    kind: SourceKind
    path: str  # absolute path of the folder
    #: for a flat folder: the label every image gets ("other", "any_cat", or a breed key);
    #: None for ImageFolder layout (label from the sub-folder name) and for Oxford.
    label: str | None = None
    #: images are used only at this size or below (e.g. the 64x64 cat faces); None: any size.
    max_size: int | None = None


class RegistryError(TinycatsError):
    """sources.json exists but cannot be read."""


def load_registry(root: Path) -> dict[str, Source]:
    f = root / REGISTRY_FILE
    if not f.exists():
        return {}
    try:
        raw = json.loads(f.read_text())
        return {name: Source(**entry) for name, entry in raw.items()}
    except (json.JSONDecodeError, TypeError, AttributeError) as e:
        # Hand-edited or from another version: say which file, rather than a traceback.
        raise RegistryError(f"{f} is damaged ({e}); fix it, or delete it and register the "
                            "sources again (tinycats data fetch / data add)") from None


def register(root: Path, source: Source) -> None:
    reg = load_registry(root)
    reg[source.name] = source
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / (REGISTRY_FILE + ".tmp")
    tmp.write_text(json.dumps({k: asdict(v) for k, v in sorted(reg.items())}, indent=2) + "\n")
    os.replace(tmp, root / REGISTRY_FILE)

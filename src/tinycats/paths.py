"""Where data, caches and checkpoints live: one setting.

Resolution order: an explicit ``--data-dir``, else the ``TINYCATS_DATA`` environment variable,
else a per-user cache folder (``$XDG_CACHE_HOME/tinycats`` or ``~/.cache/tinycats``).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TINYCATS_DATA"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        root = Path(explicit)
    elif os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR])
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base) / "tinycats"
    return root.expanduser().resolve()


def cache_dir(root: Path) -> Path:
    return root / "cache"


def runs_dir(root: Path) -> Path:
    return root / "runs"


def repo_root() -> Path:
    """The source checkout (for shipped models and configs); only meaningful in a checkout."""
    return Path(__file__).resolve().parents[2]


#: Where the shipped ONNX files and manifest.json live in a checkout (what the web app serves).
SHIPPED_MODELS = "web/public/models"


def shipped_models_dir() -> Path:
    return repo_root() / SHIPPED_MODELS

"""Where data, caches and checkpoints live: one setting. And where the shipped models are.

Resolution order for the data folder: an explicit ``--data-dir``, else the ``TINYCATS_DATA``
environment variable, else a per-user cache folder (``$XDG_CACHE_HOME/tinycats`` or
``~/.cache/tinycats``).

The shipped models (and the built web app) are found in the source checkout first
(``web/public/models``, ``web/dist``). An installed wheel has no checkout around it: it carries
the default model variants (and the web app, when it was built before the wheel) inside the
package, in ``tinycats/_shipped/``, laid out like the checkout, so every command that looks for
``<root>/web/public/models`` or ``<root>/web/dist`` finds them (docs/decisions/0008).

This module imports nothing but the standard library: ``setup.py`` reads its layout constants.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TINYCATS_DATA"

#: Where the shipped ONNX files and manifest.json live, below the root (what the web app serves).
SHIPPED_MODELS = "web/public/models"
#: The built web app (``npm run build``), below the root.
WEB_APP = "web/dist"
#: The folder inside the installed package that stands in for the checkout's root.
BUNDLE = "_shipped"

_PACKAGE = Path(__file__).resolve().parent


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


def checkout_root() -> Path | None:
    """The source checkout this package is imported from (``src/tinycats`` inside a folder with
    ``pyproject.toml``: an editable install or PYTHONPATH=src), or None for an installed wheel."""
    root = _PACKAGE.parents[1]
    if _PACKAGE.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root
    return None


def bundle_root() -> Path:
    """The installed package's stand-in for the checkout (``tinycats/_shipped``): it holds
    ``web/public/models`` (the default variants) and, when built, ``web/dist``."""
    return _PACKAGE / BUNDLE


def repo_root() -> Path:
    """The source checkout (shipped models, configs, reports); in an installed wheel, where no
    checkout exists, the package's bundled copy of the shipped parts (``bundle_root``): its
    ``web/public/models`` and ``web/dist`` are there, configs and reports are not."""
    return checkout_root() or bundle_root()


def shipped_models_dir() -> Path:
    return repo_root() / SHIPPED_MODELS


def web_app_dir() -> Path:
    return repo_root() / WEB_APP


def bundled_app_models(app_dir: Path) -> Path | None:
    """The models folder to serve at ``/models/`` for the installed wheel's web app, which is
    bundled without its own copy (the models are carried once, in ``web/public/models``); None
    for any other folder (a checkout's ``web/dist`` has its own ``models/``)."""
    bundled = bundle_root() / WEB_APP
    try:
        same = app_dir.resolve() == bundled.resolve()
    except OSError:
        return None
    if same and not (app_dir / "models").exists():
        return bundle_root() / SHIPPED_MODELS
    return None

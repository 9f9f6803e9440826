"""``manifest.json``: the contract between Python and every runtime (browser and CLI).

One file for both models. The runtimes read labels, input size, normalisation, the sampler
contract, file names, sizes and sha256 from here; nothing about the models is hard-coded
elsewhere. Schema: docs/manifest.md. This module writes it (used by both exporters) and reads
and verifies it (used by the ONNX runtime; it imports neither torch nor onnx).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinycats import __version__
from tinycats.errors import TinycatsError

FORMAT = "tinycats-manifest"
VERSION = 1
MANIFEST_NAME = "manifest.json"


class ManifestError(TinycatsError):
    pass


class ModelIntegrityError(TinycatsError):
    """A model file is missing, or its size/sha256 does not match the manifest."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def producer_versions() -> dict[str, str]:
    out = {"tinycats": __version__, "python": platform.python_version()}
    for mod in ("torch", "onnx", "onnxruntime", "numpy"):
        # a runtime-only install has no torch/onnx: that is fine
        with contextlib.suppress(Exception):
            out[mod] = __import__(mod).__version__
    return out


def load(path: Path) -> dict[str, Any]:
    """The manifest at ``path``, checked for its outer shape (an object with ``format``,
    ``version`` and a ``models`` object of objects); anything else is one ManifestError line."""
    if not path.exists():
        raise ManifestError(f"no manifest at {path}; export a model first "
                            "(tinycats export classifier / generator)")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from e
    except OSError as e:
        raise ManifestError(f"cannot read {path}: {e.strerror or e}") from e
    # valid JSON of the wrong shape ([], null, a string) must not surface as AttributeError
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise ManifestError(f"{path} is not a tinycats manifest (expected a JSON object with "
                            f'"format": "{FORMAT}")')
    version = m.get("version", 0)
    if not isinstance(version, int):
        raise ManifestError(f'{path}: "version" must be a whole number, got {version!r}')
    if version > VERSION:
        raise ManifestError(f"{path} has manifest version {version}; this tinycats reads "
                            f"up to {VERSION}: upgrade tinycats")
    models = m.get("models")
    if not isinstance(models, dict) or not all(isinstance(e, dict) for e in models.values()):
        raise ManifestError(f'{path}: "models" must be an object of model entries')
    return m


def release_fields(entry: dict[str, Any]) -> dict[str, str]:
    """A model entry's ``model_version`` and ``trained`` date: its own when it has them, else
    derived the way ``update_model`` writes them.

    - ``trained``: the date (YYYY-MM-DD, UTC) the weights were trained, taken as the day they
      were exported (every shipped model was exported when its training ended).
    - ``model_version``: ``YYYY.MM.DD-<first 8 hex digits of the fp32 file's sha256>`` (the
      default variant's when there is no fp32 file): readable, ordered by date, and different
      for any other weights; a metrics update or a re-quantised int8 file keeps it.
    """
    exported = entry.get("exported")
    trained = entry.get("trained")
    if not isinstance(trained, str) or not trained:
        trained = exported[:10] if isinstance(exported, str) and len(exported) >= 10 else "unknown"
    version = entry.get("model_version")
    if not isinstance(version, str) or not version:
        files = entry.get("files")
        if not isinstance(files, dict):
            files = {}
        fe = files.get("fp32") or files.get(str(entry.get("default_variant"))) or {}
        sha = fe.get("sha256") if isinstance(fe, dict) else None
        version = trained.replace("-", ".") + (f"-{sha[:8]}" if isinstance(sha, str) else "")
    return {"model_version": version, "trained": trained}


def update_model(path: Path, key: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Insert or replace ``models[key]`` and rewrite the manifest atomically. Every entry
    leaves with its ``model_version`` and ``trained`` date (``release_fields``)."""
    m: dict[str, Any] = (load(path) if path.exists()
                         else {"format": FORMAT, "version": VERSION, "models": {}})
    # A re-export gets fresh metadata; an update of metrics keeps the export's own.
    entry = {"exported": datetime.now(UTC).isoformat(timespec="seconds"),
             "producer": producer_versions(), **entry}
    m["models"][key] = entry
    for e in m["models"].values():  # entries exported before these fields existed get them too
        for field, value in release_fields(e).items():
            e.setdefault(field, value)
    m["models"] = dict(sorted(m["models"].items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(m, indent=2) + "\n")
    os.replace(tmp, path)
    return m


def model_entry(manifest: dict[str, Any], key: str) -> dict[str, Any]:
    try:
        return dict(manifest["models"][key])
    except KeyError:
        raise ManifestError(f"the manifest has no {key!r} model; export it first") from None


@contextlib.contextmanager
def reading_entry(manifest_path: Path, key: str) -> Iterator[None]:
    """Around a runtime's reads of a model entry: a missing or mistyped field becomes one
    ManifestError line naming it, not a KeyError traceback."""
    try:
        yield
    except KeyError as e:
        raise ManifestError(f"{manifest_path}: the {key!r} model entry lacks {e.args[0]!r}: "
                            "re-export the model") from None
    except (TypeError, ValueError, AttributeError, IndexError) as e:
        raise ManifestError(f"{manifest_path}: the {key!r} model entry has a field of the "
                            f"wrong type or value ({e}): re-export the model") from None


def _file_entries(manifest_path: Path, entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The entry's ``files``, checked: a non-empty object of {file, bytes, sha256} entries
    whose file names stay in the manifest's folder."""
    files = entry.get("files")
    if not isinstance(files, dict) or not files:
        raise ManifestError(f"{manifest_path}: the model entry has no \"files\" list of "
                            "model files: re-export the model")
    for variant, fe in files.items():
        ok = (isinstance(fe, dict) and isinstance(fe.get("file"), str)
              and isinstance(fe.get("bytes"), int) and isinstance(fe.get("sha256"), str))
        if not ok:
            raise ManifestError(f"{manifest_path}: file entry {variant!r} needs \"file\", "
                                "\"bytes\" and \"sha256\"")
        name = fe["file"]
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ManifestError(f"{manifest_path}: file entry {variant!r} has a bad file name "
                                f"{name!r} (it must be a plain name in the manifest's folder)")
    return files


def resolve_file(manifest_path: Path, entry: dict[str, Any], variant: str | None = None
                 ) -> tuple[Path, dict[str, Any]]:
    """Path and file entry of a model variant, verified against the manifest's size and sha256.

    Refuses (ModelIntegrityError) a missing file or one whose bytes differ from the manifest."""
    files = _file_entries(manifest_path, entry)
    variant = variant or entry.get("default_variant") or next(iter(files))
    if variant not in files:
        raise ManifestError(f"unknown model variant {variant!r}; available: {', '.join(files)}")
    fe = files[variant]
    p = manifest_path.parent / fe["file"]
    if not p.exists():
        raise ModelIntegrityError(f"model file {p} is missing")
    if p.stat().st_size != fe["bytes"] or sha256_file(p) != fe["sha256"]:
        raise ModelIntegrityError(
            f"model file {p} does not match the manifest (size or sha256 differs): refusing "
            "to load a modified or damaged model; re-export it or restore the original")
    return p, fe

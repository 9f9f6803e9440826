"""A manifest.json that is valid JSON of the wrong shape is one clear line (ManifestError), in
the runtimes' Python API and through the CLI, never an AttributeError or KeyError traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tinycats.export import manifest as mf
from tinycats.paths import shipped_models_dir
from tinycats.runtime.classify import Classifier
from tinycats.runtime.sample import Generator

Cli = Callable[..., Any]
SHIPPED = shipped_models_dir() / "manifest.json"


def shipped_with(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the shipped manifest, edited, next to links to the shipped model files."""
    m = json.loads(SHIPPED.read_text())
    edit(m)
    for f in SHIPPED.parent.glob("*.onnx"):
        (tmp_path / f.name).symlink_to(f)
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(m))
    return p


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "manifest.json"
    p.write_text(text)
    return p


HEAD = '{"format": "tinycats-manifest", "version": 1, '
WRONG_SHAPES = {
    "a list": "[]",
    "null": "null",
    "a string": '"manifest"',
    "a number": "1",
    "models as a list": HEAD + '"models": []}',
    "a model as a list": HEAD + '"models": {"generator": []}}',
    "a version string": '{"format": "tinycats-manifest", "version": "1", "models": {}}',
    "no files": HEAD + '"models": {"generator": {"task": "generate"}}}',
    "files as a list": HEAD + '"models": {"generator": {"files": []}}}',
    "a file entry without sha256": HEAD + '"models": {"generator": {"files": {"fp32": '
                                          '{"file": "g.onnx", "bytes": 1}}}}}',
    "a path in a file name": HEAD + '"models": {"generator": {"files": {"fp32": '
                                    '{"file": "../g.onnx", "bytes": 1, "sha256": "0"}}}}}',
}


@pytest.mark.parametrize("text", WRONG_SHAPES.values(), ids=WRONG_SHAPES.keys())
def test_wrong_shapes_are_one_manifest_error(text: str, tmp_path: Path) -> None:
    p = write(tmp_path, text)
    for runtime in (Generator, Classifier):
        with pytest.raises(mf.ManifestError) as e:
            runtime(p)
        assert "\n" not in str(e.value)


def test_a_binary_file_is_one_manifest_error(tmp_path: Path) -> None:
    p = tmp_path / "manifest.json"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(mf.ManifestError, match="not valid JSON"):
        mf.load(p)


@pytest.mark.parametrize("field", ["image_size", "classes", "sampler", "inputs", "null_class"])
def test_a_generator_entry_without_a_field_names_it(field: str, tmp_path: Path) -> None:
    p = shipped_with(tmp_path, lambda m: m["models"]["generator"].pop(field))
    with pytest.raises(mf.ManifestError, match=f"lacks '{field}'"):
        Generator(p)


def test_unusable_sampler_defaults_are_a_manifest_error(tmp_path: Path) -> None:
    p = shipped_with(tmp_path, lambda m: m["models"]["generator"]["sampler"].update(shift=0))
    with pytest.raises(mf.ManifestError, match="default sampler settings"):
        Generator(p)


def test_a_classifier_entry_without_a_field_names_it(tmp_path: Path) -> None:
    p = shipped_with(tmp_path, lambda m: m["models"]["classifier"].pop("outputs"))
    with pytest.raises(mf.ManifestError, match="lacks 'outputs'"):
        Classifier(p)


@pytest.mark.parametrize("text", ["[]", "null", HEAD + '"models": {"generator": {}}}'])
def test_cli_prints_one_line(text: str, tmp_path: Path, cli: Cli) -> None:
    write(tmp_path, text)
    r = cli("generate", "-b", "Bengal", "-n", "1", "--model-dir", str(tmp_path),
            "-o", str(tmp_path / "cats.png"))
    assert r.code == 2 and r.err.startswith("error: ") and r.err.strip().count("\n") == 0, r.err
    assert "Traceback" not in r.err and not (tmp_path / "cats.png").exists()

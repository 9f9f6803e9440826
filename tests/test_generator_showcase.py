"""The breed and seed the web app's Generate page opens on live in the manifest
(``tinycats export showcase``), checked against the model's classes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tinycats.export.generator_onnx import set_showcase
from tinycats.export.onnx_common import ExportError
from tinycats.paths import shipped_models_dir


def test_showcase_is_written_to_the_generator_entry_and_checked(tmp_path: Path) -> None:
    man = tmp_path / "manifest.json"
    shutil.copy(shipped_models_dir() / "manifest.json", man)
    set_showcase(man, "siamese", 7)
    assert json.loads(man.read_text())["models"]["generator"]["showcase"] == {
        "class": "siamese", "seed": 7}
    with pytest.raises(ExportError, match="no class 'tabby'"):
        set_showcase(man, "tabby", 1)
    with pytest.raises(ExportError, match="no class 'null'"):
        set_showcase(man, "null", 1)  # the unconditional row is not a breed to show
    with pytest.raises(ExportError, match="seed"):
        set_showcase(man, "siamese", 2**32)
    assert json.loads(man.read_text())["models"]["generator"]["showcase"]["seed"] == 7

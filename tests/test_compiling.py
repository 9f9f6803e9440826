"""training/compiling.py: torch.compile only when asked for and usable (CPU: a C++ compiler)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tinycats.training import compiling


def test_off_means_the_eager_model() -> None:
    m = nn.Linear(2, 2)
    assert compiling.maybe_compile(m, False, torch.device("cpu")) is m


def test_cpu_without_a_compiler_falls_back_with_a_message(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(compiling.shutil, "which", lambda name: None)
    messages: list[str] = []
    m = nn.Linear(2, 2)
    assert compiling.maybe_compile(m, True, torch.device("cpu"), log=messages.append) is m
    assert len(messages) == 1 and "C++ compiler" in messages[0]


def test_compiles_when_a_compiler_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiling.shutil, "which", lambda name: f"/usr/bin/{name}")
    messages: list[str] = []
    m = nn.Linear(2, 2)
    out = compiling.maybe_compile(m, True, torch.device("cpu"), log=messages.append)
    # torch.compile wraps lazily (nothing is generated until the first call), so this is cheap.
    assert out is not m and getattr(out, "_orig_mod", None) is m
    assert messages == []

"""training/precision.py: bf16 autocast where it pays, fp32 (with a message) where it does not."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tinycats.training import precision


def test_cuda_follows_its_switch() -> None:
    cuda = torch.device("cuda")
    assert precision.use_bf16(cuda, cuda=True, cpu=False)
    assert not precision.use_bf16(cuda, cuda=False, cpu=True)


def test_cpu_bf16_only_when_asked_and_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    messages: list[str] = []
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    assert not precision.use_bf16(cpu, cuda=True, cpu=False, log=messages.append)
    assert precision.use_bf16(cpu, cuda=False, cpu=True, log=messages.append)
    assert messages == []
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    assert not precision.use_bf16(cpu, cuda=True, cpu=True, log=messages.append)
    assert len(messages) == 1 and "fp32" in messages[0]


def test_cpu_flag_detection_reads_cpuinfo() -> None:
    # Whatever this machine is, the answer must agree with /proc/cpuinfo's flags.
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    expected = "avx512_bf16" in flags or "amx_bf16" in flags
    assert precision.cpu_has_bf16() == expected

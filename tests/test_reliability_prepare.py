"""A killed `data prepare` leaves nothing behind: its decoding workers die with it, and the next
run removes the temporary build folder it left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tinycats.data import cache

Cli = Callable[..., Any]
SIZE = 32


def test_the_next_prepare_removes_stale_builds(data_root: Path, cli: Cli) -> None:
    r = cli("data", "prepare", "--size", str(SIZE))
    assert r.code == 0, r.err
    src = data_root / "cache" / "oxford"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = [src / f"s{SIZE}.tmp", src / f"s{SIZE}.tmp-{int(dead.stdout)}"]
    live = src / f"s{SIZE}.tmp-{os.getpid()}"  # a build this (running) process owns
    other = src / f"faces-m1.8-s{SIZE}.tmp"  # not a prepare build: not ours to remove
    for d in (*stale, live, other):
        d.mkdir()
        (d / "images.npy").write_bytes(bytes(1000))
    r = cli("data", "prepare", "--size", str(SIZE))
    assert r.code == 0, r.err
    for d in stale:
        assert not d.exists()
        assert f"removed {d}" in r.out.replace("\n", "")
    assert "unfinished build" in r.out
    assert live.exists() and other.exists()
    assert (src / f"s{SIZE}" / "images.npy").exists()  # the good cache is untouched


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent's reaping is left


PARENT = textwrap.dedent("""
    import time
    from tinycats.data.cache import decode_pool

    pool = decode_pool(2)
    for f in [pool.submit(time.sleep, 0) for _ in range(2)]:
        f.result()
    print("ready", flush=True)
    time.sleep(120)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_decoding_workers_die_with_a_killed_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    workers: list[int] = []
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
        workers = [p for p in _children(parent.pid) if _running(p)]
        assert len(workers) >= 2  # the two workers (and multiprocessing's resource tracker)
        parent.send_signal(signal.SIGKILL)  # no cleanup code runs
        parent.wait(10)
        deadline = time.monotonic() + 10
        while any(_running(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in workers if _running(p)]
    finally:
        parent.kill()
        for p in workers:  # an orphan left by a failure above: ours to end
            if _running(p):
                os.kill(p, signal.SIGKILL)


def test_the_pool_still_decodes(tmp_path: Path) -> None:
    with cache.decode_pool(2) as pool:
        assert sorted(pool.map(abs, [-1, -2, 3])) == [1, 2, 3]

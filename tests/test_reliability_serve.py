"""`tinycats serve` under load and abuse: a burst of 200 concurrent requests, malformed
requests, clients that hang up or say nothing, a port out of range. A real server on 127.0.0.1
in a thread, real sockets; every wait is bounded. Latency is measured by `tinycats bench serve`,
never asserted here."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tinycats import serve
from tinycats.serve import AppServer, ServeError, load_test, make_server, serve_in_thread, serving

Cli = Callable[..., Any]


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>tinycats</title>")
    return root


@pytest.fixture()
def server(site: Path) -> Iterator[AppServer]:
    with serving(site) as srv:
        yield srv


def address(srv: AppServer) -> tuple[str, int]:
    host, port = srv.server_address[:2]
    return str(host), int(port)


def raw(srv: AppServer, data: bytes) -> bytes:
    """Send ``data`` as it is and read the whole reply (the server closes after it)."""
    with socket.create_connection(address(srv), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def handlers_running() -> bool:
    return any("process_request_thread" in t.name for t in threading.enumerate())


def test_a_burst_of_200_concurrent_requests_is_answered(server: AppServer) -> None:
    assert server.request_queue_size >= 256
    host, port = address(server)
    res = load_test(f"http://{host}:{port}/", requests=200, concurrency=200, timeout=5.0)
    assert res.statuses == [200] * 200
    assert all(res.isolated)


@pytest.mark.parametrize("request_line", [b"GARBAGE", b"GET / FOO/1.0", b"GET / HTTP/2.0",
                                          b"GET / HTTP/1.1 extra", b"BREW / HTTP/1.1"])
def test_error_replies_carry_the_isolation_headers(server: AppServer,
                                                   request_line: bytes) -> None:
    reply = raw(server, request_line + b"\r\n\r\n")
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert head.startswith("http/1.") and head.split()[1][0] in "45", head
    assert "cross-origin-opener-policy: same-origin" in head
    assert "cross-origin-embedder-policy: require-corp" in head


def test_a_client_that_hangs_up_leaves_no_traceback(site: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (site / "big.bin").write_bytes(bytes(32 << 20))  # more than the socket buffers hold
    srv = make_server(site, "127.0.0.1", 0, quiet=True)
    serve_in_thread(srv)
    try:
        for _ in range(3):
            s = socket.create_connection(address(srv), timeout=5)
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(1024)
            # close with a reset: the server's next writes fail with EPIPE / ECONNRESET
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        deadline = time.monotonic() + 10
        while handlers_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not handlers_running()
    finally:
        srv.shutdown()
        srv.server_close()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err


def test_other_handler_errors_are_still_reported(server: AppServer,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise RuntimeError("a real bug")
    except RuntimeError:
        server.handle_error(None, ("127.0.0.1", 1))
    assert "a real bug" in capsys.readouterr().err


def test_a_silent_client_is_dropped(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve.AppRequestHandler, "timeout", 0.5)
    srv = make_server(site, "127.0.0.1", 0, quiet=True)
    serve_in_thread(srv)
    try:
        with socket.create_connection(address(srv), timeout=5) as s:
            t0 = time.monotonic()
            assert s.recv(1024) == b""  # closed by the server, not by our 5 s timeout
            assert time.monotonic() - t0 < 4
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("port", [70000, -1])
def test_a_port_out_of_range_is_one_line(site: Path, port: int, cli: Cli) -> None:
    with pytest.raises(ServeError, match="out of range"):
        make_server(site, "127.0.0.1", port)
    r = cli("serve", "--dir", str(site), "--port", str(port))
    assert r.code == 2 and r.err.startswith("error: ") and r.err.strip().count("\n") == 0, r.err


def test_bench_serve_prints_the_p99(cli: Cli) -> None:
    r = cli("bench", "serve", "--requests", "40", "--concurrency", "20")
    assert r.code == 0, r.err
    assert "p99 ms" in r.out and "40/40" in r.out

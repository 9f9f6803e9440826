"""tinycats serve: a real server on 127.0.0.1, real HTTP requests."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinycats.serve import ServeError, make_server, server_url, serving


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "index.html").write_text("<!doctype html><title>tinycats</title>")
    (root / "assets" / "app-1234.js").write_text("export const x = 1;")
    (root / "assets" / "worker.mjs").write_text("self.onmessage = () => {};")
    (root / "assets" / "ort.wasm").write_bytes(b"\x00asm\x01\x00\x00\x00")
    (root / "models" / "tiny.onnx").write_bytes(b"\x08\x07onnx")
    (root / "models" / "manifest.json").write_text('{"format": "tinycats-manifest"}')
    (root / ".secret").write_text("dot-files are never served")
    (tmp_path / "outside.txt").write_text("outside the served folder")
    (root / "escape").symlink_to(tmp_path / "outside.txt")
    return root


@pytest.fixture()
def server(site: Path) -> Iterator[tuple[str, int]]:
    with serving(site) as srv:
        host, port = srv.server_address[:2]
        yield str(host), int(port)


def get(server: tuple[str, int], path: str, method: str = "GET",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*server, timeout=10)
    try:
        # skip_host etc. are not needed; putrequest keeps the raw path (no normalisation)
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_index_and_isolation_headers(server: tuple[str, int]) -> None:
    status, h, body = get(server, "/")
    assert status == 200
    assert b"tinycats" in body
    assert h["content-type"].startswith("text/html")
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-embedder-policy"] == "require-corp"
    assert h["cross-origin-resource-policy"] == "same-origin"
    assert h["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("path", "mime"), [
    ("/assets/ort.wasm", "application/wasm"),
    ("/assets/worker.mjs", "text/javascript"),
    ("/assets/app-1234.js", "text/javascript"),
    ("/models/tiny.onnx", "application/octet-stream"),
    ("/models/manifest.json", "application/json"),
])
def test_mime_types_and_headers_on_every_file(server: tuple[str, int], path: str,
                                              mime: str) -> None:
    status, h, body = get(server, path)
    assert status == 200
    assert h["content-type"].split(";")[0] == mime
    assert h["cross-origin-embedder-policy"] == "require-corp"
    assert int(h["content-length"]) == len(body) > 0


def test_head_and_query_string(server: tuple[str, int]) -> None:
    status, h, body = get(server, "/models/tiny.onnx?sha=abc", method="HEAD")
    assert status == 200 and body == b"" and h["content-length"] == "6"


def test_not_modified(server: tuple[str, int]) -> None:
    _, h, _ = get(server, "/assets/ort.wasm")
    status, h2, _ = get(server, "/assets/ort.wasm", headers={"If-Modified-Since":
                                                            h["last-modified"]})
    assert status == 304
    assert h2["cross-origin-opener-policy"] == "same-origin"


@pytest.mark.parametrize("path", [
    "/../outside.txt",
    "/assets/../../outside.txt",
    "/%2e%2e/outside.txt",
    "/assets/%2e%2e/%2e%2e/outside.txt",
    "/..%2foutside.txt",
    "/%2e%2e%2foutside.txt",
    "/assets/..%5c..%5coutside.txt",
    "/escape",
    "/.secret",
    "/%2esecret",
    "/index.html%00.png",
    "/%ff%fe",
    "/missing.js",
])
def test_no_traversal_or_hidden_files(server: tuple[str, int], path: str) -> None:
    status, h, body = get(server, path)
    assert status == 404, (path, status)
    assert b"outside the served folder" not in body
    assert b"dot-files" not in body
    assert h["cross-origin-embedder-policy"] == "require-corp"


@pytest.mark.parametrize("path", ["/assets/", "/assets", "/models/"])
def test_no_directory_listing(server: tuple[str, int], path: str) -> None:
    status, _, body = get(server, path)
    assert status == 404
    assert b"app-1234.js" not in body and b"tiny.onnx" not in body


def test_refuses_a_folder_without_a_build(tmp_path: Path) -> None:
    with pytest.raises(ServeError, match="build the web app first"):
        make_server(tmp_path, "127.0.0.1", 0)


def test_port_in_use_is_a_clear_error(site: Path) -> None:
    first = make_server(site, "127.0.0.1", 0, quiet=True)
    try:
        with pytest.raises(ServeError, match="cannot listen"):
            make_server(site, "127.0.0.1", int(first.server_address[1]), quiet=True)
    finally:
        first.server_close()


def test_server_url(site: Path) -> None:
    srv = make_server(site, "127.0.0.1", 0, quiet=True)
    try:
        assert server_url(srv) == f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.server_close()


def test_cli_prints_the_url_and_serves(site: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinycats", "serve", "--dir", str(site), "--port", "0", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "http://" in line or not line:
                break
        assert "http://127.0.0.1:" in line, line
        url = line[line.index("http://"):].split()[0]
        host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        status, h, _ = get((host, int(port)), "/")
        assert status == 200 and h["cross-origin-opener-policy"] == "same-origin"
    finally:
        proc.terminate()
        proc.wait(timeout=10)

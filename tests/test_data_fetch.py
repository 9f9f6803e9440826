"""`tinycats data fetch` against a real HTTP server on 127.0.0.1, and `--from` ingestion.

The server serves small archives built here from the committed fixtures, laid out like the
official ones (images.tar.gz -> images/, annotations.tar.gz -> annotations/), and can be told to
cut the connection mid-body, serve wrong bytes, ignore Range, or answer 404/500.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tinycats.data import fetch as fetch_mod
from tinycats.data.download import ChecksumError, DownloadError, RemoteFile, download
from tinycats.data.fetch import ArchiveError, UnsafeArchiveError, fetch, ingest
from tinycats.data.sources import load_registry
from tinycats.errors import TinycatsError

# ----------------------------------------------------------------------------- the test server


@dataclass
class Behaviour:
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> bytes, first request only
    status: dict[str, int] = field(default_factory=dict)  # path -> forced HTTP status
    wrong_bytes: set[str] = field(default_factory=set)
    ignore_range: bool = False


class Server:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.behaviour = Behaviour()
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                path = self.path.rsplit("/", 1)[-1]
                rng = self.headers.get("Range")
                server.requests.append((path, rng))
                b = server.behaviour
                if path in b.status:
                    self.send_error(b.status[path])
                    return
                if path not in server.files:
                    self.send_error(404)
                    return
                body = server.files[path]
                if path in b.wrong_bytes:
                    body = bytes(x ^ 0xFF for x in body[:1000]) + body[1000:]
                start = 0
                if rng and not b.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut = b.cut_after.pop(path, None)
                if cut is not None:
                    # Promise the whole body, send part of it, and hang up.
                    self.wfile.write(body[start:start + cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/pets/data/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    def ranges(self, path: str) -> list[str | None]:
        return [r for p, r in self.requests if p == path]


def _tar_gz(members: dict[str, Path]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for arcname, p in members.items():
            tf.add(p, arcname=arcname, recursive=False)
    return buf.getvalue()


@pytest.fixture(scope="session")
def archives(oxford_mini: Path) -> dict[str, bytes]:
    """images.tar.gz and annotations.tar.gz of the mini set, in the official layout."""
    images = {"images": oxford_mini / "images"} | {
        f"images/{p.name}": p for p in sorted((oxford_mini / "images").iterdir())}
    ann = {"annotations": oxford_mini / "annotations"} | {
        f"annotations/{p.name}": p for p in sorted((oxford_mini / "annotations").iterdir())}
    return {"images.tar.gz": _tar_gz(images), "annotations.tar.gz": _tar_gz(ann)}


def _remote(archives: dict[str, bytes]) -> tuple[RemoteFile, ...]:
    # The real md5s are replaced by those of the test archives; sizes too, for the early check.
    return tuple(RemoteFile(n, hashlib.md5(b).hexdigest(), len(b)) for n, b in archives.items())


@pytest.fixture
def server(archives: dict[str, bytes]) -> Iterator[Server]:
    s = Server(dict(archives))
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _fetch(root: Path, server: Server, archives: dict[str, bytes], **kw: object) -> object:
    kw.setdefault("backoff_s", 0.0)
    return fetch(root, server.url, files=_remote(archives), **kw)  # type: ignore[arg-type]


def _nothing_left(root: Path) -> None:
    leftovers = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers
    assert "oxford" not in load_registry(root)


# ----------------------------------------------------------------------------- download + fetch


def test_full_download_extracts_and_registers(tmp_path: Path, server: Server,
                                               archives: dict[str, bytes]) -> None:
    root = tmp_path / "data"
    res = fetch(root, server.url, files=_remote(archives))
    assert res.images == 64 and not res.in_place
    reg = load_registry(root)["oxford"]
    assert Path(reg.path) == root / "oxford-iiit-pet" and reg.kind == "oxford"
    assert (root / "oxford-iiit-pet" / "annotations" / "trainval.txt").exists()
    assert server.ranges("images.tar.gz") == [None]
    # Archives are removed after extraction; no .part or temp folder remains.
    assert not (root / "downloads").exists()
    assert sorted(p.name for p in root.iterdir()) == ["oxford-iiit-pet", "sources.json"]
    # A second run finds it fetched and downloads nothing.
    n = len(server.requests)
    again = fetch(root, server.url, files=_remote(archives))
    assert "already fetched" in again.notes[0] and len(server.requests) == n


def test_resume_after_cut_connection_within_one_run(tmp_path: Path, server: Server,
                                                    archives: dict[str, bytes]) -> None:
    server.behaviour.cut_after["images.tar.gz"] = 50_000
    root = tmp_path / "data"
    _fetch(root, server, archives, keep_archives=True)
    assert server.ranges("images.tar.gz") == [None, "bytes=50000-"]
    got = (root / "downloads" / "images.tar.gz").read_bytes()
    assert got == archives["images.tar.gz"]
    assert not (root / "downloads" / "images.tar.gz.part").exists()


def test_resume_on_the_next_run_keeps_the_part_file(tmp_path: Path, server: Server,
                                                    archives: dict[str, bytes]) -> None:
    server.behaviour.cut_after["images.tar.gz"] = 50_000
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        _fetch(root, server, archives, retries=0)
    part = root / "downloads" / "images.tar.gz.part"
    assert part.stat().st_size == 50_000
    assert not (root / "downloads" / "images.tar.gz").exists()  # never a half file under the name
    assert "oxford" not in load_registry(root)

    res = _fetch(root, server, archives, retries=0)
    assert server.ranges("images.tar.gz") == [None, "bytes=50000-"]
    assert res.images == 64 and not part.exists()


def test_server_ignoring_range_restarts_cleanly(tmp_path: Path, server: Server,
                                                archives: dict[str, bytes]) -> None:
    server.behaviour.cut_after["images.tar.gz"] = 50_000
    server.behaviour.ignore_range = True
    data = archives["images.tar.gz"]
    f = _remote(archives)[0]
    dest = tmp_path / "images.tar.gz"
    download(server.url + "images.tar.gz", dest, f.md5, size=f.size, backoff_s=0)
    assert dest.read_bytes() == data
    assert server.ranges("images.tar.gz") == [None, "bytes=50000-"]


def test_checksum_mismatch_is_clear_and_leaves_nothing(tmp_path: Path, server: Server,
                                                       archives: dict[str, bytes]) -> None:
    server.behaviour.wrong_bytes.add("images.tar.gz")
    root = tmp_path / "data"
    with pytest.raises(ChecksumError, match=r"md5 mismatch for images\.tar\.gz.*deleted"):
        _fetch(root, server, archives)
    _nothing_left(root)


def test_checksum_mismatch_after_resume_leaves_nothing(tmp_path: Path, server: Server,
                                                       archives: dict[str, bytes]) -> None:
    # The first part is right, the resumed rest is wrong: the md5 still catches it.
    server.behaviour.cut_after["images.tar.gz"] = 2_000
    root = tmp_path / "data"
    with pytest.raises(DownloadError):
        _fetch(root, server, archives, retries=0)
    server.files["images.tar.gz"] = archives["images.tar.gz"][:3000] + bytes(
        len(archives["images.tar.gz"]) - 3000)
    with pytest.raises(ChecksumError):
        _fetch(root, server, archives, retries=0)
    _nothing_left(root)


@pytest.mark.parametrize("status", [404, 403])
def test_client_errors_fail_at_once(tmp_path: Path, server: Server, archives: dict[str, bytes],
                                    status: int) -> None:
    server.behaviour.status["images.tar.gz"] = status
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=f"server answered {status}"):
        _fetch(root, server, archives)
    assert len(server.ranges("images.tar.gz")) == 1  # a 4xx is not retried
    _nothing_left(root)


def test_server_errors_are_retried_then_reported(tmp_path: Path, server: Server,
                                                 archives: dict[str, bytes]) -> None:
    server.behaviour.status["images.tar.gz"] = 500
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"failed after 3 attempts: server error 500"):
        _fetch(root, server, archives, retries=2)
    assert len(server.ranges("images.tar.gz")) == 3
    _nothing_left(root)


def test_unreachable_server_is_one_clear_error(tmp_path: Path, archives: dict[str, bytes]) -> None:
    with pytest.raises(DownloadError, match="cannot reach"):
        fetch(tmp_path / "data", "http://127.0.0.1:9/", files=_remote(archives), retries=0)


def test_only_http_urls(tmp_path: Path, archives: dict[str, bytes]) -> None:
    with pytest.raises(DownloadError, match="use --from PATH"):
        fetch(tmp_path / "data", f"file://{tmp_path}/", files=_remote(archives))


def test_wrong_size_is_refused_before_downloading(tmp_path: Path, server: Server,
                                                  archives: dict[str, bytes]) -> None:
    files = (RemoteFile("images.tar.gz", "0" * 32, 123),)
    with pytest.raises(DownloadError, match="expected 123"):
        fetch(tmp_path / "data", server.url, files=files, backoff_s=0)


def test_served_archive_with_path_traversal_is_refused(tmp_path: Path, server: Server,
                                                       oxford_mini: Path) -> None:
    evil = _evil_archive(tmp_path, "traversal")
    server.files["images.tar.gz"] = evil
    files = (RemoteFile("images.tar.gz", hashlib.md5(evil).hexdigest()),)
    root = tmp_path / "data"
    with pytest.raises(UnsafeArchiveError, match="path traversal"):
        fetch(root, server.url, files=files, backoff_s=0)
    assert not (tmp_path / "evil.txt").exists()
    assert not (root / "oxford-iiit-pet").exists()
    assert not (root / ".oxford-iiit-pet.partial").exists()


# ----------------------------------------------------------------------------- tar safety


def _evil_archive(tmp_path: Path, kind: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        def add(name: str, data: bytes = b"x", **attrs: object) -> None:
            ti = tarfile.TarInfo(name)
            ti.size = len(data) if attrs.get("type", tarfile.REGTYPE) == tarfile.REGTYPE else 0
            for k, v in attrs.items():
                setattr(ti, k, v)
            tf.addfile(ti, io.BytesIO(data) if ti.size else None)

        add("images/ok.jpg")
        if kind == "traversal":
            add("images/../../evil.txt")
        elif kind == "absolute":
            add(str(tmp_path / "evil.txt"))
        elif kind == "symlink_out":
            add("images/link", type=tarfile.SYMTYPE, linkname="../../evil.txt")
        elif kind == "symlink_abs":
            add("images/link", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        elif kind == "hardlink_out":
            add("images/link", type=tarfile.LNKTYPE, linkname="../evil.txt")
        elif kind == "device":
            add("images/dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        elif kind == "fifo":
            add("images/fifo", type=tarfile.FIFOTYPE)
    return buf.getvalue()


@pytest.mark.parametrize("kind, message", [
    ("traversal", "path traversal"),
    ("absolute", "absolute path"),
    ("symlink_out", "outside the target"),
    ("symlink_abs", "outside the target"),
    ("hardlink_out", "outside the target"),
    ("device", "device"),
    ("fifo", "device or fifo"),
])
def test_unsafe_archives_are_refused(tmp_path: Path, kind: str, message: str) -> None:
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_evil_archive(tmp_path, kind))
    root = tmp_path / "data"
    with pytest.raises(UnsafeArchiveError, match=message):
        ingest(root, [archive])
    assert not (tmp_path / "evil.txt").exists()
    assert not (root / "oxford-iiit-pet").exists()
    assert not (root / ".oxford-iiit-pet.partial").exists()
    assert "oxford" not in load_registry(root)


def test_links_inside_the_archive_are_fine(tmp_path: Path, oxford_mini: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for p in sorted(oxford_mini.rglob("*")):
            tf.add(p, arcname=p.relative_to(oxford_mini).as_posix(), recursive=False)
        ti = tarfile.TarInfo("images/alias.jpg")
        ti.type, ti.linkname = tarfile.SYMTYPE, "Bengal_1.jpg"
        tf.addfile(ti)
    archive = tmp_path / "pets.tar.gz"
    archive.write_bytes(buf.getvalue())
    res = ingest(tmp_path / "data", [archive])
    assert (res.path / "images" / "alias.jpg").is_symlink()


# ----------------------------------------------------------------------------- --from


def test_from_extracted_folder_registers_in_place(tmp_path: Path, oxford_mini: Path,
                                                  server: Server,
                                                  archives: dict[str, bytes]) -> None:
    root = tmp_path / "data"
    res = ingest(root, [oxford_mini])
    assert res.in_place and res.path == oxford_mini.resolve() and res.images == 64
    assert "in place" in res.notes[0]
    assert Path(load_registry(root)["oxford"].path) == oxford_mini.resolve()
    assert not (root / "oxford-iiit-pet").exists()  # nothing copied
    # A later plain fetch does not download what is already registered...
    assert "already fetched" in _fetch(root, server, archives).notes[0]
    assert server.requests == []
    # ...unless forced.
    assert _fetch(root, server, archives, force=True).path == root / "oxford-iiit-pet"


def test_from_archives_extracts_like_a_download(tmp_path: Path,
                                                archives: dict[str, bytes]) -> None:
    dl = tmp_path / "dl"
    dl.mkdir()
    for name, b in archives.items():
        (dl / name).write_bytes(b)
    root = tmp_path / "data"
    res = ingest(root, [dl])  # a folder holding the two archives
    assert res.path == root / "oxford-iiit-pet" and res.images == 64
    assert any("not the official archive" in n for n in res.notes)
    assert (dl / "images.tar.gz").exists()  # the user's archives are left alone


def test_from_a_single_archive_with_a_top_folder(tmp_path: Path, oxford_mini: Path) -> None:
    archive = tmp_path / "pets.tgz"
    archive.write_bytes(_tar_gz({f"pets/{p.relative_to(oxford_mini).as_posix()}": p
                                 for p in sorted(oxford_mini.rglob("*"))}))
    res = ingest(tmp_path / "data", [archive])
    assert res.images == 64 and (res.path / "annotations" / "test.txt").exists()


def test_from_incomplete_archive_names_whats_missing(tmp_path: Path,
                                                     archives: dict[str, bytes]) -> None:
    archive = tmp_path / "images.tar.gz"
    archive.write_bytes(archives["images.tar.gz"])
    root = tmp_path / "data"
    with pytest.raises(ArchiveError, match=r"annotations/trainval\.txt"):
        ingest(root, [archive])
    assert not (root / "oxford-iiit-pet").exists()


def test_from_a_broken_archive(tmp_path: Path, archives: dict[str, bytes]) -> None:
    bad = tmp_path / "images.tar.gz"
    bad.write_bytes(archives["images.tar.gz"][:5000])
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        ingest(tmp_path / "data", [bad])
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"hello")
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        ingest(tmp_path / "data", [junk])


def test_from_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(TinycatsError, match="no such file"):
        ingest(tmp_path / "data", [tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TinycatsError, match="does not look like"):
        ingest(tmp_path / "data", [tmp_path / "empty"])
    (tmp_path / "x.zip").write_bytes(b"zip")
    with pytest.raises(TinycatsError, match="expected a folder or"):
        ingest(tmp_path / "data", [tmp_path / "x.zip"])


# ----------------------------------------------------------------------------- the CLI


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tinycats", *args], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "120", **(env or {})},
                          timeout=60)


def test_cli_fetch_from_local_server_with_env_url(tmp_path: Path, server: Server,
                                                  archives: dict[str, bytes], cli: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fetch_mod.URL_ENV, server.url)
    md5s = [f"--md5={f.name}={f.md5}" for f in _remote(archives)]
    r = cli("data", "fetch", "--data-dir", str(tmp_path / "data"), *md5s)
    assert r.code == 0, r.err
    assert server.url in r.out and "64 images" in r.out
    assert load_registry(tmp_path / "data")["oxford"].kind == "oxford"
    r = cli("data", "fetch", "--data-dir", str(tmp_path / "data"), *md5s)
    assert r.code == 0 and "already fetched" in r.out


def test_cli_fetch_checksum_error_is_one_line(tmp_path: Path, server: Server) -> None:
    # An md5 given on the command line drops the official size check, so the bytes get fetched.
    r = _cli("data", "fetch", "--data-dir", str(tmp_path / "data"), "--base-url", server.url,
             "--retries", "0", "--md5", "images.tar.gz=" + "0" * 32)
    assert r.returncode == 2
    # (rich may wrap the message at the terminal width; it is still one message, no traceback)
    assert "\nerror: md5 mismatch for images.tar.gz" in r.stderr
    assert r.stderr.count("error:") == 1 and "Traceback" not in r.stderr


def test_cli_from_folder_says_in_place(tmp_path: Path, oxford_mini: Path, cli: Any) -> None:
    r = cli("data", "fetch", "--data-dir", str(tmp_path / "data"), "--from", str(oxford_mini))
    assert r.code == 0, r.err
    assert "in place" in r.out


def test_cli_bad_md5_option(tmp_path: Path, cli: Any) -> None:
    r = cli("data", "fetch", "--data-dir", str(tmp_path / "data"), "--md5", "x=1")
    assert r.code == 2 and "expected NAME=32-hex-digits" in r.err

"""A small static server for the built web app (``tinycats serve``).

What a plain ``python -m http.server`` lacks for this app:

- Cross-origin isolation headers (``Cross-Origin-Opener-Policy: same-origin``,
  ``Cross-Origin-Embedder-Policy: require-corp``, plus ``Cross-Origin-Resource-Policy``), without
  which ONNX Runtime Web silently runs on one thread.
- Correct MIME types for ``.wasm`` (streaming compilation needs ``application/wasm``), ``.mjs``
  (module workers are refused unless served as JavaScript) and ``.onnx``.
- No directory listings, no path traversal (``..``, encoded or not, and symlinks that lead out
  of the folder), no dot-files: anything outside the built app answers 404.
- Load: a thread per connection, a listen backlog of 256 (the default 5 makes a page's burst of
  requests wait on SYN retries), a timeout per connection (a client that connects and sends
  nothing does not hold a thread forever), and silence when a client hangs up mid-reply.
  ``load_test`` measures it (``tinycats bench serve``).

The web app an installed wheel carries has no ``models/`` folder of its own (the package keeps
the models once, in its ``web/public/models``): for that folder ``/models/`` is served from the
package's models (``paths.bundled_app_models``).

Only for local use: it binds 127.0.0.1 by default and has no TLS.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tinycats.errors import TinycatsError

#: Headers every response carries (the page, the workers, the wasm, the models).
ISOLATION_HEADERS: dict[str, str] = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

MIME_TYPES: dict[str, str] = {
    "": "application/octet-stream",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".data": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}


class ServeError(TinycatsError):
    pass


#: Seconds a connection may stay silent (while sending its request, or not reading the reply).
CONNECTION_TIMEOUT_S = 30.0
MAX_PORT = 65535


class AppRequestHandler(SimpleHTTPRequestHandler):
    """Serves one folder: files only, safe paths, isolation headers, explicit MIME types."""

    extensions_map = MIME_TYPES  # type: ignore[assignment]
    server_version = "tinycats-serve"
    sys_version = ""
    quiet = False
    timeout = CONNECTION_TIMEOUT_S
    # The base class starts each request as HTTP/0.9, and for 0.9 it writes no status line and
    # no headers: so a request line too broken to name its version (the 400 for "GARBAGE")
    # would be answered without the isolation headers. Every reply here is HTTP/1.0 or later.
    default_request_version = "HTTP/1.0"

    #: a folder served at /models/ in place of the app's own (the installed wheel's app)
    models_dir: str | None = None

    def __init__(self, *args: Any, directory: str, **kwargs: Any) -> None:
        self.root = os.path.realpath(directory)
        super().__init__(*args, directory=self.root, **kwargs)

    # --- paths -----------------------------------------------------------------------------
    def resolve(self, url_path: str) -> str | None:
        """Absolute file path for a URL path, or None when it must not be served."""
        path = url_path.split("?", 1)[0].split("#", 1)[0]
        try:
            path = urllib.parse.unquote(path, errors="strict")
        except UnicodeDecodeError:
            return None
        if "\x00" in path or "\\" in path:
            return None
        parts = [p for p in path.split("/") if p]
        if any(p == ".." or p.startswith(".") for p in parts):
            return None
        base = self.root
        if self.models_dir is not None and parts[:1] == ["models"]:
            base, parts = os.path.realpath(self.models_dir), parts[1:]
        full = os.path.realpath(os.path.join(base, *parts))
        if full != base and not full.startswith(base + os.sep):
            return None  # a symlink that leads out of the folder
        if os.path.isdir(full):
            index = os.path.join(full, "index.html")
            return index if os.path.isfile(index) else None
        return full if os.path.isfile(full) else None

    def translate_path(self, path: str) -> str:
        resolved = self.resolve(path)
        # a path that cannot exist: send_head then answers 404
        return resolved if resolved is not None else os.path.join(self.root, "\x00missing")

    def send_head(self) -> Any:
        url_path = urllib.parse.urlsplit(self.path).path
        if self.resolve(url_path) is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        # translate_path maps a folder to its index.html, so the base class never redirects
        # or lists: it opens the file, answers 304 to a matching If-Modified-Since, or 200
        return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "Not found")
        return None

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        ext = os.path.splitext(str(path))[1].lower()
        return MIME_TYPES.get(ext, "application/octet-stream")

    # --- headers and logging ---------------------------------------------------------------
    def end_headers(self) -> None:
        for k, v in ISOLATION_HEADERS.items():
            self.send_header(k, v)
        # revalidate everything (Last-Modified / If-Modified-Since give cheap 304s); the app
        # keeps the models in the Cache API itself, keyed by their sha256
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


#: A client that goes away mid-reply (a closed tab, a cancelled fetch): its business, not an
#: error of the server's, so no traceback.
HANGUPS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class AppServer(ThreadingHTTPServer):
    """A thread per connection, with a real listen backlog (socketserver's default is 5)."""

    request_queue_size = 256
    allow_reuse_address = True
    daemon_threads = True  # Ctrl+C does not wait for a slow client

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], HANGUPS):
            return
        super().handle_error(request, client_address)


def make_server(directory: Path, host: str = "127.0.0.1", port: int = 8000, *,
                quiet: bool = False, models: Path | None = None) -> AppServer:
    """A ready-to-run server for ``directory`` (port 0 picks a free port); ``models``, when
    given, is served at ``/models/`` in place of ``directory/models`` (default: the package's
    models for the installed wheel's web app, else none)."""
    from tinycats.paths import bundled_app_models, checkout_root

    root = Path(directory)
    if not 0 <= port <= MAX_PORT:
        raise ServeError(f"port {port} is out of range: use 1 to {MAX_PORT} (or 0 for a "
                         "free one)")
    if not (root / "index.html").is_file():
        if checkout_root() is None:
            raise ServeError(f"{root} has no index.html: this installed tinycats carries no web "
                             "app (its wheel was built before `make web-build`); give --dir a "
                             "built app")
        raise ServeError(f"{root} has no index.html: build the web app first (make web-build)")

    if models is None:
        models = bundled_app_models(root)
    h_cls: type[AppRequestHandler] = type(
        "Handler", (AppRequestHandler,),
        {"quiet": quiet, "models_dir": None if models is None else str(models)})

    def handler(*args: Any, **kwargs: Any) -> AppRequestHandler:
        return h_cls(*args, directory=str(root), **kwargs)

    try:
        return AppServer((host, port), handler)
    except (OSError, OverflowError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ServeError(f"cannot listen on {host}:{port}: {why}") from e


def server_url(server: AppServer) -> str:
    host, port = server.server_address[:2]
    shown = host if isinstance(host, str) else host.decode()
    if shown in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def serve_forever(server: AppServer,
                  on_ready: Callable[[str], None] | None = None) -> None:
    if on_ready is not None:
        on_ready(server_url(server))
    try:
        server.serve_forever()
    finally:
        server.server_close()


def serve_in_thread(server: AppServer) -> threading.Thread:
    """Start ``server`` in a daemon thread (tests, benchmarks); stop with ``server.shutdown()``."""
    th = threading.Thread(target=server.serve_forever, name="tinycats-serve", daemon=True)
    th.start()
    return th


@contextlib.contextmanager
def serving(root: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[AppServer]:
    """``root`` served from a background thread (port 0: any free one) for the ``with`` block;
    shut down and its socket closed after it, whatever happens inside."""
    srv = make_server(root, host, port, quiet=True)
    serve_in_thread(srv)
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@dataclass
class LoadResult:
    """What ``load_test`` saw: one entry per request."""

    statuses: list[int]  # the HTTP status; 0: no answer (refused, reset, timed out)
    isolated: list[bool]  # the reply carried COOP and COEP
    latencies_s: list[float]
    seconds: float  # wall time for all of them

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the latencies, nearest-rank."""
        xs = sorted(self.latencies_s)
        return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))] if xs else 0.0


def _timed_get(url: str, timeout: float, gate: threading.Event) -> tuple[int, bool, float]:
    gate.wait()
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            status, headers = r.status, r.headers
    except urllib.error.HTTPError as e:
        status, headers = e.code, e.headers
    except (OSError, http.client.HTTPException):
        return 0, False, time.perf_counter() - t0
    isolated = all(headers.get(k) == ISOLATION_HEADERS[k]
                   for k in ("Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy"))
    return status, isolated, time.perf_counter() - t0


def load_test(url: str, requests: int = 200, concurrency: int = 200,
              timeout: float = 5.0) -> LoadResult:
    """GET ``url`` ``requests`` times from ``concurrency`` threads released together (a page
    load's burst, many times over). Bounded: every request gives up after ``timeout`` s."""
    from concurrent.futures import ThreadPoolExecutor

    gate = threading.Event()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(_timed_get, url, timeout, gate) for _ in range(requests)]
        gate.set()
        results = [f.result() for f in futures]
    return LoadResult([r[0] for r in results], [r[1] for r in results],
                      [r[2] for r in results], time.perf_counter() - t0)

"""Web app commands: ``tinycats serve`` (the built app, cross-origin isolated) and
``tinycats bench serve`` (its latency under a burst of requests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from tinycats.cli.common import console, fail
from tinycats.paths import repo_root

DEFAULT_DIR = Path("web/dist")


def serve(
    directory: Annotated[Path, typer.Option("--dir", "-d", help="The built app (npm run build).")
                   ] = DEFAULT_DIR,
    port: Annotated[int, typer.Option("--port", "-p", help="Port (0 picks a free one).")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address to bind; keep 127.0.0.1 unless "
                                      "you mean to share it on your network.")] = "127.0.0.1",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not log requests.")] = False,
) -> None:
    """Serve the built web app with COOP/COEP (multi-threaded WASM) and correct MIME types."""
    from tinycats.serve import make_server, serve_forever

    in_repo = repo_root() / directory
    if not directory.exists() and not directory.is_absolute() and in_repo.exists():
        directory = in_repo
    server = make_server(directory, host, port, quiet=quiet)

    def ready(url: str) -> None:
        console.print(f"tinycats web app: [bold]{url}[/]  (serving {directory}; Ctrl+C stops)",
                      highlight=False)

    serve_forever(server, on_ready=ready)


def bench_serve(
    directory: Annotated[Path | None, typer.Option(
        "--dir", "-d", help="Folder to serve (default: a one-page stand-in, so no build is "
        "needed).", show_default=False)] = None,
    path: Annotated[str, typer.Option(help="URL path every request asks for.")] = "/",
    requests: Annotated[int, typer.Option(help="Requests in all.")] = 1000,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 200,
    timeout: Annotated[float, typer.Option(help="Seconds before a request counts as lost.")
                       ] = 10.0,
) -> None:
    """Latency of ``tinycats serve`` under a burst of concurrent requests (p50/p90/p99)."""
    import platform
    import tempfile

    from rich.table import Table

    from tinycats.serve import load_test, make_server, serve_in_thread, server_url

    if requests < 1 or not 1 <= concurrency <= 1000 or not timeout > 0:
        raise fail("--requests must be >= 1, --concurrency 1 to 1000, --timeout > 0")
    with tempfile.TemporaryDirectory() as tmp:
        if directory is None:
            directory = Path(tmp)
            (directory / "index.html").write_text("<!doctype html><title>tinycats</title>"
                                                  + "<p>cat</p>" * 200)
        server = make_server(directory, "127.0.0.1", 0, quiet=True)
        serve_in_thread(server)
        try:
            res = load_test(server_url(server) + path.lstrip("/"), requests, concurrency,
                            timeout)
        finally:
            server.shutdown()
            server.server_close()
    ok = sum(s == 200 and iso for s, iso in zip(res.statuses, res.isolated, strict=True))
    table = Table(title=f"tinycats serve, {requests} GET {path}, {concurrency} at once, "
                        f"{platform.machine()} ({os.cpu_count()} CPUs)")
    for col in ("200 + COOP/COEP", "p50 ms", "p90 ms", "p99 ms", "max ms", "requests/s"):
        table.add_column(col, justify="right")
    table.add_row(f"{ok}/{requests}", *(f"{res.percentile(q) * 1e3:.1f}"
                                         for q in (0.5, 0.9, 0.99, 1.0)),
                  f"{requests / res.seconds:,.0f}")
    console.print(table)
    if ok < requests:
        raise typer.Exit(1)


def register(*, app: typer.Typer, data: typer.Typer, train: typer.Typer, eval: typer.Typer,
             export: typer.Typer, bench: typer.Typer) -> None:
    app.command("serve")(serve)
    bench.command("serve")(bench_serve)

"""Web app commands: ``tinycats serve`` (the built app, cross-origin isolated)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tinycats.cli.common import console
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


def register(*, app: typer.Typer, data: typer.Typer, train: typer.Typer, eval: typer.Typer,
             export: typer.Typer, bench: typer.Typer) -> None:
    app.command("serve")(serve)

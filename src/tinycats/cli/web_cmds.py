"""Web app commands: ``tinycats serve`` (the built app, cross-origin isolated), ``tinycats bench
serve`` (its latency under a burst of requests) and ``tinycats bench native`` (what the browser
benchmark times, in native onnxruntime: `npm run bench` prints the ratios)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from tinycats.cli import common
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


def bench_native(
    model_dir: Annotated[Path | None, typer.Option(
        help="Folder with manifest.json + ONNX files (default: the shipped models).")] = None,
    only: Annotated[str, typer.Option(help="Comma-separated: classify, generate, upscale.")
                    ] = "classify,generate,upscale",
    threads: Annotated[int, typer.Option(help="onnxruntime intra-op threads.")] = 2,
    classifier_variant: Annotated[str | None, typer.Option(help="Default: the manifest's.")
                                  ] = None,
    generator_variant: Annotated[str | None, typer.Option(help="Default: the manifest's.")
                                 ] = None,
    upscaler_variant: Annotated[str | None, typer.Option(help="Default: the manifest's.")
                                ] = None,
    runs: Annotated[int, typer.Option(help="Timed classifier calls.")] = 100,
    warmup: Annotated[int, typer.Option(help="Untimed classifier calls first.")] = 30,
    gen_runs: Annotated[int, typer.Option(help="Timed cats (and two-stage cats).")] = 5,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures here "
                                                  "('-': print only the JSON).")] = None,
) -> None:
    """The browser benchmark's units (one classify call, one cat at the defaults, one 128 px
    cat), timed in native onnxruntime on this CPU."""
    import json

    from tinycats.paths import shipped_models_dir
    from tinycats.runtime.native_bench import native_figures

    parts = {p.strip() for p in only.split(",") if p.strip()}
    if not parts or parts - {"classify", "generate", "upscale"}:
        raise fail(f"--only takes classify, generate, upscale; got {only!r}")
    if runs < 1 or gen_runs < 1 or warmup < 0 or threads < 1:
        raise fail("--runs, --gen-runs and --threads must be >= 1, --warmup >= 0")
    manifest = (model_dir or shipped_models_dir()) / "manifest.json"
    figs = native_figures(manifest, only=parts, threads=threads, runs=runs, warmup=warmup,
                          gen_runs=gen_runs, variants={"classifier": classifier_variant,
                                                       "generator": generator_variant,
                                                       "upscaler": upscaler_variant})
    if json_out is not None and str(json_out) == "-":
        print(json.dumps(figs))
        return
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(figs, indent=2) + "\n")
    console.print(f"native {figs['runtime']}, {figs['cpu']}, {threads} thread(s)")
    for name in ("classify", "generate", "upscale"):
        if name in figs:
            f = figs[name]
            base = (f"; the generator's stage alone: median {f['baseLatencyMs']['median']:.1f} ms"
                    if "baseLatencyMs" in f else "")
            console.print(f"  {name} ({f['variant']}): median {f['latencyMs']['median']:.1f} ms, "
                          f"p90 {f['latencyMs']['p90']:.1f} ms{base}")


register = common.registrar({
    "app": {"serve": serve},
    "bench": {"serve": bench_serve, "native": bench_native},
})

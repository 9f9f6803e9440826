"""Data commands: ``data fetch``, ``data add``, ``data prepare``, ``data stats``, ``bench data``.

Thin wrappers: the work lives in ``tinycats.data`` (fetch, folders, prepare, bench); this module
only parses options, draws progress bars and tables, and turns outcomes into exit codes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from tinycats.breeds import ANY_CAT, CLASSIFIER_LABELS
from tinycats.cli import common
from tinycats.cli.common import DataDirOpt, console, err_console, resolve_data_dir
from tinycats.errors import TinycatsError

_DISPLAY = {lab.key: lab.display for lab in (*CLASSIFIER_LABELS, ANY_CAT)}

P = ParamSpec("P")
R = TypeVar("R")


def _os_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Permission denied, disk full, read-only folder: the user's to fix, so one clear line
    (via TinycatsError) instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except OSError as e:
            where = f": {e.filename}" if e.filename else ""
            raise TinycatsError(f"{e.strerror or e}{where}") from None

    return wrapper


# ----------------------------------------------------------------------------- fetch


def _parse_md5(items: list[str] | None) -> dict[str, str]:
    out = {}
    for it in items or []:
        name, sep, digest = it.partition("=")
        if not sep or len(digest) != 32:
            raise TinycatsError(f"--md5 {it!r}: expected NAME=32-hex-digits")
        out[name] = digest.lower()
    return out


def fetch_cmd(
    data_dir: DataDirOpt = None,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", envvar="TINYCATS_OXFORD_URL", show_envvar=True,
        help="Where images.tar.gz and annotations.tar.gz are (default: the dataset's home "
             "page, https://www.robots.ox.ac.uk/~vgg/data/pets/data/).")] = None,
    from_: Annotated[list[Path] | None, typer.Option(
        "--from", metavar="PATH",
        help="Use an extracted folder (registered in place, not copied) or "
             "downloaded archives (.tar.gz, or a folder holding them) instead of "
             "downloading. Repeat for several archives.")] = None,
    keep_archives: Annotated[bool, typer.Option(
        "--keep-archives", help="Keep the downloaded .tar.gz files after extracting.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Fetch again even if present.")] = False,
    retries: Annotated[int, typer.Option(help="Retries (each resumes) after a cut connection "
                                              "or a server error.")] = 3,
    md5: Annotated[list[str] | None, typer.Option(
        "--md5", hidden=True, help="NAME=HEX: expect another md5 (tests, mirrors).")] = None,
) -> None:
    """Download the Oxford-IIIT Pet archives (resumable, md5-verified), extract, register."""
    from tinycats.data import fetch as fetch_mod
    from tinycats.data.download import RemoteFile

    root = resolve_data_dir(data_dir)
    with _ByteProgress() as on_progress:
        if from_:
            res = fetch_mod.ingest(root, from_, on_progress=on_progress)
        else:
            overrides = _parse_md5(md5)
            unknown = set(overrides) - {f.name for f in fetch_mod.OXFORD_FILES}
            if unknown:
                raise TinycatsError(f"--md5: unknown file {', '.join(sorted(unknown))}")
            # An overridden md5 means another file than the official one: its size is unknown.
            files = [RemoteFile(f.name, overrides[f.name], None) if f.name in overrides else f
                     for f in fetch_mod.OXFORD_FILES]
            url = fetch_mod.base_url(base_url)
            console.print(f"fetching from {url}", highlight=False)
            res = fetch_mod.fetch(root, url, files=files, on_progress=on_progress,
                                  keep_archives=keep_archives, force=force, retries=retries)
    for note in res.notes:
        console.print(note, highlight=False)
    console.print(f"[bold]oxford[/]: {res.images:,} images at {res.path}; next: "
                  "tinycats data prepare --size 64", highlight=False)


class _ByteProgress:
    """One rich bar per phase (``download images.tar.gz``, ``extract ...``), in bytes."""

    def __enter__(self) -> _ByteProgress:
        self.p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), TimeRemainingColumn(), console=err_console)
        self.tasks: dict[str, TaskID] = {}
        self.p.start()
        return self

    def __call__(self, what: str, done: int, total: int | None) -> None:
        if what not in self.tasks:
            self.tasks[what] = self.p.add_task(what, total=total)
        self.p.update(self.tasks[what], completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        self.p.stop()


# ----------------------------------------------------------------------------- add


def add_cmd(
    folder: Annotated[Path, typer.Argument(help="Folder of images: <Breed>/<image> sub-folders, "
                                                "or flat with --label.", show_default=False)],
    name: Annotated[str | None, typer.Option(help="Source name (default: the folder name).")
                    ] = None,
    label: Annotated[str | None, typer.Option(
        help="One label for every image (flat folder): a breed, 'other' (not a cat) or "
             "'any_cat' (a cat of unknown breed).")] = None,
    max_size: Annotated[int | None, typer.Option(
        "--max-size", help="Use these images only for caches of this size or smaller "
                           "(e.g. 64 for 64x64 crops).")] = None,
    copy: Annotated[bool, typer.Option(
        "--copy/--in-place", help="Copy the images into the data folder, or register the "
                                  "folder where it is (default: in place).")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Register a supplementary folder of labeled images (used for training only)."""
    from tinycats.data.folders import add_folder

    root = resolve_data_dir(data_dir)
    res = add_folder(root, folder, name=name, label=label, max_size=max_size, copy=copy)
    where = (f"copied to {res.copied_to}" if res.copied_to
             else f"registered in place at {res.source.path} (not copied: keep it there)")
    for note in res.notes:
        console.print(note, highlight=False)
    console.print(f"[bold]{res.source.name}[/]: {where}", highlight=False)
    table = Table("label", "image files", title=f"source {res.source.name}")
    for key, n in res.counts.items():
        table.add_row(_DISPLAY.get(key, key), f"{n:,}")
    console.print(table)
    if res.ignored:
        console.print(f"{res.ignored:,} files without an image suffix will be ignored")
    console.print("images are decoded and checked by: tinycats data prepare --size N")


# ----------------------------------------------------------------------------- prepare


def prepare_cmd(
    size: Annotated[list[int], typer.Option(
        "--size", metavar="N",
        help="Image size in pixels (square); repeat for several sizes.")],
    source: Annotated[list[str] | None, typer.Option(
        "--source", metavar="NAME",
        help="Only this registered source (repeatable; default: all).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the cache is current.")
                     ] = False,
    workers: Annotated[int | None, typer.Option(help="Decoding processes (default: up to 4).")
                       ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Decode, validate, split and cache every registered source as uint8 arrays."""
    from tinycats.data.cache import remove_stale_builds
    from tinycats.data.prepare import Outcome, prepare_all, skipped_counts, split_counts
    from tinycats.data.sources import Source

    root = resolve_data_dir(data_dir)
    for folder, nbytes in remove_stale_builds(root):
        console.print(f"removed {folder} ({nbytes / 1e6:,.0f} MB): an unfinished build left by "
                      "an interrupted prepare", highlight=False)
    outcomes: list[tuple[int, Outcome]] = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err_console) as p:
        tasks: dict[str, TaskID] = {}
        for s in size:
            tasks.clear()

            def start(src: Source, _s: int = s) -> None:
                tasks[src.name] = p.add_task(f"{src.name} @ {_s}px", total=None)

            def advance(src: Source, i: int, n: int) -> None:
                p.update(tasks[src.name], completed=i, total=n)

            for o in prepare_all(root, s, source, force=force, workers=workers,
                                 on_start=start, on_progress=advance):
                if o.source.name in tasks:
                    # A reused cache never reports progress: close its bar as done.
                    n = max(1, int(str(o.info.manifest["count"]))) if o.info else 1
                    p.update(tasks[o.source.name], total=n, completed=n,
                             description=f"{o.source.name} @ {s}px ({o.status})")
                outcomes.append((s, o))

    table = Table("source", "size", "cache", "train", "val", "test", "skipped", "time",
                  title="tinycats data prepare")
    failed = False
    for s, o in outcomes:
        if o.info is None:
            style = "red" if o.status == "failed" else "dim"
            failed |= o.status == "failed"
            table.add_row(o.source.name, str(s), f"[{style}]{o.status}[/]", "", "", "",
                          o.note, "")
            continue
        sc = split_counts(o.info.manifest)
        skipped = skipped_counts(o.info.manifest)
        table.add_row(o.source.name, str(s), o.status,
                      f"{sc.get('train', 0):,}", f"{sc.get('val', 0):,}", f"{sc.get('test', 0):,}",
                      ", ".join(f"{r} {n:,}" for r, n in skipped.items()) or "-",
                      f"{o.seconds:.1f}s")
    console.print(table)
    if failed:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- stats


def stats_cmd(
    size: Annotated[int | None, typer.Option(help="Only caches of this size.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Images per label, split and source in the prepared caches, and what was skipped, why."""
    from tinycats.data.prepare import cache_summaries
    from tinycats.data.sources import load_registry

    root = resolve_data_dir(data_dir)
    caches = cache_summaries(root, size)
    reg = load_registry(root)
    if not caches:
        hint = "tinycats data prepare --size 64" if reg else "tinycats data fetch"
        raise TinycatsError(f"no prepared caches in {root}{f' at size {size}' if size else ''};"
                            f" run: {hint}")
    for s in sorted({c.size for c in caches}):
        table = Table("source", "label", "train", "val", "test", "total",
                      title=f"images at {s}px", show_footer=True)
        grand = {"train": 0, "val": 0, "test": 0}
        for c in (c for c in caches if c.size == s):
            counts: dict[str, dict[str, int]] = c.manifest["counts"]
            keys = [k for k in (*_DISPLAY, *sorted(
                {k for per in counts.values() for k in per} - set(_DISPLAY)))
                if any(k in per for per in counts.values())]
            for i, key in enumerate(keys):
                row = [counts.get(sp, {}).get(key, 0) for sp in ("train", "val", "test")]
                for sp, n in zip(("train", "val", "test"), row, strict=True):
                    grand[sp] += n
                table.add_row(c.source if i == 0 else "", _DISPLAY.get(key, key),
                              *(f"{n:,}" for n in row), f"{sum(row):,}",
                              end_section=i == len(keys) - 1)
        table.columns[0].footer = "all"
        for col, sp in zip(table.columns[2:5], ("train", "val", "test"), strict=True):
            col.footer = f"{grand[sp]:,}"
        table.columns[5].footer = f"{sum(grand.values()):,}"
        console.print(table)

    skipped = Table("source", "size", "reason", "count", "examples", title="skipped")
    for c in caches:
        for reason, v in c.manifest.get("skipped", {}).items():
            skipped.add_row(c.source, str(c.size), reason, f"{v['count']:,}",
                            ", ".join(v.get("names", [])[:3]))
        missing = c.manifest.get("notes", {}).get("listed_missing")
        if missing:
            skipped.add_row(c.source, str(c.size), "listed_missing", f"{missing:,}",
                            "in the split lists, not on disk (counted, not an error)")
    if skipped.row_count:
        console.print(skipped)
    prepared = {c.source for c in caches}
    for name in reg:
        if name not in prepared:
            console.print(f"[dim]{name}: registered, no cache{f' at {size}px' if size else ''}"
                          "[/]", highlight=False)


# ----------------------------------------------------------------------------- bench


def bench_data_cmd(
    size: Annotated[int, typer.Option(help="Cache size to read.")] = 64,
    source: Annotated[str, typer.Option(help="Prepared source to read.")] = "oxford",
    batch: Annotated[int, typer.Option(help="Images per batch.")] = 64,
    seconds: Annotated[float, typer.Option(help="Measuring time per stage.")] = 1.0,
    out_size: Annotated[int | None, typer.Option(
        "--out-size", help="Augmentation output size (default: the cache size).")] = None,
    threads: Annotated[int | None, typer.Option(
        help="torch threads (default: torch's own choice). On a busy machine 1 can be "
             "much faster than the default.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Measure images/s for loading the cache (and for augmentation, when available)."""
    from tinycats.data.bench import (
        augment_available,
        bench_augment,
        bench_cache,
        torch_threads,
    )

    root = resolve_data_dir(data_dir)
    used = torch_threads(threads)
    cs, open_s, results = bench_cache(root, source, size, batch=batch, seconds=seconds)
    table = Table("stage", "images/s", "images", "seconds",
                  title=f"{source} @ {size}px: {len(cs.labels):,} images, batch {batch}, "
                        f"torch threads {used or '-'}")
    table.add_row("open cache (mmap)", "", "", f"{open_s * 1000:.1f} ms")
    note = ""
    if not augment_available():
        note = "augmentation: tinycats.data.augment is not there yet; not measured"
    elif used is None:
        note = "augmentation: needs torch (pip install 'tinycats[train]'); not measured"
    elif len(cs.labels):
        results.append(bench_augment(cs, out_size or size, batch=batch, seconds=seconds))
    for r in results:
        table.add_row(r.stage, f"{r.images_per_s:,.0f}", f"{r.images:,}", f"{r.seconds:.2f}")
    console.print(table)
    if note:
        console.print(f"[dim]{note}[/]")


register = common.registrar({
    "data": {"fetch": _os_errors(fetch_cmd), "add": _os_errors(add_cmd),
             "prepare": _os_errors(prepare_cmd), "stats": _os_errors(stats_cmd)},
    "bench": {"data": _os_errors(bench_data_cmd)},
})

"""Download one file over HTTP(S): resumable, md5-verified, placed atomically.

Standard library only (urllib), so ``tinycats data fetch`` needs nothing beyond the package.

How a download proceeds (``download``):
- bytes go to ``<dest>.part``; ``<dest>`` itself appears only after the md5 matched, through one
  ``os.replace``. A file at ``<dest>`` is therefore always complete and verified.
- a ``.part`` left by an interrupted run (Ctrl-C, cut connection) is kept and continued with an
  HTTP ``Range`` request; a server that ignores Range (answers 200) restarts it from zero.
- a cut connection or a 5xx answer is retried a few times (each retry resumes); a 4xx is not.
  When retries run out, the ``.part`` is kept and the error says that running again resumes.
- an md5 mismatch deletes the ``.part``: its bytes are wrong somewhere, so resuming would only
  reproduce the mismatch.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinycats import __version__
from tinycats.errors import TinycatsError

CHUNK = 1 << 20
USER_AGENT = f"tinycats/{__version__} (+python-urllib)"

#: progress(bytes_done, bytes_total_or_None); bytes_done includes bytes resumed from a .part.
ProgressFn = Callable[[int, int | None], None]


class DownloadError(TinycatsError):
    """The file could not be downloaded; the message says what to do next."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the expected md5 (and were deleted)."""


@dataclass(frozen=True)
class RemoteFile:
    name: str  # file name, appended to the base URL
    md5: str
    size: int | None = None  # expected size in bytes, when known: an early, cheap check


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def join_url(base: str, name: str) -> str:
    return base if base.endswith(name) else base.rstrip("/") + "/" + name


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    req = urllib.request.Request(url, headers=headers)
    resp = urllib.request.urlopen(req, timeout=timeout)
    assert isinstance(resp, http.client.HTTPResponse)
    return resp


class _Transient(Exception):
    """An attempt failed in a way a retry (resuming) may fix."""


def _attempt(url: str, part: Path, expected_size: int | None, timeout: float,
             progress: ProgressFn | None) -> None:
    """One HTTP request: continue ``part`` from its current length to the end of the file."""
    offset = part.stat().st_size if part.exists() else 0
    if expected_size is not None and offset > expected_size:
        part.unlink()  # longer than the real file: certainly wrong, start over
        offset = 0
    if expected_size is not None and offset == expected_size:
        return  # complete already; only the md5 check is left
    try:
        resp = _open(url, offset, timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            # Range not satisfiable: the .part claims more than the server has. Start over.
            part.unlink()
            raise _Transient(f"server refused to resume ({e.code}); restarting") from e
        if e.code >= 500:
            raise _Transient(f"server error {e.code} {e.reason} for {url}") from e
        raise DownloadError(f"download failed: server answered {e.code} {e.reason} for {url}"
                            ) from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise _Transient(f"cannot reach {url}: {reason}") from e

    with resp:
        total: int | None = None
        if offset and resp.status == 206:
            m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != offset:
                part.unlink()  # a range we did not ask for: do not splice it in
                raise _Transient("server answered a different byte range; restarting")
            total = int(m.group(3)) if m.group(3) != "*" else None
            mode = "ab"
        else:
            # 200: the whole file (a server that ignores Range also lands here).
            offset = 0
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        if expected_size is not None and total is not None and total != expected_size:
            part.unlink(missing_ok=True)  # bytes of some other file: nothing to resume
            raise DownloadError(
                f"{url} is {total:,} bytes, expected {expected_size:,}: "
                "not the expected file (check the base URL)")
        done = offset
        if progress:
            progress(done, total)
        with open(part, mode) as f:
            while True:
                try:
                    block = resp.read(CHUNK)
                except (http.client.HTTPException, OSError) as e:
                    # Only network reads count as transient; a failed local write (disk full)
                    # propagates as itself.
                    raise _Transient(f"connection lost after {done:,} bytes "
                                     f"({e.__class__.__name__})") from e
                if not block:
                    break
                f.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
            f.flush()
            os.fsync(f.fileno())
        if total is not None and done < total:
            raise _Transient(f"connection closed after {done:,} of {total:,} bytes")


def download(url: str, dest: Path, md5: str, *, size: int | None = None,
             progress: ProgressFn | None = None, retries: int = 3, backoff_s: float = 1.0,
             timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` and verify its md5; returns ``dest``.

    A ``dest`` that exists and verifies is kept as is (a second run does nothing).
    """
    if not url.startswith(("http://", "https://")):
        # urllib would also open file:// and ftp://; --from is the way for local archives.
        raise DownloadError(f"{url}: only http:// and https:// URLs can be downloaded "
                            "(for a local archive use --from PATH)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        if md5_of(dest) == md5:
            return dest
        dest.unlink()  # a stale or foreign file under the final name: fetch it properly
    part = part_path(dest)
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff_s * attempt)
        try:
            _attempt(url, part, size, timeout, progress)
            break
        except _Transient as e:
            last = str(e)
        except BaseException:
            _drop_if_empty(part)
            raise
    else:
        _drop_if_empty(part)
        kept = (f"; {part.stat().st_size:,} bytes kept in {part}, run the same command again "
                "to resume") if part.exists() else ""
        tries = f"{retries + 1} attempt{'s' if retries else ''}"
        raise DownloadError(f"download of {url} failed after {tries}: {last}{kept}")

    got = md5_of(part)
    if got != md5:
        part.unlink()
        raise ChecksumError(
            f"md5 mismatch for {dest.name}: expected {md5}, got {got}; "
            "the download was deleted (run again to retry, or check the base URL)")
    os.replace(part, dest)
    return dest


def _drop_if_empty(part: Path) -> None:
    # An empty .part resumes nothing; leaving it would only look like progress.
    if part.exists() and part.stat().st_size == 0:
        part.unlink()

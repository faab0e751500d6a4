"""Verified downloads: mirrors in order, resume through HTTP Range, retries, checksums.

:func:`fetch` turns a :class:`Source` (a file name, its mirror URLs and the checksum its
publisher gives, if any) into a verified file in ``downloads_dir`` and returns a record of
what was used (URL, size, checksums, time).  The steps:

1. A file already in ``downloads_dir`` (an earlier download, or one a user dropped in by
   hand) is verified and used; a corrupt one is moved aside and fetched again.
2. Otherwise each mirror is tried in order, each up to ``retries`` times with exponential
   back-off.  The body streams into ``<name>.part``; a dropped connection leaves the
   part file, and the next try asks for the rest with ``Range: bytes=<size>-``.
3. The finished part file is verified (md5 or sha256 as published) and renamed onto its
   final name (atomic).  A checksum that stays wrong on every try ends in a clear error.

Where no checksum is published, the sha256 of the first verified download is recorded in
a lock file (JSON, committed with the results) and every later use is checked against it.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import DataError
from ..io import write_json

CHUNK = 1 << 20
USER_AGENT = "mtlbench-downloader/1 (+python urllib)"


class DownloadError(DataError):
    """No mirror gave a verified file; the message names the URLs and the remedy."""


class ChecksumError(DataError):
    """A file's checksum differs from the published (or locked) one."""


class _Retryable(Exception):
    """One try failed in a way another try may fix (connection, truncation, checksum)."""


@dataclass(frozen=True)
class Source:
    """One file of a dataset: where to get it and how to check it.

    ``urls`` are mirrors tried in order.  ``md5`` / ``sha256``: the checksum its publisher
    gives (hex); leave both empty where none is published, and the lock file pins the
    sha256 of the first verified download.
    """

    filename: str
    urls: tuple[str, ...]
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None  # bytes, where published; checked before the checksum
    note: str = ""  # where the URL comes from, shown in errors

    def __post_init__(self):
        if "/" in self.filename or self.filename in ("", ".", ".."):
            raise ValueError(f"Source.filename must be a plain file name, got {self.filename!r}")

    @property
    def published_checksum(self) -> tuple[str, str] | None:
        if self.sha256:
            return "sha256", self.sha256.lower()
        if self.md5:
            return "md5", self.md5.lower()
        return None


@dataclass
class FetchRecord:
    """What was used: the provenance written into the raw stage's manifest."""

    filename: str
    url: str  # the mirror that gave the file, or 'local:<path>' for a file already there
    size: int
    sha256: str
    md5: str
    checksum: str  # 'published md5', 'published sha256', 'lock file' or 'first download (locked)'
    fetched_at: str
    seconds: float
    attempts: list[str] = field(default_factory=list)  # one line per failed try

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def file_digests(path: str | os.PathLike, chunk: int = CHUNK) -> tuple[str, str]:
    """(sha256, md5) of a file in one pass."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


# ---------------------------------------------------------------------------------------
# lock file: sha256 pinned at first verified download where nothing is published


def _lock_guard(lock_path: Path):
    from filelock import FileLock

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # parallel download jobs (one per dataset) share one lock file
    return FileLock(str(lock_path) + ".lock", timeout=120)


def read_lock(lock_path: str | os.PathLike | None) -> dict:
    if lock_path is None or not Path(lock_path).exists():
        return {}
    try:
        return json.loads(Path(lock_path).read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{lock_path}: not valid JSON ({e}); fix or delete it") from e


def _pin_in_lock(lock_path: Path, key: str, entry: dict) -> None:
    with _lock_guard(lock_path):
        lock = read_lock(lock_path)
        if key in lock and lock[key]["sha256"] != entry["sha256"]:
            raise ChecksumError(f"{lock_path}: {key} is pinned to sha256 {lock[key]['sha256']}, "
                                f"the file has {entry['sha256']}")
        lock[key] = entry
        write_json(lock_path, lock)


# ---------------------------------------------------------------------------------------
# one HTTP try


def _download_once(url: str, part: Path, timeout: float, progress: bool, expected_size: int | None) -> None:
    """Stream ``url`` into ``part``, resuming from its current size; raise _Retryable on failure."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            # nothing left to send: the part file may already be whole; the checksum decides
            return
        if e.code in (408, 429) or e.code >= 500:
            raise _Retryable(f"HTTP {e.code} {e.reason}") from e
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        raise _Retryable(f"{type(e).__name__}: {getattr(e, 'reason', e)}") from e
    with response:
        status = getattr(response, "status", 200)
        ctype = response.headers.get("Content-Type", "")
        if ctype.startswith("text/html") and not part.name.endswith((".html.part", ".htm.part")):
            # file hosts answer with a login/confirmation page instead of the file
            raise DownloadError(f"{url}: the server sent an HTML page (Content-Type {ctype}), not the file; "
                                "it may need a browser (login or confirmation page)")
        mode = "ab"
        start = have
        if have and status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {have}-"):
                raise _Retryable(f"server answered Range bytes={have}- with Content-Range {content_range!r}")
        elif have:
            # the server ignored Range (HTTP 200): start again from byte 0
            mode, start = "wb", 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else expected_size
        received = 0
        from tqdm.auto import tqdm  # here: the registry imports this module on every DAG plan

        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=part.name[: -len(".part")], disable=not progress, leave=False)
        try:
            with open(part, mode) as f:
                while True:
                    try:
                        block = response.read(CHUNK)
                    except (OSError, ValueError, http.client.HTTPException) as e:
                        # IncompleteRead (an HTTPException), resets and timeouts: keep the part file
                        raise _Retryable(f"connection dropped after {start + received} bytes "
                                         f"({type(e).__name__})") from e
                    if not block:
                        break
                    f.write(block)
                    received += len(block)
                    bar.update(len(block))
        finally:
            bar.close()
        if length is not None and received < int(length):
            raise _Retryable(f"connection dropped after {start + received} of {total} bytes")


# ---------------------------------------------------------------------------------------


def _verify(path: Path, source: Source, locked: dict | None) -> tuple[bool, str, str, str]:
    """(ok, how, sha256, md5): check against the published checksum, else the lock entry."""
    sha, md5 = file_digests(path)
    published = source.published_checksum
    if published:
        kind, want = published
        got = sha if kind == "sha256" else md5
        return got == want, f"published {kind}", sha, md5
    if locked:
        return sha == locked["sha256"], "lock file", sha, md5
    return True, "first download (locked)", sha, md5


def _mismatch(path: Path, source: Source, locked: dict | None, sha: str, md5: str) -> str:
    published = source.published_checksum
    if published:
        kind, want = published
        return f"{kind} {sha if kind == 'sha256' else md5}, expected {want} (published)"
    return f"sha256 {sha}, expected {locked['sha256']} (lock file)"


def _remedy(source: Source, downloads_dir: Path, lock_path: Path | None, params_key: str | None) -> str:
    lines = [
        "Remedies:",
        f"  - download {source.filename} by hand (from the URLs above or another copy) and put it "
        f"at {downloads_dir / source.filename}; the pipeline verifies it and uses it;",
    ]
    if params_key:
        lines.append(f"  - or give a working mirror in params.yaml: {params_key} (a list of URLs, tried in order);")
    if source.published_checksum is None and lock_path is not None:
        lines.append(f"  - no checksum is published for this file: its sha256 is pinned in {lock_path} "
                     "at the first verified download; delete that entry only if the publisher changed the file.")
    if source.note:
        lines.append(f"  (source: {source.note})")
    return "\n".join(lines)


def fetch(
    source: Source,
    downloads_dir: str | os.PathLike,
    lock_path: str | os.PathLike | None = None,
    *,
    lock_key: str | None = None,
    retries: int = 3,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
    progress: bool = True,
    params_key: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchRecord:
    """Make ``downloads_dir/source.filename`` a verified copy of ``source``; return its record.

    ``retries``: tries per mirror; between tries the wait is ``backoff_s * 2**k`` seconds.
    ``lock_path``: JSON file pinning the sha256 of files without a published checksum
    (key ``lock_key``, default the file name).  ``params_key``: the params.yaml key that
    overrides the URLs, named in the error when every mirror fails.
    """
    downloads_dir = Path(downloads_dir)
    downloads_dir.mkdir(parents=True, exist_ok=True)
    target = downloads_dir / source.filename
    part = downloads_dir / f"{source.filename}.part"
    lock_path = Path(lock_path) if lock_path is not None else None
    key = lock_key or source.filename
    locked = read_lock(lock_path).get(key) if source.published_checksum is None else None
    started = time.monotonic()
    attempts: list[str] = []

    def finish(url: str, how: str, sha: str, md5: str) -> FetchRecord:
        record = FetchRecord(filename=source.filename, url=url, size=target.stat().st_size, sha256=sha, md5=md5,
                             checksum=how, fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                             seconds=round(time.monotonic() - started, 3), attempts=attempts)
        if source.published_checksum is None and lock_path is not None:
            _pin_in_lock(lock_path, key, {"sha256": sha, "size": record.size, "url": url,
                                          "pinned_at": record.fetched_at})
        return record

    # 1. a file already there: an earlier download or a manual drop-in
    if target.exists():
        ok, how, sha, md5 = _verify(target, source, locked)
        if ok:
            return finish(f"local:{target}", how, sha, md5)
        bad = target.with_name(f"{target.name}.corrupt")
        attempts.append(f"local:{target}: {_mismatch(target, source, locked, sha, md5)}; moved to {bad.name}")
        os.replace(target, bad)

    # 2. mirrors in order, each with retries and back-off
    for url in source.urls:
        for k in range(retries):
            if k:
                sleep(backoff_s * 2 ** (k - 1))
            try:
                _download_once(url, part, timeout_s, progress, source.size)
            except _Retryable as e:
                attempts.append(f"{url} (try {k + 1}/{retries}): {e}")
                continue
            except DownloadError as e:
                attempts.append(f"{url} (try {k + 1}/{retries}): {e}")
                break  # permanent for this mirror (404, HTML page): next mirror
            if source.size is not None and part.stat().st_size != source.size:
                got = part.stat().st_size
                attempts.append(f"{url} (try {k + 1}/{retries}): size {got}, expected {source.size}")
                if got > source.size:
                    part.unlink()
                continue
            ok, how, sha, md5 = _verify(part, source, locked)
            if not ok:
                # corrupt or a different file: drop it so the next try starts from byte 0
                attempts.append(f"{url} (try {k + 1}/{retries}): checksum mismatch: "
                                f"{_mismatch(part, source, locked, sha, md5)}")
                part.unlink()
                continue
            os.replace(part, target)
            return finish(url, how, sha, md5)

    with contextlib.suppress(FileNotFoundError):
        if part.exists() and part.stat().st_size == 0:
            part.unlink()
    tried = "\n".join(f"  - {a}" for a in attempts) or "  (no URL configured)"
    checksum_only = attempts and all("checksum mismatch" in a or a.startswith("local:") for a in attempts)
    headline = (f"{source.filename}: the checksum stayed wrong on every try" if checksum_only
                else f"{source.filename}: no mirror gave a verified file")
    raise DownloadError(f"{headline}. Tried, in order:\n{tried}\n"
                        f"{_remedy(source, downloads_dir, lock_path, params_key)}")


def verify_lock_entry(path: str | os.PathLike, lock_path: str | os.PathLike, key: str) -> None:
    """Check a file against its pinned sha256 (raises :class:`ChecksumError`)."""
    entry = read_lock(lock_path).get(key)
    if entry is None:
        raise DataError(f"{lock_path}: no entry for {key}")
    sha, _ = file_digests(path)
    if sha != entry["sha256"]:
        raise ChecksumError(f"{path}: sha256 {sha}, pinned {entry['sha256']} in {lock_path}")

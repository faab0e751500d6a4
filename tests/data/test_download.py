"""Verified downloads against a local HTTP server (127.0.0.1 only)."""

from __future__ import annotations

import hashlib
import json

import pytest
from localhttp import Served, no_proxy, serve  # noqa: F401 (autouse fixture)

from mtlbench.data.download import DownloadError, Source, fetch

BODY = bytes(range(256)) * 400  # 102,400 bytes


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def kw(**extra):
    return dict(retries=3, backoff_s=0.0, timeout_s=5, progress=False, sleep=lambda s: None) | extra


def test_fetch_verifies_md5_and_records_what_was_used(tmp_path):
    files = {"/a.bin": Served(BODY)}
    with serve(files) as base:
        rec = fetch(Source("a.bin", (f"{base}/a.bin",), md5=md5(BODY)), tmp_path / "dl", **kw())
    assert (tmp_path / "dl" / "a.bin").read_bytes() == BODY
    assert not (tmp_path / "dl" / "a.bin.part").exists()
    assert rec.url == f"{base}/a.bin" and rec.size == len(BODY)
    assert rec.sha256 == sha256(BODY) and rec.checksum == "published md5"
    assert files["/a.bin"].requests == [None]


def test_resume_after_dropped_connection_uses_range(tmp_path):
    files = {"/a.bin": Served(BODY, drop_after=30_000, drop_times=2)}
    with serve(files) as base:
        rec = fetch(Source("a.bin", (f"{base}/a.bin",), sha256=sha256(BODY)), tmp_path, **kw())
    assert (tmp_path / "a.bin").read_bytes() == BODY
    # first try from 0, second resumes at 30,000, third at 60,000 and completes
    assert files["/a.bin"].requests == [None, "bytes=30000-", "bytes=60000-"]
    assert len(rec.attempts) == 2 and all("dropped" in a for a in rec.attempts)


def test_corrupt_download_is_detected_and_fetched_again(tmp_path):
    files = {"/a.bin": Served(BODY, corrupt_times=1)}
    with serve(files) as base:
        rec = fetch(Source("a.bin", (f"{base}/a.bin",), md5=md5(BODY)), tmp_path, **kw())
    assert (tmp_path / "a.bin").read_bytes() == BODY
    assert "checksum mismatch" in rec.attempts[0]
    assert files["/a.bin"].requests == [None, None]  # the bad part file was dropped, not resumed


def test_checksum_that_stays_wrong_is_a_clear_error(tmp_path):
    files = {"/a.bin": Served(BODY)}
    with serve(files) as base, pytest.raises(DownloadError) as e:
        fetch(Source("a.bin", (f"{base}/a.bin",), md5="0" * 32), tmp_path, **kw(), params_key="datasets.x.urls")
    msg = str(e.value)
    assert "checksum stayed wrong" in msg and f"{base}/a.bin" in msg and "0" * 32 in msg
    assert "datasets.x.urls" in msg and str(tmp_path / "a.bin") in msg
    assert len(files["/a.bin"].requests) == 3  # bounded: `retries` tries
    assert not (tmp_path / "a.bin").exists()


def test_mirrors_in_order_and_error_names_every_url(tmp_path):
    files = {"/gone": Served(b"", status=404), "/busy": Served(b"", status=503), "/ok": Served(BODY)}
    with serve(files) as base:
        src = Source("a.bin", (f"{base}/gone", f"{base}/busy", f"{base}/ok"), md5=md5(BODY))
        rec = fetch(src, tmp_path, **kw())
        assert rec.url == f"{base}/ok"
        assert len(files["/gone"].requests) == 1  # 404 is permanent: next mirror at once
        assert len(files["/busy"].requests) == 3  # 503 is retried
        (tmp_path / "a.bin").unlink()
        with pytest.raises(DownloadError) as e:
            fetch(Source("a.bin", (f"{base}/gone", f"{base}/busy"), md5=md5(BODY)), tmp_path, **kw())
    msg = str(e.value)
    assert "no mirror gave a verified file" in msg
    assert f"{base}/gone" in msg and "HTTP 404" in msg and f"{base}/busy" in msg and "HTTP 503" in msg
    assert "by hand" in msg and str(tmp_path / "a.bin") in msg


def test_html_page_instead_of_file_is_refused(tmp_path):
    files = {"/a.zip": Served(b"<html>confirm</html>", content_type="text/html; charset=utf-8")}
    with serve(files) as base, pytest.raises(DownloadError, match="HTML page"):
        fetch(Source("a.zip", (f"{base}/a.zip",)), tmp_path, tmp_path / "lock.json", **kw())


def test_manual_drop_in_is_verified_and_used(tmp_path):
    (tmp_path / "a.bin").write_bytes(BODY)
    rec = fetch(Source("a.bin", ("http://127.0.0.1:9/never",), md5=md5(BODY)), tmp_path, **kw())
    assert rec.url.startswith("local:") and rec.checksum == "published md5"
    # a corrupt drop-in is moved aside and fetched again from the mirror
    (tmp_path / "a.bin").write_bytes(BODY[:-1] + b"x")
    files = {"/a.bin": Served(BODY)}
    with serve(files) as base:
        rec = fetch(Source("a.bin", (f"{base}/a.bin",), md5=md5(BODY)), tmp_path, **kw())
    assert rec.url == f"{base}/a.bin" and (tmp_path / "a.bin").read_bytes() == BODY
    assert (tmp_path / "a.bin.corrupt").exists() and "moved to a.bin.corrupt" in rec.attempts[0]


def test_lock_file_pins_first_download_and_checks_later_uses(tmp_path):
    lock = tmp_path / "downloads.lock.json"
    files = {"/a.bin": Served(BODY)}
    with serve(files) as base:
        src = Source("a.bin", (f"{base}/a.bin",))  # nothing published
        rec = fetch(src, tmp_path / "dl", lock, lock_key="ds/a.bin", **kw())
        assert rec.checksum == "first download (locked)"
        pinned = json.loads(lock.read_text())["ds/a.bin"]
        assert pinned["sha256"] == sha256(BODY) and pinned["url"] == f"{base}/a.bin"
        # later use: the file on disk is checked against the lock
        assert fetch(src, tmp_path / "dl", lock, lock_key="ds/a.bin", **kw()).checksum == "lock file"
        # the mirror now serves something else: the lock catches it
        (tmp_path / "dl" / "a.bin").unlink()
        files["/a.bin"].body = BODY[::-1]
        with pytest.raises(DownloadError, match="checksum stayed wrong") as e:
            fetch(src, tmp_path / "dl", lock, lock_key="ds/a.bin", **kw())
    assert "lock file" in str(e.value) and str(lock) in str(e.value)

"""Guarded, atomic extraction of tar / tar.gz / zip."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from mtlbench.data.archive import UnsafeArchiveError, safe_extract
from mtlbench.errors import DataError


def _tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as t:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                t.addfile(info, io.BytesIO(payload))
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                t.addfile(info)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, payload
                t.addfile(info)
    return path


def test_extracts_tar_gz_and_zip_atomically(tmp_path):
    a = _tar(tmp_path / "a.tgz", [("root/x/1.jpg", "file", b"one"), ("root/link", "sym", "x/1.jpg")])
    out = safe_extract(a, tmp_path / "out")
    assert (out / "root/x/1.jpg").read_bytes() == b"one" and (out / "root/link").is_symlink()
    z = tmp_path / "b.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("d/2.png", b"two")
    assert (safe_extract(z, tmp_path / "outz") / "d/2.png").read_bytes() == b"two"
    assert not list(tmp_path.glob(".*extracting"))
    with pytest.raises(DataError, match="already exists"):
        safe_extract(z, tmp_path / "outz")


@pytest.mark.parametrize("members, what", [
    ([("/etc/evil", "file", b"x")], "absolute path"),
    ([("a/../../evil", "file", b"x")], "climbs out"),
    ([("a/link", "sym", "../../outside")], "points outside"),
    ([("a/link", "sym", "/etc/passwd")], "absolute path"),
    ([("a/hard", "hard", "../x")], "points outside"),
])
def test_path_traversal_is_refused_before_writing(tmp_path, members, what):
    a = _tar(tmp_path / "evil.tar", [("a/ok.txt", "file", b"ok")] + members, mode="w")
    with pytest.raises(UnsafeArchiveError, match=what):
        safe_extract(a, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil").exists()


def test_zip_traversal_is_refused(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("ok.txt", b"ok")
        f.writestr("../evil.txt", b"x")
    with pytest.raises(UnsafeArchiveError, match="climbs out"):
        safe_extract(z, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()


def test_truncated_archive_is_a_data_error(tmp_path):
    a = _tar(tmp_path / "a.tgz", [(f"f{i}", "file", bytes(range(256)) * 50) for i in range(5)])
    (tmp_path / "cut.tgz").write_bytes(a.read_bytes()[:200])
    with pytest.raises(DataError):
        safe_extract(tmp_path / "cut.tgz", tmp_path / "out")
    assert not (tmp_path / "out").exists()

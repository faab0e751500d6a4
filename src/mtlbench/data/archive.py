"""Extraction of tar / tar.gz / zip archives, guarded and atomic.

Every member is checked before anything is written: an absolute path, a ``..`` that
climbs out of the destination, a symbolic or hard link pointing outside it, or a device
or FIFO member makes :func:`safe_extract` refuse the whole archive with
:class:`UnsafeArchiveError`.  Extraction goes to a temporary folder beside the
destination, which is renamed onto it only when complete, so an interrupted run never
leaves a half-extracted tree under the final name.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

from ..errors import DataError


class UnsafeArchiveError(DataError):
    """An archive member would be written outside the destination folder."""


def _check_name(archive: Path, name: str) -> str:
    """Normalised member path, or UnsafeArchiveError for absolute paths and escapes."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing to extract")
    norm = posixpath.normpath(name.replace("\\", "/"))
    if norm == ".." or norm.startswith("../"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} climbs out of the destination (..); "
                                 "refusing to extract")
    return norm


def _check_link(archive: Path, member_name: str, link_target: str, hard: bool) -> None:
    kind = "hard link" if hard else "symbolic link"
    if link_target.startswith(("/", "\\")):
        raise UnsafeArchiveError(f"{archive}: {kind} {member_name!r} -> {link_target!r} points to an "
                                 "absolute path; refusing to extract")
    # a symlink resolves relative to its own folder, a hard link relative to the archive root
    base = "" if hard else posixpath.dirname(posixpath.normpath(member_name))
    resolved = posixpath.normpath(posixpath.join(base, link_target))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchiveError(f"{archive}: {kind} {member_name!r} -> {link_target!r} points outside "
                                 "the destination; refusing to extract")


def archive_kind(path: str | os.PathLike) -> str:
    """'zip' or 'tar' (any compression), judged by content, not by name."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar"
    raise DataError(f"{path}: neither a zip nor a tar archive (is the download complete?)")


def list_members(path: str | os.PathLike) -> list[str]:
    """Checked, normalised member names (files and folders)."""
    path = Path(path)
    try:
        return _list_members(path)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise DataError(f"{path}: unreadable archive ({type(e).__name__}: {e}); "
                        "delete it to fetch it again") from e


def _list_members(path: Path) -> list[str]:
    names = []
    if archive_kind(path) == "zip":
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                names.append(_check_name(path, info.filename))
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise UnsafeArchiveError(f"{path}: member {info.filename!r} is a symbolic link; "
                                             "refusing to extract zip links")
    else:
        with tarfile.open(path, "r:*") as t:
            for m in t.getmembers():
                names.append(_check_name(path, m.name))
                if m.issym() or m.islnk():
                    _check_link(path, m.name, m.linkname, hard=m.islnk())
                elif not (m.isfile() or m.isdir()):
                    raise UnsafeArchiveError(f"{path}: member {m.name!r} is a device or FIFO; refusing to extract")
    return names


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract ``archive`` into the new folder ``dest`` (atomic rename), after checking every member.

    ``dest`` must not exist yet; it appears only once extraction is complete.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise DataError(f"{dest}: already exists; remove it to extract {archive.name} again")
    list_members(archive)  # raises before anything is written
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.extracting")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        if archive_kind(archive) == "zip":
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        else:
            with tarfile.open(archive, "r:*") as t:
                if hasattr(tarfile, "data_filter"):
                    # the 'data' filter repeats the checks above at write time (belt and braces)
                    t.extractall(tmp, filter="data")
                else:
                    t.extractall(tmp)  # members were checked by list_members above
        os.replace(tmp, dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise DataError(f"{archive}: extraction failed ({type(e).__name__}: {e}); "
                        "delete the archive to fetch it again") from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    return dest

"""A user's data source: a folder, a tar archive (any compression), a zip archive or one file.

Both generic dataset kinds (``image_folder``, ``feature_file``) read their files through
:class:`Source`, which lists the files under a root without reading them and returns one
file's bytes on demand.  Archives often wrap their content in one top folder
(``office_caltech10/amazon/...``); ``subdir='auto'`` strips such a single top folder, a
named ``subdir`` selects a folder, and ``''`` keeps the archive's layout as it is.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import DataError
from ..io import sha256_file

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")


def is_archive(path: str | Path) -> bool:
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


class Source:
    """Files under ``root`` of a folder or an archive, named by posix paths relative to it.

    ``names`` lists regular files only (sorted), so counting them decodes nothing.  An
    archive is opened lazily once per process (DataLoader workers each get their own
    handle, as a shared tar file offset is not safe across processes).
    """

    def __init__(self, path: str | Path, subdir: str = "auto"):
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"{self.path}: no such file or folder")
        if self.path.is_dir():
            self.kind = "folder"
        elif str(self.path).lower().endswith(".zip"):
            self.kind = "zip"
        elif is_archive(self.path):
            self.kind = "tar"
        else:  # one plain file: a source holding just that file
            self.kind = "file"
        self._handle = None
        self._pid = None
        all_files = self._list_all()
        self.prefix = self._choose_prefix(all_files, subdir)
        cut = len(self.prefix)
        self.names = sorted(n[cut:] for n in all_files if n.startswith(self.prefix))
        if not self.names:
            raise DataError(f"{self.path}: no files under {self.prefix or 'the root'!r}")

    # listing -------------------------------------------------------------------------
    def _list_all(self) -> list[str]:
        if self.kind == "file":
            return [self.path.name]
        if self.kind == "folder":
            out = []
            for dirpath, _, files in os.walk(self.path):
                rel = Path(dirpath).relative_to(self.path)
                out += [PurePosixPath(*rel.parts, f).as_posix() for f in files]
            return out
        if self.kind == "zip":
            return [i.filename for i in self._open().infolist() if not i.is_dir()]
        return [m.name.removeprefix("./") for m in self._open().getmembers() if m.isfile()]

    def _choose_prefix(self, files: list[str], subdir: str) -> str:
        if subdir == "auto":
            tops = {f.split("/", 1)[0] for f in files}
            nested = all("/" in f for f in files)
            return f"{tops.pop()}/" if len(tops) == 1 and nested else ""
        sub = subdir.strip("/")
        if not sub or sub == ".":
            return ""
        if not any(f.startswith(sub + "/") for f in files):
            tops = sorted({f.split("/", 1)[0] for f in files if "/" in f})
            raise DataError(f"{self.path}: subdir {subdir!r} not found; top-level folders: {tops}")
        return sub + "/"

    # reading -------------------------------------------------------------------------
    def _open(self):
        if self._handle is None or self._pid != os.getpid():
            try:
                if self.kind == "zip":
                    self._handle = zipfile.ZipFile(self.path)
                else:
                    self._handle = tarfile.open(self.path, "r:*")
            except (tarfile.TarError, zipfile.BadZipFile, OSError) as e:
                raise DataError(f"{self.path}: not a readable archive ({e})") from e
            self._pid = os.getpid()
            self._members = None
        return self._handle

    def __getstate__(self):  # DataLoader workers: reopen the archive in each process
        state = dict(self.__dict__)
        state["_handle"] = None
        state["_members"] = None
        return state

    def read(self, name: str) -> bytes:
        """The bytes of file ``name`` (relative to the root)."""
        full = self.prefix + name
        if self.kind in ("folder", "file"):
            target = self.path if self.kind == "file" else self.path / full
            if self.kind == "file" and name != self.path.name:
                raise DataError(f"{self.path}: a single file; it holds no {name!r}")
            try:
                return target.read_bytes()
            except OSError as e:
                raise DataError(f"{target}: cannot read ({e})") from e
        handle = self._open()
        try:
            if self.kind == "zip":
                return handle.read(full)
            if getattr(self, "_members", None) is None:
                self._members = {m.name.removeprefix("./"): m for m in handle.getmembers() if m.isfile()}
            return handle.extractfile(self._members[full]).read()
        except KeyError:
            raise DataError(f"{self.path}: no file {full!r} in the archive") from None

    def describe(self, name: str) -> str:
        """How a file is named in messages: the path, or ``archive::member``."""
        if self.kind == "file":
            return str(self.path)
        return str(self.path / self.prefix / name) if self.kind == "folder" else f"{self.path}::{self.prefix}{name}"

    def archive_sha256(self) -> str | None:
        return sha256_file(self.path) if self.kind in ("tar", "zip") else None

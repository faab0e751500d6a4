"""Atomic file output, hashing and canonical JSON.

Every stage writes through :func:`atomic_path`, so an interrupted run never leaves a
half-written output behind: the file appears under its final name only once complete.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def temporary_name(path: str | os.PathLike, pid: int | None = None) -> Path:
    """``dir/.name.<pid>.tmp``: where :func:`atomic_path` writes ``dir/name`` first."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid() if pid is None else pid}.tmp")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``path`` left by other processes (a killed job), and
    return them.  Snakemake never runs two jobs with the same output at once, so a job
    that is about to write ``path`` owns every temporary of it."""
    path = Path(path)
    own = temporary_name(path).name
    removed = []
    if path.parent.is_dir():
        for p in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            if p.name != own and p.name[len(path.name) + 2:-4].isdigit():
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    Temporaries of ``path`` that a killed process left are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def config_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (a run's resolved configuration)."""
    return sha256_text(canonical_json(obj))


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def _json_default(o: Any) -> Any:
    # numpy scalars and arrays, Paths
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_parquet(path: str | os.PathLike, what: str, schema_only: bool = False, columns: list[str] | None = None):
    """The table in one Parquet file (or its schema; ``columns``: only those), with a damaged
    or truncated file reported as a DataError naming the file and the remedy.

    Read through ``pyarrow.parquet.ParquetFile``, the same table and metadata as
    ``read_table`` gives, without the dataset layer, whose import pulls in pandas (0.2 s of
    every train job's start-up)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .errors import DataError

    try:
        if schema_only:
            return pq.read_schema(path)
        with pq.ParquetFile(path) as f:
            return f.read(columns=columns)
    except (pa.ArrowException, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise DataError(f"{path}: the {what} is damaged or truncated ({type(e).__name__}: {e}); "
                        f"delete it and let the pipeline write it again: rm {path} && snakemake {path}") from None

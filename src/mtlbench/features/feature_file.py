"""``kind: feature_file``: precomputed features -> the features table, no backbone.

Reads Parquet, CSV, NPZ and MATLAB ``.mat`` files (v5 through ``scipy.io.loadmat``; v7.3,
which is HDF5, through ``h5py``), one file per task or one table with a task column,
from a folder or an archive (:class:`~mtlbench.data.sources.Source`).  The keys or
columns are named by :class:`~mtlbench.data.kinds.FeatureFileConfig`.

MATLAB stores arrays column-major; h5py therefore returns a v7.3 matrix saved as (N, D)
with shape (D, N).  :func:`read_arrays` undoes that, so a v5 and a v7.3 file of the same
MATLAB variable give the same array and ``transpose`` means the same for both.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..checks import build_dataclass
from ..data.kinds import FeatureFileConfig
from ..data.sources import Source
from ..errors import DataError
from .table import write_features

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SUFFIX_FORMAT = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".npz": "npz", ".mat": "mat"}


def detect_format(name: str, configured: str | None) -> str:
    if configured:
        return configured
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIX_FORMAT:
        raise DataError(f"{name}: cannot tell the format from the suffix {suffix!r}; set format: "
                        "one of 'parquet', 'csv', 'npz', 'mat'")
    return SUFFIX_FORMAT[suffix]


def _read_hdf5_mat(data: bytes) -> dict[str, np.ndarray]:
    import h5py

    out = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        for key, obj in f.items():
            if key.startswith("#") or not isinstance(obj, h5py.Dataset):
                continue  # '#refs#' and groups (structs, cells) are not plain matrices
            arr = obj[()]
            # h5py sees MATLAB's column-major (N, D) as (D, N): reverse the axes back
            out[key] = np.asarray(arr).T if arr.ndim >= 2 else np.asarray(arr)
    return out


def read_arrays(data: bytes, fmt: str, where: str) -> dict[str, np.ndarray] | pd.DataFrame:
    """Parse one file: a dict of arrays (npz, mat) or a DataFrame (parquet, csv)."""
    try:
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        if fmt == "csv":
            return pd.read_csv(io.BytesIO(data))
        if fmt == "npz":
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        if fmt == "mat":
            if data[512:520] == HDF5_SIGNATURE or data[:8] == HDF5_SIGNATURE:
                return _read_hdf5_mat(data)
            from scipy.io import loadmat

            return {k: v for k, v in loadmat(io.BytesIO(data)).items() if not k.startswith("__")}
    except DataError:
        raise
    except Exception as e:  # a parser's own error, reported with the file it came from
        raise DataError(f"{where}: not a readable {fmt} file ({type(e).__name__}: {e})") from e
    raise DataError(f"{where}: unknown format {fmt!r}; allowed: 'parquet', 'csv', 'npz', 'mat'")


def _get(container, key: str, where: str, what: str) -> np.ndarray:
    if isinstance(container, pd.DataFrame):
        if key not in container.columns:
            raise DataError(f"{where}: no column {key!r} for the {what}; columns present: {list(map(str, container.columns))}")
        col = container[key]
        if len(col) and isinstance(col.iloc[0], (list, np.ndarray)):
            lengths = col.map(len)
            if lengths.nunique() > 1:
                first = int(np.flatnonzero(lengths.to_numpy() != lengths.iloc[0])[0])
                raise DataError(f"{where}: the {what} column {key!r} holds lists of different lengths "
                                f"({', '.join(map(str, sorted(lengths.unique())[:5]))}); row 0 has {lengths.iloc[0]}, "
                                f"row {first} has {lengths.iloc[first]}: every row needs the same dimension")
            return np.stack([np.asarray(v) for v in col])
        return col.to_numpy()
    if key not in container:
        raise DataError(f"{where}: no array {key!r} for the {what}; keys present: {sorted(container)}")
    return np.asarray(container[key])


def _vector(arr: np.ndarray, where: str, what: str) -> np.ndarray:
    if arr.ndim == 2 and 1 in arr.shape:
        return arr.reshape(-1)
    if arr.ndim != 1:
        raise DataError(f"{where}: {what} must be a vector ((N,), (1, N) or (N, 1)), got shape {arr.shape}")
    return arr


def features_and_labels(container, cfg: FeatureFileConfig, where: str):
    """(features (N, D) float, labels (N,) raw, sample ids (N,) or None) of one file."""
    if cfg.feature_prefix is not None and isinstance(container, pd.DataFrame):
        cols = [c for c in container.columns if str(c).startswith(cfg.feature_prefix)]
        if not cols:
            raise DataError(f"{where}: no column starts with {cfg.feature_prefix!r} (feature_prefix); "
                            f"columns present: {list(map(str, container.columns))}")
        feats = container[cols].to_numpy()
    else:
        feats = _get(container, cfg.features_key, where, "features")
    if feats.ndim != 2:
        raise DataError(f"{where}: features {cfg.features_key!r} must be a matrix, got shape {feats.shape}")
    if cfg.transpose:
        feats = feats.T
    if cfg.label_column is not None:
        d = feats.shape[1]
        if not -d <= cfg.label_column < d:
            raise DataError(f"{where}: label_column {cfg.label_column} is outside the {d} columns of {cfg.features_key!r}")
        labels = feats[:, cfg.label_column]
        feats = np.delete(feats, cfg.label_column % d, axis=1)
    else:
        raw = _get(container, cfg.labels_key, where, "labels")
        labels = _vector(raw, where, f"labels {cfg.labels_key!r}")
        if len(labels) != len(feats):
            raise DataError(f"{where}: features {cfg.features_key!r} have shape {feats.shape} but labels "
                            f"{cfg.labels_key!r} have shape {raw.shape}: {len(feats)} rows vs {len(labels)} labels"
                            + ("" if cfg.transpose else " (transpose: true if the features are stored (D, N))"))
    try:
        feats = feats.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{where}: features are not numeric ({e})") from e
    bad = ~np.isfinite(feats).all(axis=1)
    if bad.any():
        raise DataError(f"{where}: {int(bad.sum())} feature rows hold NaN or inf, first row {int(np.flatnonzero(bad)[0])}")
    ids = None
    if cfg.sample_id_key is not None:
        ids = _vector(_get(container, cfg.sample_id_key, where, "sample ids"), where, "sample ids").astype(str)
    return feats.astype(np.float32), labels, ids


def _integer_labels(labels: np.ndarray, where: str) -> np.ndarray:
    try:
        as_float = labels.astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{where}: labels are not integers (first {labels[:3].tolist()}); "
                        "map class names to ids and list them in classes:") from None
    if not np.all(np.isfinite(as_float)) or not np.all(as_float == np.round(as_float)):
        raise DataError(f"{where}: labels are not integers (first {labels[:3].tolist()})")
    return as_float.astype(np.int64)


def load_feature_file(cfg: FeatureFileConfig) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Read every task: index frame (sample_id, task, label 0..C-1), features (N, D), metadata."""
    src = Source(cfg.path, cfg.subdir)
    sources: dict[str, dict] = {}
    parts = []  # (task, features, raw labels, ids, where)
    if cfg.files:
        for task in cfg.task_order:
            name = cfg.files[task]
            if name not in src.names:
                raise DataError(f"{src.describe(name)}: not found (files.{task}); files present: {src.names[:20]}")
            data = src.read(name)
            where = src.describe(name)
            fmt = detect_format(name, cfg.format)
            feats, labels, ids = features_and_labels(read_arrays(data, fmt, where), cfg, where)
            parts.append((task, feats, labels, ids, where))
            sources[task] = {"file": name, "format": fmt, "sha256": _sha256_bytes(data)}
    else:
        if len(src.names) != 1:
            raise DataError(f"{cfg.path}: one table expected (no files: mapping) but it holds {len(src.names)} files; "
                            "give files: {task: file}")
        name = src.names[0]
        data = src.read(name)
        where = src.describe(name)
        fmt = detect_format(name, cfg.format)
        container = read_arrays(data, fmt, where)
        feats, labels, ids = features_and_labels(container, cfg, where)
        task_col = _vector(_get(container, cfg.task_column, where, "tasks"), where, "task column").astype(str)
        if len(task_col) != len(feats):
            raise DataError(f"{where}: task column {cfg.task_column!r} has {len(task_col)} rows, features {feats.shape}")
        present = list(dict.fromkeys(task_col.tolist()))
        order = list(cfg.tasks) or present
        missing = [t for t in order if t not in present]
        if missing:
            raise DataError(f"{where}: tasks {missing} have no rows; tasks present: {present}")
        for task in order:
            rows = task_col == task
            parts.append((task, feats[rows], labels[rows], None if ids is None else ids[rows], where))
        sources["*"] = {"file": name, "format": fmt, "sha256": _sha256_bytes(data)}

    ints = [_integer_labels(lbl, where) for _, _, lbl, _, where in parts]
    base = cfg.label_base
    lowest = min(int(i.min()) for i in ints if len(i))
    if base == "auto":
        if lowest not in (0, 1):
            raise DataError(f"{cfg.path}: the smallest label is {lowest}; labels must be 0..C-1 or 1..C (label_base)")
        base = lowest
    n_classes = len(cfg.classes) or max(int(i.max()) for i in ints if len(i)) + 1 - base
    frames, feats_all = [], []
    dims = {p[0]: p[1].shape[1] for p in parts}
    if len(set(dims.values())) != 1:
        raise DataError(f"{cfg.path}: tasks differ in feature dimension: {dims}")
    for (task, feats, _, ids, where), lab in zip(parts, ints):
        lab = lab - base
        if len(lab) and (lab.min() < 0 or lab.max() >= n_classes):
            raise DataError(f"{where}: labels span {lab.min() + base}..{lab.max() + base}, outside "
                            f"{base}..{n_classes - 1 + base} (label_base {base}, {n_classes} classes)")
        sid = ids if ids is not None else np.array([f"{task}/{i:05d}" for i in range(len(lab))])
        frames.append(pd.DataFrame({"sample_id": sid.astype(str), "task": task, "label": lab}))
        feats_all.append(feats)
    index = pd.concat(frames, ignore_index=True)
    classes = list(cfg.classes) or [str(c) for c in range(n_classes)]
    notes = data_warnings(index, feats_all, classes, cfg)
    feats = normalize(np.concatenate(feats_all), cfg.normalize, index["task"].to_numpy(), cfg.path)
    dup = index["sample_id"].duplicated()
    if dup.any():
        raise DataError(f"{cfg.path}: sample id {index['sample_id'][dup].iloc[0]!r} appears twice")
    meta = {"backbone": "precomputed", "weights": None, "kind": "feature_file",
            "preprocessing": (f"normalize: {cfg.normalize} ({NORMALIZATIONS[cfg.normalize]})" if cfg.normalize != "none"
                              else "none (features as stored in the source files)"),
            "normalize": cfg.normalize,
            "source": {"path": str(cfg.path), "subdir": src.prefix.rstrip("/"), "archive_sha256": src.archive_sha256(),
                       "files": sources},
            "label_base": int(base), "classes": classes, "class_names_given": bool(cfg.classes),
            "task_types": {}, "config": _plain(cfg), "warnings": notes}
    return index, feats, meta


NORMALIZATIONS = {
    "none": "as stored",
    "l2": "each row divided by its Euclidean norm",
    "l1": "each row divided by the sum of its absolute values",
    "hellinger": "each row divided by its sum, then the square root (non-negative features, e.g. counts)",
    "zscore": "each feature minus its mean, divided by its standard deviation, over every sample of the dataset "
              "(features only, no label)",
}


def normalize(x: np.ndarray, how: str, tasks: np.ndarray, where) -> np.ndarray:
    """``x`` (N, D) normalised by ``how`` (:data:`NORMALIZATIONS`); an all-zero row stays zero."""
    x = np.asarray(x, dtype=np.float64)
    if how == "none":
        return x.astype(np.float32)
    if how == "zscore":
        std = x.std(axis=0)
        return ((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(np.float32)
    if how == "hellinger" and (x < 0).any():
        row = int(np.flatnonzero((x < 0).any(axis=1))[0])
        raise DataError(f"{where}: normalize: hellinger needs non-negative features; row {row} of task "
                        f"{tasks[row]!r} has a negative value; allowed for such features: l2, l1, zscore")
    norm = np.abs(x).sum(axis=1) if how in ("l1", "hellinger") else np.sqrt((x * x).sum(axis=1))
    out = x / np.where(norm > 0, norm, 1.0)[:, None]
    return (np.sqrt(out) if how == "hellinger" else out).astype(np.float32)


def data_warnings(index: pd.DataFrame, feats: list[np.ndarray], classes: list[str], cfg: FeatureFileConfig) -> list[str]:
    """Refuse what no split can make sense of; return warnings about what runs but misleads.

    Errors: a task with one class (any method scores 100 % on it and lifts the average),
    class ids that no task uses while ``classes`` is not given (labels {0, 5, 10} are not
    11 classes).  Warnings, each naming the task and classes: a class a task lacks, a
    class with a single sample (it cannot have a training and a test sample), feature
    vectors repeated within a task (copies can land in train and test), and more
    feature dimensions than samples after ``transpose: true`` (often the wrong orientation).
    """
    out = []
    used = set(index["label"].tolist())
    empty = [classes[c] for c in range(len(classes)) if c not in used]
    if empty and not cfg.classes:
        raise DataError(f"{cfg.path}: labels {sorted(int(c) + 0 for c in used)[:12]} (after label_base) leave "
                        f"{len(empty)} of {len(classes)} class ids without a sample ({', '.join(empty[:10])}); "
                        "relabel them 0..C-1, or list every class under classes: to keep the ids")
    for (task, rows), x in zip(index.groupby("task", sort=False), feats):
        counts = rows["label"].value_counts()
        if len(counts) < 2:
            raise DataError(f"{cfg.path}: task {task!r} has a single class ({classes[int(counts.index[0])]!r}, "
                            f"{int(counts.iloc[0])} samples): a task needs at least 2 classes")
        lacking = [classes[c] for c in range(len(classes)) if c not in counts.index]
        if lacking:
            out.append(f"task {task!r} has no sample of class(es) {', '.join(lacking[:10])}")
        single = [classes[int(c)] for c, n in counts.items() if n == 1]
        if single:
            out.append(f"task {task!r}: class(es) {', '.join(single[:10])} have a single sample, which goes to "
                       "training: no test sample for them")
        dup = pd.DataFrame(x).duplicated()
        if dup.any():
            first = int(np.flatnonzero(dup.to_numpy())[0])
            out.append(f"task {task!r}: {int(dup.sum())} feature rows repeat an earlier row (first: row {first} of "
                       "the task); copies can land in both the training and the test part")
        if cfg.transpose and x.shape[1] > x.shape[0]:
            out.append(f"task {task!r}: {x.shape[1]}-d features, {x.shape[0]} samples, {len(counts)} classes after "
                       "transpose: true; more dimensions than samples often means the matrix was stored (N, D): "
                       "try transpose: false")
    return out


def import_features(dataset: str, config: dict, out_path: str | Path) -> dict:
    """The ``import-features`` stage: a feature_file dataset -> the features table (atomic)."""
    cfg = build_dataclass(FeatureFileConfig, {"kind": "feature_file", **config}, f"datasets.{dataset}")
    return write_imported(dataset, out_path, *load_feature_file(cfg))


def write_imported(dataset: str, out_path: str | Path, index: pd.DataFrame, feats: np.ndarray, meta: dict) -> dict:
    """Write an imported dataset's features table (atomic); its metadata, with the sizes."""
    meta = dict(meta, dataset=dataset)
    write_features(out_path, index["sample_id"].to_numpy(), index["task"].to_numpy(), index["label"].to_numpy(),
                   feats, meta)
    return dict(meta, feature_dim=int(feats.shape[1]), num_samples=int(len(feats)))


def _sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _plain(cfg: FeatureFileConfig) -> dict:
    import dataclasses

    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


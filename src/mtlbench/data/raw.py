"""The raw-stage contract: ``data/raw/{dataset}/manifest.json`` plus the samples.

Three forms, told apart by ``manifest["layout"]``:

- ``array`` (the default; the embedded datasets): samples in ``images.npz``:
  ``sample_id`` (str), ``task`` (str), ``label`` (int64) and ``image`` (N, 3, H, W) uint8.
- ``files`` (``image_folder`` datasets, images of varying size): ``index.parquet`` with
  ``sample_id``, ``task``, ``label`` (int64) and ``member`` (the image's path relative to
  the source root, a folder or archive named in ``manifest["source"]``); the features
  stage decodes the images lazily, in batches.
- ``series`` (time series: ETT): ``series.parquet`` with ``time`` (ISO string, one row per
  time step) and one float64 column per variable (``manifest["columns"]``); the
  manifest names the chronological parts (``parts: {train|val|test: [start, stop)}`` in
  rows) and ``steps_per_hour``.  The ``window`` backbone turns it into samples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import atomic_path, read_json, sha256_file, write_json

MANIFEST = "manifest.json"
IMAGES = "images.npz"
INDEX = "index.parquet"
SERIES = "series.parquet"


@dataclass
class RawImages:
    sample_id: np.ndarray  # (N,) str
    task: np.ndarray  # (N,) str
    label: np.ndarray  # (N,) int64
    image: np.ndarray  # (N, 3, H, W) uint8
    manifest: dict


def content_sha256(*arrays: np.ndarray) -> str:
    """sha256 over arrays' dtypes, shapes and bytes: equal iff the content is equal."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes() if a.dtype.kind != "U" else "\x00".join(a.tolist()).encode())
    return h.hexdigest()


def write_raw_images(out_dir: str | Path, sample_id, task, label, image, manifest: dict) -> None:
    """Write ``images.npz`` and then ``manifest.json`` (the stage's completion marker)."""
    out_dir = Path(out_dir)
    sample_id = np.asarray(sample_id, dtype=str)
    task = np.asarray(task, dtype=str)
    label = np.asarray(label, dtype=np.int64)
    image = np.asarray(image, dtype=np.uint8)
    if not (len(sample_id) == len(task) == len(label) == len(image)):
        raise DataError("sample_id, task, label and image differ in length")
    if len(set(sample_id.tolist())) != len(sample_id):
        raise DataError("sample ids are not unique")
    with atomic_path(out_dir / IMAGES) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, sample_id=sample_id, task=task, label=label, image=image)
    tasks, counts = np.unique(task, return_counts=True)
    manifest = dict(manifest)
    manifest.update(
        files={IMAGES: sha256_file(out_dir / IMAGES)},
        content_sha256=content_sha256(sample_id, task, label, image),
        image_shape=list(image.shape[1:]),
        samples_per_task={str(t): int(c) for t, c in zip(tasks, counts)},
    )
    write_json(out_dir / MANIFEST, manifest)


@dataclass
class RawImageFiles:
    sample_id: np.ndarray  # (N,) str
    task: np.ndarray  # (N,) str
    label: np.ndarray  # (N,) int64
    member: np.ndarray  # (N,) str, path of the image relative to the source root
    manifest: dict

    def source(self):
        """The folder or archive holding the images (checked against the manifest)."""
        from .sources import Source

        src_info = self.manifest["source"]
        src = Source(src_info["root"], src_info.get("subdir", ""))
        expected = src_info.get("archive_sha256")
        if expected and src.archive_sha256() != expected:
            raise DataError(f"{src.path}: archive checksum differs from the raw manifest; rerun the raw stage")
        return src


def write_raw_index(out_dir: str | Path, index, manifest: dict) -> dict:
    """Write ``index.parquet`` and then ``manifest.json`` (the completion marker); returns the manifest.

    index: DataFrame with sample_id, task, label, member.
    """
    import pandas as pd

    out_dir = Path(out_dir)
    index = pd.DataFrame({"sample_id": index["sample_id"].astype(str), "task": index["task"].astype(str),
                          "label": index["label"].astype(np.int64), "member": index["member"].astype(str)})
    if index["sample_id"].duplicated().any():
        raise DataError(f"sample ids are not unique, first {index['sample_id'][index['sample_id'].duplicated()].iloc[0]!r}")
    with atomic_path(out_dir / INDEX) as tmp:
        index.to_parquet(tmp, index=False)
    counts = index["task"].value_counts()
    manifest = dict(manifest)
    manifest.update(
        layout="files",
        files={INDEX: sha256_file(out_dir / INDEX)},
        content_sha256=content_sha256(*(index[c].to_numpy().astype(str) for c in ("sample_id", "task", "member")),
                                      index["label"].to_numpy()),
        samples_per_task={str(t): int(counts[t]) for t in sorted(counts.index)},
    )
    write_json(out_dir / MANIFEST, manifest)
    return manifest


@dataclass
class RawSeries:
    time: np.ndarray  # (N,) str, ISO 'YYYY-MM-DDTHH:MM'
    values: np.ndarray  # (N, V) float64, columns in manifest["columns"] order
    columns: list[str]
    manifest: dict


def write_raw_series(out_dir: str | Path, time, values, columns: list[str], manifest: dict) -> dict:
    """Write ``series.parquet`` and then ``manifest.json`` (the completion marker); returns the manifest."""
    import pandas as pd

    out_dir = Path(out_dir)
    time = np.asarray(time, dtype=str)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape != (len(time), len(columns)):
        raise DataError(f"values of shape {values.shape} do not match {len(time)} times x {len(columns)} columns")
    frame = pd.DataFrame({"time": time, **{c: values[:, i] for i, c in enumerate(columns)}})
    with atomic_path(out_dir / SERIES) as tmp:
        frame.to_parquet(tmp, index=False)
    manifest = dict(manifest)
    manifest.update(layout="series", columns=list(columns), rows=len(time),
                    files={SERIES: sha256_file(out_dir / SERIES)},
                    content_sha256=content_sha256(time, values),
                    samples_per_task=dict.fromkeys(columns, len(time)))
    write_json(out_dir / MANIFEST, manifest)
    return manifest


def load_raw(raw_dir: str | Path) -> RawImages | RawImageFiles | RawSeries:
    raw_dir = Path(raw_dir)
    if not (raw_dir / MANIFEST).exists():
        raise DataError(f"{raw_dir}: no {MANIFEST}; run the download stage first")
    manifest = read_json(raw_dir / MANIFEST)
    name = {"files": INDEX, "series": SERIES}.get(manifest.get("layout"), IMAGES)
    path = raw_dir / name
    expected = manifest.get("files", {}).get(name)
    if expected and sha256_file(path) != expected:
        raise DataError(f"{path}: checksum differs from {MANIFEST}; delete {raw_dir} and rebuild it")
    if name == SERIES:
        import pandas as pd

        df = pd.read_parquet(path)
        columns = list(manifest["columns"])
        return RawSeries(df["time"].to_numpy().astype(str), df[columns].to_numpy(dtype=np.float64), columns, manifest)
    if name == INDEX:
        import pandas as pd

        df = pd.read_parquet(path)
        return RawImageFiles(df["sample_id"].to_numpy().astype(str), df["task"].to_numpy().astype(str),
                             df["label"].to_numpy().astype(np.int64), df["member"].to_numpy().astype(str), manifest)
    with np.load(path) as z:
        return RawImages(z["sample_id"], z["task"], z["label"], z["image"], manifest)

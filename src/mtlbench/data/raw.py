"""The raw-stage contract: ``data/raw/{dataset}/manifest.json`` plus the samples.

Three forms, told apart by ``manifest["layout"]``:

- ``array`` (the default; the embedded datasets and the AMTNN digits): samples in
  ``images.npz``: ``sample_id`` (str), ``task`` (str), ``label`` (int64) and ``image``
  (N, 3, H, W) uint8.
- ``files`` (image files of varying size: the downloaded releases and ``image_folder``
  datasets): the *image index* ``index.parquet``, one row per image, in output order:

  ============ ======== ==========================================================
  ``sample_id`` string  unique in the dataset (``<task>/...``)
  ``task``      string  the task (domain)
  ``class_name`` string the class, ``manifest["classes"][label]``
  ``label``     int64   0..C-1, the position of ``class_name`` in ``classes``
  ``path``      string  POSIX path of the image relative to the image root
  ``split``     string  ``train`` / ``test`` where the release fixes one, else null
  ============ ======== ==========================================================

  ``manifest["images"]`` names the image root: ``{"root": folder or tar/zip archive
  (relative to the raw folder, e.g. ``"."`` for the releases' ``extracted/``, or
  absolute), "subdir": folder inside it, "archive_sha256": checksum of an archive}``;
  ``manifest["index_version"]`` is :data:`INDEX_VERSION`.  The features stage reads the
  index with :func:`load_raw` and decodes the images lazily, in batches.  Indexes written
  before version 2 (the releases' with paths relative to the raw folder, the image_folder
  kind's with ``member``) are still read; anything else fails with a message to rebuild.
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
INDEX_VERSION = 2
INDEX_COLUMNS = ("sample_id", "task", "class_name", "label", "path", "split")


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
    """The image index of a raw folder (``layout: files``), one entry per image."""

    raw_dir: Path
    sample_id: np.ndarray  # (N,) str
    task: np.ndarray  # (N,) str
    class_name: np.ndarray  # (N,) str
    label: np.ndarray  # (N,) int64
    path: np.ndarray  # (N,) str, POSIX path of the image relative to the image root
    split: np.ndarray  # (N,) object: 'train' / 'test' where the release fixes one, else None
    manifest: dict

    def images(self):
        """The image root (``manifest["images"]``): an object with ``read(path) -> bytes`` and
        ``describe(path) -> str``; an archive is checked against its recorded sha256."""
        return open_images(self.raw_dir, self.manifest["images"])


class FolderImages:
    """Image files under a folder, read by path relative to it (an absolute path is kept)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def read(self, path: str) -> bytes:
        target = self.root / path
        try:
            return target.read_bytes()
        except OSError as e:
            raise DataError(f"{target}: cannot read ({e})") from e

    def describe(self, path: str) -> str:
        return str(self.root / path)


def open_images(raw_dir: str | Path, images: dict):
    """The reader of an index's image root: :class:`FolderImages`, or a
    :class:`~mtlbench.data.sources.Source` for a tar/zip archive (sha256 checked)."""
    from .sources import Source, is_archive

    root = Path(images["root"])
    if not root.is_absolute():
        root = Path(raw_dir) / root
    if not root.exists():
        raise DataError(f"{root}: the images of {raw_dir} are not there any more; restore them, "
                        f"or delete {raw_dir} and rerun the raw stage")
    subdir = images.get("subdir") or ""
    if root.is_dir():
        return FolderImages(root / subdir if subdir else root)
    if not is_archive(root):
        raise DataError(f"{root}: image root is neither a folder nor a tar/zip archive")
    src = Source(root, subdir)
    expected = images.get("archive_sha256")
    if expected and src.archive_sha256() != expected:
        raise DataError(f"{root}: archive checksum differs from the raw manifest; rerun the raw stage")
    return src


def write_image_index(out_dir: str | Path, index, manifest: dict, images: dict) -> dict:
    """Write ``index.parquet`` and then ``manifest.json`` (the completion marker); returns the manifest.

    index: columns (or a mapping of sequences) ``sample_id``, ``task``, ``class_name``,
    ``label``, ``path`` and optionally ``split``, one row per image, in output order.
    images: the image root, ``{"root": folder or archive (relative: to out_dir),
    "subdir": folder inside it, "archive_sha256": ...}``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    n = len(index["sample_id"])
    split = list(index["split"]) if "split" in index else [None] * n
    cols = {c: [str(v) for v in index[c]] for c in ("sample_id", "task", "class_name", "path")}
    label = np.asarray(index["label"], dtype=np.int64)
    if not all(len(v) == n for v in (*cols.values(), label, split)):
        raise DataError("image index: columns differ in length")
    if len(set(cols["sample_id"])) != n:
        dup = _first_duplicate(cols["sample_id"])
        raise DataError(f"image index: sample ids are not unique, first {dup!r}")
    split = [None if s is None or (isinstance(s, float) and np.isnan(s)) else str(s) for s in split]
    table = pa.table({**{c: pa.array(cols[c], pa.string()) for c in ("sample_id", "task", "class_name")},
                      "label": pa.array(label, pa.int64()), "path": pa.array(cols["path"], pa.string()),
                      "split": pa.array(split, pa.string())})
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / INDEX) as tmp:
        pq.write_table(table, tmp)
    counts: dict[str, int] = {}
    for t in cols["task"]:
        counts[t] = counts.get(t, 0) + 1
    manifest = dict(manifest)
    manifest.update(
        layout="files", index_version=INDEX_VERSION, images=dict(images),
        files={INDEX: sha256_file(out_dir / INDEX)},
        content_sha256=content_sha256(*(np.asarray(cols[c]) for c in ("sample_id", "task", "class_name", "path")),
                                      np.asarray(["" if s is None else s for s in split]), label),
        samples_per_task=counts,
        splits=sorted({s for s in split if s is not None}) or None,
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


def _first_duplicate(values) -> str:
    seen = set()
    for v in values:
        if v in seen:
            return v
        seen.add(v)
    return ""


def _read_image_index(raw_dir: Path, path: Path, manifest: dict) -> RawImageFiles:
    """The index in its current form, or one of the two earlier forms converted in memory:

    - the releases' (``kind: image_files``, no ``layout``): the same columns, paths relative
      to the raw folder;
    - the image_folder kind's (``layout: files``, no ``index_version``): ``member`` instead
      of ``path`` (relative to ``manifest["source"]``), no ``class_name`` or ``split``.
    """
    import pyarrow.parquet as pq

    version = manifest.get("index_version")
    if version is not None and version > INDEX_VERSION:
        raise DataError(f"{path}: index version {version} is newer than this mtlbench reads "
                        f"({INDEX_VERSION}); update mtlbench, or delete {raw_dir} and rerun the raw stage")
    t = pq.read_table(path).to_pydict()
    manifest = dict(manifest)
    if version is None and manifest.get("layout") == "files" and "member" in t:  # image_folder, before v2
        classes = manifest.get("classes") or []
        t["path"] = t.pop("member")
        try:
            t["class_name"] = [classes[k] for k in t["label"]]
        except (IndexError, TypeError):
            t["class_name"] = [str(k) for k in t["label"]]
        src = manifest.get("source", {})
        manifest["images"] = {"root": src.get("root"), "subdir": src.get("subdir", ""),
                              "archive_sha256": src.get("archive_sha256")}
    elif version is None and manifest.get("kind") == "image_files":  # releases, before v2
        manifest["images"] = {"root": ".", "subdir": ""}
    missing = [c for c in INDEX_COLUMNS if c not in t and c != "split"]
    if missing or "images" not in manifest or not manifest["images"].get("root"):
        raise DataError(f"{path}: not an image index this mtlbench reads (missing columns {missing} or "
                        f"manifest key 'images'); delete {raw_dir} and rerun the raw stage to rebuild it")
    n = len(t["sample_id"])
    split = t.get("split") or [None] * n
    return RawImageFiles(raw_dir, np.asarray(t["sample_id"], dtype=str), np.asarray(t["task"], dtype=str),
                         np.asarray(t["class_name"], dtype=str), np.asarray(t["label"], dtype=np.int64),
                         np.asarray(t["path"], dtype=str), np.asarray(split, dtype=object), manifest)


def is_image_index(manifest: dict) -> bool:
    """Whether a raw manifest describes an image index (any of its forms) rather than images.npz."""
    return manifest.get("layout") == "files" or manifest.get("kind") == "image_files"


def load_raw(raw_dir: str | Path) -> RawImages | RawImageFiles | RawSeries:
    raw_dir = Path(raw_dir)
    if not (raw_dir / MANIFEST).exists():
        raise DataError(f"{raw_dir}: no {MANIFEST}; run the download stage first")
    manifest = read_json(raw_dir / MANIFEST)
    name = SERIES if manifest.get("layout") == "series" else INDEX if is_image_index(manifest) else IMAGES
    path = raw_dir / name
    if not path.exists():
        raise DataError(f"{path}: not found; delete {raw_dir} and rerun the raw stage")
    expected = manifest.get("files", {}).get(name)
    if expected and sha256_file(path) != expected:
        raise DataError(f"{path}: checksum differs from {MANIFEST}; delete {raw_dir} and rebuild it")
    if name == SERIES:
        import pandas as pd

        df = pd.read_parquet(path)
        columns = list(manifest["columns"])
        return RawSeries(df["time"].to_numpy().astype(str), df[columns].to_numpy(dtype=np.float64), columns, manifest)
    if name == INDEX:
        return _read_image_index(raw_dir, path, manifest)
    with np.load(path) as z:
        return RawImages(z["sample_id"], z["task"], z["label"], z["image"], manifest)

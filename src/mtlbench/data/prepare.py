"""The download stage for the real datasets: fetch, verify, extract, parse the layout, count.

:func:`prepare_dataset` writes ``data/raw/{dataset}/``:

- image-file datasets (Office-Home, Office-Caltech, ImageCLEF-DA, DomainNet):
  ``extracted/<archive name>/...`` (each archive in its own folder) and the image index of
  :mod:`mtlbench.data.raw` (``index.parquet``: ``sample_id``, ``task``, ``class_name``,
  ``label``, ``path`` relative to the raw folder, ``split`` where the release fixes one;
  ``manifest.json``, written last as the stage's completion marker, with what was
  downloaded from where, checksums and counts);
- the AMTNN digits (MNIST, MNIST-M, SVHN): ``images.npz`` in the raw contract of
  :mod:`mtlbench.data.raw` (3x32x32 uint8), sample ids ``<task>/<train|test>/<index>``;
- sources with a ``prepare`` function of their own (ETT, :mod:`mtlbench.data.ett`): what
  it writes (ETT: ``series.parquet``).

Downloads go to ``downloads_dir`` (default ``data/raw/downloads/``), where a user may
also put an archive fetched by hand; it is verified like any download.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import atomic_path
from .archive import archive_kind, safe_extract
from .download import fetch
from .raw import write_image_index
from .releases import DatasetSource, ImageRecord, check_counts

INDEX = "index.parquet"
MANIFEST = "manifest.json"


def _is_archive(path: Path) -> bool:
    try:
        archive_kind(path)
    except DataError:
        return False
    return True


def _unpack(path: Path, sha256: str, root: Path) -> Path:
    """Extract (or, for a plain file, copy) ``path`` into ``root/<name>/``, once per checksum."""
    dest = root / path.name
    marker = root / f".{path.name}.sha256"
    if dest.exists() and marker.exists() and marker.read_text().strip() == sha256:
        return dest
    if dest.exists():
        shutil.rmtree(dest)  # from another version of the file, or an interrupted copy
    # gzip'd idx files of MNIST are read in place; tar.gz / tgz are tar archives
    if path.suffix != ".gz" or path.name.endswith((".tar.gz", ".tgz")):
        if _is_archive(path):
            safe_extract(path, dest)
        else:
            tmp = root / f".{path.name}.{os.getpid()}.copying"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            shutil.copy2(path, tmp / path.name)
            os.replace(tmp, dest)
    else:
        dest.mkdir(parents=True)
        shutil.copy2(path, dest / path.name)
    with atomic_path(marker) as tmp:
        tmp.write_text(sha256 + "\n")
    return dest


def fetch_all(spec: DatasetSource, downloads_dir: Path, lock_path: Path | None, **fetch_kw) -> list[dict]:
    records = []
    for source in spec.files:
        rec = fetch(source, downloads_dir, lock_path, lock_key=f"{spec.name}/{source.filename}",
                    params_key=f"datasets.{spec.name}.download.sources.{source.filename}.urls", **fetch_kw)
        records.append(rec.as_dict())
    return records


def read_index(raw_dir: str | os.PathLike) -> list[ImageRecord]:
    """The rows of an image index (:func:`mtlbench.data.raw.load_raw`) as records; ``path``
    is relative to the index's image root (for a release: the raw folder)."""
    from .raw import RawImageFiles, load_raw

    raw = load_raw(raw_dir)
    if not isinstance(raw, RawImageFiles):
        raise DataError(f"{raw_dir}: holds images.npz, not an image index")
    return [ImageRecord(*row) for row in zip(raw.sample_id.tolist(), raw.task.tolist(), raw.class_name.tolist(),
                                            raw.label.tolist(), raw.path.tolist(), raw.split.tolist())]


def prepare_dataset(spec: DatasetSource, raw_dir: str | os.PathLike, downloads_dir: str | os.PathLike | None = None,
                    lock_path: str | os.PathLike | None = None, **fetch_kw) -> dict:
    """Fetch, verify, extract and index one dataset into ``raw_dir``; return its manifest.

    ``fetch_kw`` goes to :func:`mtlbench.data.download.fetch` (retries, backoff_s,
    timeout_s, progress).  The image count per task is checked against
    ``spec.expected_counts``.
    """
    raw_dir = Path(raw_dir)
    downloads_dir = Path(downloads_dir) if downloads_dir is not None else raw_dir.parent / "downloads"
    lock_path = Path(lock_path) if lock_path is not None else raw_dir.parent / "downloads.lock.json"
    fetched = fetch_all(spec, downloads_dir, lock_path, **fetch_kw)
    manifest = {"dataset": spec.name, "tasks": list(spec.tasks), "classes": list(spec.classes),
                "sources": fetched, "description": spec.description}
    if spec.prepare is not None:  # not images (ETT: a time series)
        return spec.prepare(spec, raw_dir, downloads_dir, manifest)
    if spec.layout is None:
        return _prepare_digits(spec, raw_dir, downloads_dir, manifest)
    root = raw_dir / "extracted"
    for source, rec in zip(spec.files, fetched):
        _unpack(downloads_dir / source.filename, rec["sha256"], root)
    records = spec.layout(root, spec)
    ids = [r.sample_id for r in records]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"{spec.name}: sample id {dup!r} occurs twice in the layout")
    check_counts(spec, records)
    index = {"sample_id": [r.sample_id for r in records], "task": [r.task for r in records],
             "class_name": [r.class_name for r in records], "label": [r.label for r in records],
             "path": [f"extracted/{r.path}" for r in records], "split": [r.split for r in records]}
    manifest.update(kind="image_files", index=INDEX)
    # the image root is the raw folder itself: paths start with extracted/<archive name>/
    return write_image_index(raw_dir, index, manifest, images={"root": ".", "subdir": ""})


# ---------------------------------------------------------------------------------------
# AMTNN digits: MNIST (idx), SVHN (.mat), MNIST-M (png tar)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (MNIST), gzip'd or not -> array of its dtype and shape."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file")
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}.get(data[2])
    if dtype is None:
        raise DataError(f"{path}: unknown IDX type code {data[2]:#x}")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise DataError(f"{path}: header says {shape}, body holds {arr.size} values (truncated?)")
    return arr.reshape(shape)


def read_svhn_mat(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """SVHN ``*_32x32.mat`` -> images (N, 3, 32, 32) uint8, labels (N,) with '10' mapped to 0."""
    from scipy.io import loadmat

    m = loadmat(path)
    x = np.ascontiguousarray(m["X"].transpose(3, 2, 0, 1), dtype=np.uint8)
    y = m["y"].reshape(-1).astype(np.int64) % 10
    return x, y


def to_rgb32(gray: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 3, 32, 32): zero-padded by 2 px (as LeNet's 32x32 input), grey to RGB."""
    padded = np.pad(gray, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(padded[:, None], 3, axis=1)


def _prepare_digits(spec: DatasetSource, raw_dir: Path, downloads_dir: Path, manifest: dict) -> dict:
    from .mnist_m import load_mnist_m_archive
    from .raw import write_raw_images

    parts = []  # (task, split, images, labels)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(downloads_dir / f"{prefix}-images-idx3-ubyte.gz")
        y = read_idx(downloads_dir / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
        parts.append(("mnist", split, to_rgb32(x), y))
    for split in ("train", "test"):
        x, y, _ = load_mnist_m_archive(downloads_dir / "mnist_m.tar.gz", split)
        parts.append(("mnist_m", split, x, y))
    for split in ("train", "test"):
        x, y = read_svhn_mat(downloads_dir / f"{split}_32x32.mat")
        parts.append(("svhn", split, x, y))
    counts: dict[str, int] = {}
    for task, _, x, _ in parts:
        counts[task] = counts.get(task, 0) + len(x)
    wrong = [f"{t}: {counts.get(t, 0)} (published {n})" for t, n in spec.expected_counts.items() if counts.get(t, 0) != n]
    if wrong:
        raise DataError(f"{spec.name}: images per task differ from the published counts: {'; '.join(wrong)}")
    sample_id = [f"{t}/{s}/{i:05d}" for t, s, x, _ in parts for i in range(len(x))]
    task = [t for t, _, x, _ in parts for _ in range(len(x))]
    manifest.update(kind="images_npz", samples_per_task=counts,
                    preprocessing="MNIST 28x28 grey zero-padded to 32x32 and repeated to RGB; "
                    "MNIST-M and SVHN as released (32x32 RGB)")
    write_raw_images(raw_dir, sample_id, task, np.concatenate([p[3] for p in parts]),
                     np.concatenate([p[2] for p in parts]), manifest)
    return manifest

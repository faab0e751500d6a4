"""The raw-stage contract: ``data/raw/{dataset}/manifest.json`` plus the samples.

Array datasets (the embedded ones) keep their samples in ``images.npz``:
``sample_id`` (str), ``task`` (str), ``label`` (int64) and ``image`` (N, 3, H, W) uint8.
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


def load_raw(raw_dir: str | Path) -> RawImages:
    raw_dir = Path(raw_dir)
    if not (raw_dir / MANIFEST).exists():
        raise DataError(f"{raw_dir}: no {MANIFEST}; run the download stage first")
    manifest = read_json(raw_dir / MANIFEST)
    path = raw_dir / IMAGES
    expected = manifest.get("files", {}).get(IMAGES)
    if expected and sha256_file(path) != expected:
        raise DataError(f"{path}: checksum differs from {MANIFEST}; delete {raw_dir} and rebuild it")
    with np.load(path) as z:
        return RawImages(z["sample_id"], z["task"], z["label"], z["image"], manifest)

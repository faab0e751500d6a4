"""MNIST-M: the blend recipe of Ganin & Lempitsky (2015) and a loader of the real release.

The recipe: each MNIST digit d (grayscale, 0..255) is combined with a random patch p of
the same size cut from a natural colour photograph as ``|p - d|`` per channel, so the
digit appears as an inverted-colour stroke over a textured background.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError


def blend_mnist_m(digits: np.ndarray, photos: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Blend digits with random photo patches: ``out[c] = |patch[c] - digit|``.

    digits: (N, H, W) uint8 grayscale; photos: list of (h, w, 3) uint8 with h >= H, w >= W.
    Returns (N, 3, H, W) uint8.
    """
    if digits.ndim != 3:
        raise ValueError(f"digits must be (N, H, W), got shape {digits.shape}")
    n, h, w = digits.shape
    out = np.empty((n, 3, h, w), dtype=np.uint8)
    which = rng.integers(0, len(photos), size=n)
    for i in range(n):
        photo = photos[which[i]]
        y = rng.integers(0, photo.shape[0] - h + 1)
        x = rng.integers(0, photo.shape[1] - w + 1)
        patch = photo[y : y + h, x : x + w, :3].astype(np.int16)
        blended = np.abs(patch - digits[i].astype(np.int16)[:, :, None])
        out[i] = blended.transpose(2, 0, 1).astype(np.uint8)
    return out


def load_mnist_m_archive(path: str | Path, split: str = "test") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read the real MNIST-M release (``mnist_m.tar.gz`` layout) without extracting it.

    Layout: ``mnist_m/mnist_m_{split}/NNNNNNNN.png`` and
    ``mnist_m/mnist_m_{split}_labels.txt`` with lines ``NNNNNNNN.png <label>``.
    Returns images (N, 3, 32, 32) uint8, labels (N,) int64 and file names, in the
    order of the labels file.
    """
    path = Path(path)
    labels_name = f"mnist_m/mnist_m_{split}_labels.txt"
    prefix = f"mnist_m/mnist_m_{split}/"
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise DataError(f"{path}: not a readable tar archive ({e})") from e
    with tar:
        pngs: dict[str, bytes] = {}
        label_lines = None
        for member in tar:
            if member.name == labels_name:
                label_lines = tar.extractfile(member).read().decode().split("\n")
            elif member.isfile() and member.name.startswith(prefix) and member.name.endswith(".png"):
                pngs[member.name[len(prefix) :]] = tar.extractfile(member).read()
    if label_lines is None:
        raise DataError(f"{path}: no {labels_name} in the archive (is it the MNIST-M release?)")
    names, labels = [], []
    for line in label_lines:
        if not line.strip():
            continue
        name, label = line.split()
        names.append(name)
        labels.append(int(label))
    missing = [n for n in names if n not in pngs]
    if missing:
        raise DataError(f"{path}: {len(missing)} images named in {labels_name} are missing, first {missing[0]}")
    images = np.stack([np.asarray(Image.open(io.BytesIO(pngs[n])).convert("RGB")).transpose(2, 0, 1) for n in names])
    return images, np.asarray(labels, dtype=np.int64), names

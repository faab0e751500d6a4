"""The embedded many-task dataset ``digits_shift``: digit domains × input shifts.

Task grouping needs more than three tasks, with a real structure of positive and
negative transfer.  ``digits_shift`` crosses the three domains of the embedded
``digits`` dataset (:mod:`mtlbench.data.digits`: ``mnist``, ``mnist_m``,
``uci_digits``; same images, same build seed) with four input shifts, giving 12
tasks named ``{domain}_{shift}`` that share the 10 digit classes:

- ``identity``: the image as it is;
- ``rot90``: rotated by 90° counter-clockwise (``np.rot90`` over H, W) — the same
  strokes at another place: a different input distribution *and* a different
  pixel-to-class map, the case where sharing can hurt;
- ``invert``: colour inversion 255 − x — dark digits on a light background;
- ``noise``: additive Gaussian pixel noise (σ = 40 grey levels, seeded), clipped to
  0..255 — the same digits, degraded.

Each domain's samples are split per class into four disjoint, equally sized parts
(after a seeded shuffle), one per shift, so no image appears in two tasks: a task
can only gain from another through what the classes share.  Counts: mnist and
mnist_m tasks 620-630 images each (62-63 per class), uci_digits tasks 445-454 each;
6,797 images in all (every image of ``digits`` exactly once), 3×28×28 uint8, 10 classes.  Expected structure: the identity
and noise versions of a domain, and the mnist / uci identity tasks, should help each
other; rotated tasks should help rotated tasks and hurt upright ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .classes import DIGIT_CLASSES
from .raw import write_raw_images

SHIFTS = ("identity", "rot90", "invert", "noise")
DOMAINS = ("mnist", "mnist_m", "uci_digits")
TASKS = tuple(f"{d}_{s}" for d in DOMAINS for s in SHIFTS)
SHIFT_SEED = 20260101  # fixes the per-class parts and the noise; part of the dataset's definition
NOISE_SIGMA = 40.0


def apply_shift(images: np.ndarray, shift: str, rng: np.random.Generator) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, C, H, W) uint8 under one of :data:`SHIFTS`."""
    if images.ndim != 4 or images.dtype != np.uint8:
        raise DataError(f"images must be (N, C, H, W) uint8, got {images.shape} {images.dtype}")
    if shift == "identity":
        return images.copy()
    if shift == "rot90":
        return np.ascontiguousarray(np.rot90(images, k=1, axes=(2, 3)))
    if shift == "invert":
        return 255 - images
    if shift == "noise":
        noisy = images.astype(np.float64) + rng.normal(0.0, NOISE_SIGMA, size=images.shape)
        return np.clip(noisy, 0, 255).round().astype(np.uint8)
    raise DataError(f"unknown shift {shift!r}; known: {', '.join(SHIFTS)}")


def per_class_parts(labels: np.ndarray, n_parts: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices split into ``n_parts`` disjoint parts, each holding ~1/n_parts of every class."""
    parts = [[] for _ in range(n_parts)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        for k, chunk in enumerate(np.array_split(idx, n_parts)):
            parts[k].append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def shift_tasks(domains, shifts=SHIFTS, seed: int = SHIFT_SEED):
    """Cross domains with shifts.

    domains: list of (name, images (N, 3, H, W) uint8, labels (N,)).
    Returns sample_id, task, label (int64), image (uint8) over all tasks, task-major.
    """
    rng = np.random.default_rng(seed)
    sample_id, task, label, image = [], [], [], []
    for name, imgs, labels in domains:
        labels = np.asarray(labels, dtype=np.int64)
        for shift, idx in zip(shifts, per_class_parts(labels, len(shifts), rng)):
            t = f"{name}_{shift}"
            sample_id += [f"{t}/{int(i):05d}" for i in idx]  # i: index in the source domain
            task += [t] * len(idx)
            label.append(labels[idx])
            image.append(apply_shift(imgs[idx], shift, rng))
    return sample_id, task, np.concatenate(label), np.concatenate(image)


def build_digits_shift(out_dir: str | Path) -> None:
    from .digits import BUILD_SEED, digit_domains, package_versions

    sample_id, task, label, image = shift_tasks(digit_domains())
    manifest = {
        "dataset": "digits_shift",
        "classes": list(DIGIT_CLASSES),
        "tasks": list(TASKS),
        "sources": {"domains": "the embedded digits dataset (mtlbench.data.digits), build seed "
                               f"{BUILD_SEED}",
                    "shifts": {"identity": "none", "rot90": "np.rot90 over (H, W), k=1",
                               "invert": "255 - x", "noise": f"x + N(0, {NOISE_SIGMA}^2), clipped"}},
        "package_versions": package_versions(),
        "shift_seed": SHIFT_SEED,
    }
    write_raw_images(out_dir, sample_id, task, label, image, manifest)

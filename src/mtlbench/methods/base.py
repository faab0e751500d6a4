"""The one interface every method implements.

A method receives a :class:`Problem` (per-task train and test arrays, the task order)
and returns a :class:`MethodResult` (per-task test predictions, learned relation
matrices, an evaluation history).  Metrics, the run JSON and everything about files
live outside the method, in :mod:`mtlbench.train`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np


@dataclass
class TaskData:
    x_train: np.ndarray  # (n_train, D) float32
    y_train: np.ndarray  # (n_train,) int64 class ids, or float targets (regression)
    x_test: np.ndarray  # (n_test, D) float32
    y_test: np.ndarray  # (n_test,)


@dataclass
class Problem:
    tasks: list[str]  # the task order of every relation matrix
    n_classes: int
    data: dict[str, TaskData]
    task_types: dict[str, str] = field(default_factory=dict)  # task -> classification|regression
    # regression task -> {"mean", "std"} of the raw training targets that standardised it
    # (:func:`standardize_targets`); empty when the targets are used as given
    target_scaling: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def in_dim(self) -> int:
        return int(self.data[self.tasks[0]].x_train.shape[1])

    def task_type(self, task: str) -> str:
        return self.task_types.get(task, "classification")


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
                   task_types=dict(problem.task_types), target_scaling=scaling)


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

    def __init__(self, hparams):
        self.hp = hparams

    @abstractmethod
    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        """Train on every task's training part; predict every task's test part."""

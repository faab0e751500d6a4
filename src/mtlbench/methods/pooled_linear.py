"""pooled_linear: one multinomial logistic regression on the union of every task's training data.

The tasks share one label space, so the simplest sharing ignores which task a sample
came from: fit equation (1) of :mod:`mtlbench.methods.linear_stl` once on
∪_t {(x_i, y_i) : i in the training part of t}, with C chosen by stratified CV on the
pooled training data, and predict every task's test part with that one model.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import Method, MethodResult, Problem
from .linear_stl import LinearHparams, fit_logistic_cv, predict_labels


def pool_training(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Stack every task's training part: x (sum n_t, D), y (sum n_t,)."""
    for t in problem.tasks:
        if problem.task_type(t) == "regression":
            raise ConfigError(f"pooled methods need one shared label space; task {t!r} is a regression task")
    x = np.concatenate([problem.data[t].x_train for t in problem.tasks])
    y = np.concatenate([problem.data[t].y_train for t in problem.tasks]).astype(np.int64)
    return x, y


class PooledLinear(Method):
    name = "pooled_linear"
    Hparams = LinearHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        x, y = pool_training(problem)
        model, c, scores = fit_logistic_cv(x, y, self.hp, seed)
        preds = {t: predict_labels(model, problem.data[t].x_test) for t in problem.tasks}
        return MethodResult(predictions=preds, extra={"chosen": {"C": c, "cv_accuracy": scores}})

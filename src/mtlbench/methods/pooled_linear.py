"""pooled_linear: one linear model on the union of every task's training data.

The tasks share one label space, so the simplest sharing ignores which task a sample
came from: fit equation (1) (classification: multinomial logistic regression) or (2)
(regression: ridge) of :mod:`mtlbench.methods.linear_stl` once on
∪_t {(x_i, y_i) : i in the training part of t}, with C chosen by cross-validation on the
pooled training data, and predict every task's test part with that one model.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import Method, MethodResult, Problem
from .linear_stl import LinearHparams, fit_linear_cv, predict_linear


def pooled_task_type(problem: Problem) -> str:
    """The one task type of a pooled problem; a mix of classification and regression is refused."""
    types = {problem.task_type(t) for t in problem.tasks}
    if len(types) != 1:
        kinds = ", ".join(f"{t}: {problem.task_type(t)}" for t in problem.tasks)
        raise ConfigError(f"pooled methods need one shared label space, all classification or all regression; "
                          f"got {kinds}")
    return types.pop()


def pool_training(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Stack every task's training part: x (sum n_t, D), y (sum n_t,) int64 class ids, or
    float64 targets when the tasks are regression tasks."""
    regression = pooled_task_type(problem) == "regression"
    x = np.concatenate([problem.data[t].x_train for t in problem.tasks])
    y = np.concatenate([problem.data[t].y_train for t in problem.tasks]).astype(np.float64 if regression else np.int64)
    return x, y


class PooledLinear(Method):
    name = "pooled_linear"
    task_types = ("classification", "regression")
    Hparams = LinearHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        x, y = pool_training(problem)
        regression = pooled_task_type(problem) == "regression"
        model, c, scores = fit_linear_cv(x, y, self.hp, seed, regression)
        preds = {t: predict_linear(model, problem.data[t].x_test, regression) for t in problem.tasks}
        return MethodResult(predictions=preds, extra={"chosen": {"C": c, **scores}})

"""Shared pieces of the linear multi-task regressors (mean-regularised, trace-norm).

Each task t has a weight vector w_t and an unpenalised intercept b_t; the predictor is
ŷ = w_tᵀx + b_t.  With squared loss and an unpenalised b_t, the optimal intercept is
b_t = ȳ_t − w_tᵀx̄_t (the task's training means), so every solver works on features and
targets centred per task (:func:`centre`) and recovers b_t afterwards.  Features are
first z-scored with the mean and standard deviation of all tasks' training rows pooled
(a shared w_0 or a shared subspace needs one scale across tasks).

Hyper-parameters are chosen by k-fold cross-validation inside the training part
(:func:`cv_select`): each task's training rows are dealt into k folds at random, the
model is fitted on k − 1 folds of every task and scored by the mean over tasks of the
held-out MSE; ties go to the first grid entry (the grids are ordered strongest penalty
first).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Sequence

import numpy as np

from ...errors import ConfigError
from ..base import Problem


def check_grid(values: Sequence[float], where: str) -> None:
    if not values or any(not v > 0 for v in values):
        raise ConfigError(f"{where}: a non-empty list of positive numbers, got {list(values)}")


def regression_tasks(problem: Problem, name: str) -> None:
    other = [t for t in problem.tasks if problem.task_type(t) != "regression"]
    if other:
        raise ConfigError(f"{name} trains on regression tasks only; {other} are {problem.task_type(other[0])} tasks")


def training_arrays(problem: Problem, name: str, standardize: bool):
    """(xs, ys, mean, sd): every task's training features (z-scored by :func:`pooled_scaler`
    when ``standardize``) and float targets, in ``problem.tasks`` order; regression only."""
    regression_tasks(problem, name)
    xs = [problem.data[t].x_train.astype(np.float64) for t in problem.tasks]
    ys = [np.asarray(problem.data[t].y_train, dtype=np.float64) for t in problem.tasks]
    mean, sd = pooled_scaler(xs) if standardize else (np.zeros(xs[0].shape[1]), np.ones(xs[0].shape[1]))
    return [(x - mean) / sd for x in xs], ys, mean, sd


def predict_tests(problem: Problem, w: np.ndarray, b: np.ndarray, mean, sd) -> dict[str, np.ndarray]:
    """ŷ = w_tᵀ((x − mean)/sd) + b_t on every task's test part."""
    return {t: ((problem.data[t].x_test.astype(np.float64) - mean) / sd) @ w[i] + b[i]
            for i, t in enumerate(problem.tasks)}


def pooled_scaler(xs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (1 where it is 0) of every task's training rows pooled."""
    x = np.concatenate(xs).astype(np.float64)
    sd = x.std(axis=0)
    return x.mean(axis=0), np.where(sd > 0, sd, 1.0)


def centre(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]):
    """Per task: centred x, centred y, x̄_t, ȳ_t (zeros for a task without rows)."""
    out = []
    for x, y in zip(xs, ys):
        xm = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
        ym = float(y.mean()) if len(y) else 0.0
        out.append((x - xm, y - ym, xm, ym))
    return out


def intercepts(w: np.ndarray, centred) -> np.ndarray:
    """b_t = ȳ_t − w_tᵀx̄_t for W (T, D)."""
    return np.array([ym - w[t] @ xm for t, (_, _, xm, ym) in enumerate(centred)])


Fit = Callable[[list[np.ndarray], list[np.ndarray], tuple], tuple[np.ndarray, np.ndarray]]


def cv_select(fit: Fit, grid: list[tuple], xs: list[np.ndarray], ys: list[np.ndarray], folds: int,
              seed: int) -> tuple[tuple, dict[str, float]]:
    """The grid entry with the least mean held-out MSE (mean over tasks, then folds).

    ``fit(xs, ys, params)`` -> (W (T, D), b (T,)).  With a single grid entry, or tasks too
    small to hold a fold out, the first entry is returned without CV."""
    if len(grid) == 1 or max(len(y) for y in ys) < 2:
        return grid[0], {}
    assign = []
    for t, y in enumerate(ys):
        rng = np.random.default_rng([seed, zlib.crc32(str(t).encode())])
        assign.append(rng.permutation(len(y)) % folds)
    scores = {}
    for params in grid:
        fold_mse = []
        for f in range(folds):
            train = [a != f for a in assign]
            w, b = fit([x[m] for x, m in zip(xs, train)], [y[m] for y, m in zip(ys, train)], params)
            per_task = [float(np.mean((x[~m] @ w[t] + b[t] - y[~m]) ** 2))
                        for t, (x, y, m) in enumerate(zip(xs, ys, train)) if (~m).any()]
            fold_mse.append(np.mean(per_task))
        scores[params] = float(np.mean(fold_mse))
    best = min(grid, key=lambda p: (scores[p], grid.index(p)))
    return best, {",".join(f"{v:g}" for v in p): s for p, s in scores.items()}


def grid_of(*axes: Sequence[float]) -> list[tuple]:
    """Every combination, each axis sorted strongest penalty (largest value) first."""
    return list(itertools.product(*(sorted(a, reverse=True) for a in axes)))

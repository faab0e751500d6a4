"""Per-task metrics: accuracy for classification; MSE, MAE and the explained variance for regression.

The explained variance of a regression task is 1 − MSE / Var(y_test) (Var the population
variance of the task's test targets): 1 is a perfect fit, 0 is predicting the test mean,
negative is worse.  It is invariant to the per-task standardisation of the targets, so
it compares tasks of different scales.  It is per task and averaged over tasks like every
metric (the School-benchmark papers, e.g. Argyriou et al. 2008, pool the test errors and
the variance over all tasks instead); a task whose test targets are all equal (variance
0) has no explained variance and is left out of that average.
"""

from __future__ import annotations

import numpy as np

# which direction is better, per metric (tables bold the best)
HIGHER_IS_BETTER = {"accuracy": True, "mse": False, "mae": False, "explained_variance": True}


def task_metrics(y_true: np.ndarray, y_pred: np.ndarray, task_type: str = "classification") -> dict[str, float]:
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    if task_type == "regression":
        err = y_pred.astype(np.float64) - y_true.astype(np.float64)
        mse = float(np.mean(err**2))
        out = {"mse": mse, "mae": float(np.mean(np.abs(err)))}
        var = float(np.var(y_true.astype(np.float64)))
        if var > 0:
            out["explained_variance"] = 1.0 - mse / var
        return out
    return {"accuracy": float(np.mean(y_pred == y_true))}


def average_metrics(per_task: dict[str, dict[str, float]]) -> dict[str, float]:
    """Unweighted mean over tasks of every metric that the tasks report."""
    keys = sorted({k for m in per_task.values() for k in m})
    return {k: float(np.mean([m[k] for m in per_task.values() if k in m])) for k in keys}

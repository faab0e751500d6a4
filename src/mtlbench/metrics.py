"""Per-task metrics: accuracy for classification; MSE and MAE for regression."""

from __future__ import annotations

import numpy as np

# which direction is better, per metric (tables bold the best)
HIGHER_IS_BETTER = {"accuracy": True, "mse": False, "mae": False}


def task_metrics(y_true: np.ndarray, y_pred: np.ndarray, task_type: str = "classification") -> dict[str, float]:
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    if task_type == "regression":
        err = y_pred.astype(np.float64) - y_true.astype(np.float64)
        return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err)))}
    return {"accuracy": float(np.mean(y_pred == y_true))}


def average_metrics(per_task: dict[str, dict[str, float]]) -> dict[str, float]:
    """Unweighted mean over tasks of every metric that the tasks report."""
    keys = sorted({k for m in per_task.values() for k in m})
    return {k: float(np.mean([m[k] for m in per_task.values() if k in m])) for k in keys}

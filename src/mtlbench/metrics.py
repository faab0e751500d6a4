"""Per-task metrics: accuracy for classification; MSE, MAE and the explained variance for regression.

The explained variance of a regression task is 1 − MSE / Var(y_test) (Var the population
variance of the task's test targets): 1 is a perfect fit, 0 is predicting the test mean,
negative is worse.  It is invariant to the per-task standardisation of the targets, so
it compares tasks of different scales.  It is per task and averaged over tasks like every
metric (the School-benchmark papers, e.g. Argyriou et al. 2008, pool the test errors and
the variance over all tasks instead); a task whose test targets are all equal (variance
0) has no explained variance and is left out of that average.

Routing tasks (:mod:`mtlbench.data.routing`): ``y_true`` is the reference solver's
objective per instance, ``y_pred`` the method's; a ``routing_length`` task (TSP, CVRP)
reports the mean ``tour_length``, a ``routing_prize`` task (OP) the mean ``prize``, and
both the ``gap`` of the means in percent of the mean reference, as POMO's tables (Kwon et
al. 2020): 100 (mean obj − mean ref) / mean ref for a length, 100 (mean ref − mean obj) /
mean ref for a prize, so > 0 is worse than the reference.
"""

from __future__ import annotations

import numpy as np

# which direction is better, per metric (tables bold the best)
HIGHER_IS_BETTER = {"accuracy": True, "mse": False, "mae": False, "explained_variance": True,
                    "tour_length": False, "prize": True, "gap": False}
ROUTING_TYPES = {"routing_length": "tour_length", "routing_prize": "prize"}


def task_metrics(y_true: np.ndarray, y_pred: np.ndarray, task_type: str = "classification") -> dict[str, float]:
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    if task_type in ROUTING_TYPES:
        return routing_metrics(y_true, y_pred, task_type)
    if task_type == "regression":
        err = y_pred.astype(np.float64) - y_true.astype(np.float64)
        mse = float(np.mean(err**2))
        out = {"mse": mse, "mae": float(np.mean(np.abs(err)))}
        var = float(np.var(y_true.astype(np.float64)))
        if var > 0:
            out["explained_variance"] = 1.0 - mse / var
        return out
    return {"accuracy": float(np.mean(y_pred == y_true))}


def routing_metrics(reference: np.ndarray, objective: np.ndarray, task_type: str) -> dict[str, float]:
    """{tour_length | prize: mean objective, gap: percent against the mean reference}; no
    gap where a reference value is missing (NaN)."""
    obj, ref = objective.astype(np.float64), reference.astype(np.float64)
    out = {ROUTING_TYPES[task_type]: float(np.mean(obj))}
    if np.all(np.isfinite(ref)):
        m_obj, m_ref = float(np.mean(obj)), float(np.mean(ref))
        out["gap"] = 100.0 * ((m_ref - m_obj) if task_type == "routing_prize" else (m_obj - m_ref)) / m_ref
    return out


def average_metrics(per_task: dict[str, dict[str, float]]) -> dict[str, float]:
    """Unweighted mean over tasks of every metric that the tasks report."""
    keys = sorted({k for m in per_task.values() for k in m})
    return {k: float(np.mean([m[k] for m in per_task.values() if k in m])) for k in keys}

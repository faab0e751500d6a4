"""The explained variance of regression tasks, 1 − MSE / Var(y_test), and its table."""

from __future__ import annotations

import numpy as np
import pytest

from mtlbench.io import write_json
from mtlbench.metrics import HIGHER_IS_BETTER, average_metrics, task_metrics


def test_explained_variance_values():
    rng = np.random.default_rng(0)
    y = rng.normal(3.0, 2.0, 200)
    perfect = task_metrics(y, y, "regression")
    assert perfect["explained_variance"] == 1.0 and perfect["mse"] == 0.0
    mean = task_metrics(y, np.full_like(y, y.mean()), "regression")
    assert mean["explained_variance"] == pytest.approx(0.0, abs=1e-12)
    pred = y + rng.normal(0, 1.0, 200)
    m = task_metrics(y, pred, "regression")
    assert m["explained_variance"] == pytest.approx(1 - np.mean((pred - y) ** 2) / np.var(y))
    # invariant to an affine rescaling of the task (the per-task standardisation)
    scaled = task_metrics(5 * y - 1, 5 * pred - 1, "regression")
    assert scaled["explained_variance"] == pytest.approx(m["explained_variance"])
    assert "explained_variance" not in task_metrics(y, y, "classification")
    assert HIGHER_IS_BETTER["explained_variance"] is True


def test_constant_test_targets_left_out_of_the_average():
    const = task_metrics(np.array([1.0, 1.0]), np.array([0.5, 1.5]), "regression")
    assert "explained_variance" not in const and const["mse"] == 0.25
    other = task_metrics(np.array([0.0, 2.0]), np.array([0.0, 1.0]), "regression")
    avg = average_metrics({"a": const, "b": other})
    assert avg["explained_variance"] == other["explained_variance"] == 0.5
    assert avg["mse"] == pytest.approx((0.25 + 0.5) / 2)


def test_explained_variance_table_bolds_the_highest(tmp_path):
    from mtlbench.report.tables import write_tables

    paths = []
    for m, ev in {"stl": 0.3, "mean_regularized": 0.5, "pooled": 0.1}.items():
        for seed in range(2):
            per = {"x": {"mse": 1 - ev, "explained_variance": ev + 0.01 * seed}}
            p = tmp_path / f"{m}_{seed}.json"
            write_json(p, {"dataset": "toy", "method": m, "ratio": 0.5, "seed": seed,
                           "metrics": {"per_task": per, "average": per["x"]}})
            paths.append(p)
    write_tables(paths, tmp_path / "t", "toy", ["x"], ["stl", "mean_regularized", "pooled"], [0.5],
                 ["explained_variance"])
    text = (tmp_path / "t" / "toy_0.5_explained_variance.md").read_text()
    assert "best average (highest) in bold" in text and "1 − MSE/Var(y_test)" in text
    assert "**0.505" in text and "<u>0.305" in text

"""Mean-regularised MTL (Evgeniou & Pontil 2004) and trace-norm MTL on constructed tasks."""

from __future__ import annotations

import numpy as np
import pytest

from mtlbench.checks import build_dataclass
from mtlbench.errors import ConfigError
from mtlbench.methods import METHODS, Problem, TaskData
from mtlbench.methods.mean_regularized import MeanRegularized, fit_mean_regularized
from mtlbench.methods.trace_norm import (
    TraceNorm,
    fit_trace_norm,
    numerical_rank,
    singular_value_threshold,
)


def _tasks(n_tasks=6, n=80, d=5, seed=0, noise=0.05, offset=0.3):
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=d)
    v = offset * rng.normal(size=(n_tasks, d))
    xs = [rng.normal(size=(n, d)) for _ in range(n_tasks)]
    ys = [x @ (w0 + v[t]) + 0.7 * t + noise * rng.normal(size=n) for t, x in enumerate(xs)]
    return xs, ys, w0, v


def _ridge(x, y, alpha):
    """Centred ridge regression, written independently of the method."""
    xc, yc = x - x.mean(0), y - y.mean()
    return np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)


def test_mean_regularized_recovers_w0_plus_vt():
    xs, ys, w0, v = _tasks()
    west, vest, b = fit_mean_regularized(xs, ys, lambda1=1e-3, lambda2=1e-3)
    assert np.allclose(west + vest, w0 + v, atol=0.02)
    assert np.allclose(b, 0.7 * np.arange(6), atol=0.05)  # the per-task intercepts
    # with a penalty on the offsets, w_0 is the tasks' mean (it minimises Σ‖w_t − w_0‖² at λ₂ ≪ λ₁)
    west, vest, _ = fit_mean_regularized(xs, ys, lambda1=10.0, lambda2=1e-6)
    assert np.allclose(west, (w0 + v).mean(axis=0), atol=0.05)
    assert np.abs(vest.sum(axis=0)).max() < 0.05


def test_mean_regularized_limits_stl_and_pooled():
    xs, ys, _, _ = _tasks(offset=1.0)
    lam1 = 6.0  # μ = λ₁/T = 1
    # λ₂ → ∞: w_0 → 0, each task its own ridge regression with penalty λ₁/T
    w0, v, _ = fit_mean_regularized(xs, ys, lambda1=lam1, lambda2=1e9)
    assert np.linalg.norm(w0) < 1e-6
    for t in range(6):
        assert np.allclose(v[t], _ridge(xs[t], ys[t], lam1 / 6), atol=1e-6)
    # λ₁ → ∞: v_t → 0, one ridge regression on the pooled (per-task centred) data, penalty λ₂
    w0, v, _ = fit_mean_regularized(xs, ys, lambda1=1e12, lambda2=2.0)
    xc = np.concatenate([x - x.mean(0) for x in xs])
    yc = np.concatenate([y - y.mean() for y in ys])
    pooled = np.linalg.solve(xc.T @ xc + 2.0 * np.eye(5), xc.T @ yc)
    assert np.abs(v).max() < 1e-6 and np.allclose(w0, pooled, atol=1e-6)
    # and between them the solution moves from one to the other
    gaps = [np.linalg.norm(fit_mean_regularized(xs, ys, lam, 1.0)[1]) for lam in (1.0, 100.0, 1e4)]
    assert gaps[0] > gaps[1] > gaps[2]


def test_trace_norm_rank_falls_as_lambda_grows():
    rng = np.random.default_rng(3)
    d, n_tasks, n = 8, 10, 60
    u = rng.normal(size=(d, 2))
    w_true = (u @ rng.normal(size=(2, n_tasks))).T + 0.3 * rng.normal(size=(n_tasks, d))  # rank 2 + full-rank noise
    xs = [rng.normal(size=(n, d)) for _ in range(n_tasks)]
    ys = [x @ w_true[t] + 0.1 * rng.normal(size=n) for t, x in enumerate(xs)]
    ranks = [numerical_rank(fit_trace_norm(xs, ys, lam)[0]) for lam in (1e-3, 30.0, 150.0, 400.0, 1e5)]
    assert ranks[0] == min(d, n_tasks) and ranks[-1] == 0
    assert all(a >= b for a, b in zip(ranks, ranks[1:])) and len(set(ranks)) >= 3, ranks
    # small λ: least squares per task
    w, _, _ = fit_trace_norm(xs, ys, 1e-6, max_iter=5000, tol=1e-10)
    assert np.allclose(w[0], _ridge(xs[0], ys[0], 1e-9), atol=1e-3)


def test_trace_norm_optimality():
    """At the solution, −∇f(W)/λ is a subgradient of ‖W‖_*: spectral norm ≤ 1 (a KKT check)."""
    xs, ys, _, _ = _tasks(n_tasks=5, d=6, seed=4)
    lam = 20.0
    w, b, _ = fit_trace_norm(xs, ys, lam, max_iter=10000, tol=1e-11)
    grad = np.stack([(x - x.mean(0)).T @ ((x - x.mean(0)) @ w[t] - (y - y.mean())) for t, (x, y) in enumerate(zip(xs, ys))])
    assert np.linalg.norm(grad, 2) <= lam * (1 + 1e-4)
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    k = int((s > 1e-8).sum())
    # on the column space of W: ∇f = −λ U Vᵀ
    assert np.allclose(u[:, :k].T @ grad @ vt[:k].T, -lam * np.eye(k), atol=1e-3 * lam)
    assert np.allclose(singular_value_threshold(np.diag([3.0, 1.0]), 2.0), np.diag([1.0, 0.0]))


def _problem(xs, ys, n_test=40, seed=9):
    rng = np.random.default_rng(seed)
    data = {}
    for t, (x, y) in enumerate(zip(xs, ys)):
        idx = rng.permutation(len(y))
        te, tr = idx[:n_test], idx[n_test:]
        data[f"t{t}"] = TaskData(x[tr].astype(np.float32), y[tr], x[te].astype(np.float32), y[te])
    tasks = list(data)
    return Problem(tasks=tasks, n_classes=1, data=data, task_types=dict.fromkeys(tasks, "regression"))


@pytest.mark.parametrize("name", ["mean_regularized", "trace_norm"])
def test_methods_fit_predict(name):
    xs, ys, _, _ = _tasks(n=120, seed=5)
    problem = _problem(xs, ys)
    cls = METHODS[name]
    hp = build_dataclass(cls.Hparams, {}, f"methods.{name}")
    out = cls(hp).fit_predict(problem, seed=0)
    for t in problem.tasks:
        d = problem.data[t]
        mse = np.mean((out.predictions[t] - d.y_test) ** 2)
        assert mse < 0.1 * np.var(d.y_test)  # close to the noise, far below predicting the mean
    assert out.extra["chosen"]["cv_mse"]
    again = cls(hp).fit_predict(problem, seed=0)
    assert all(np.array_equal(out.predictions[t], again.predictions[t]) for t in problem.tasks)


def test_regression_only_and_bad_hparams():
    assert MeanRegularized.task_types == ("regression",) and TraceNorm.task_types == ("regression",)
    xs, ys, _, _ = _tasks(n_tasks=2, n=60)
    problem = _problem(xs, ys, n_test=20)
    problem.task_types["t0"] = "classification"
    with pytest.raises(ConfigError, match="regression tasks only"):
        MeanRegularized(MeanRegularized.Hparams()).fit_predict(problem, seed=0)
    with pytest.raises(ConfigError, match=r"methods\.m\.lambdas"):
        build_dataclass(TraceNorm.Hparams, {"lambdas": [1.0, -1.0]}, "methods.m")

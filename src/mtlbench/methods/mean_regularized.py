"""mean_regularized: regularised multi-task learning (Evgeniou & Pontil, KDD 2004).

Each task's weights are a shared mean plus a task-specific offset, w_t = w_0 + v_t, and
the offsets and the mean are penalised separately (the paper's eq. (5), with the squared
loss of regression in place of its SVM hinge loss)::

    min_{w_0, v_t, b_t}  Σ_t Σ_i (y_ti − (w_0 + v_t)ᵀx_ti − b_t)²
                         + (λ₁/T) Σ_t ‖v_t‖² + λ₂ ‖w_0‖²                          (1)

(b_t an unpenalised intercept per task, :mod:`mtlbench.methods.blocks.task_linear`).  λ₁/λ₂
sets how close the tasks are held to their mean: λ₂ → ∞ forces w_0 → 0, leaving one ridge
regression per task with penalty λ₁/T (single-task learning); λ₁ → ∞ forces v_t → 0,
leaving one ridge regression on every task's data with penalty λ₂ (pooling).

(1) is quadratic; with A_t = X_tᵀX_t, c_t = X_tᵀy_t (centred per task) and μ = λ₁/T,
its stationarity conditions are

    v_t = (A_t + μI)⁻¹ (c_t − A_t w_0)                                              (2)
    [λ₂ I + μ Σ_t (A_t + μI)⁻¹ A_t] w_0 = μ Σ_t (A_t + μI)⁻¹ c_t                      (3)

((3) follows from ∂/∂w_0: Σ_t (A_t(w_0 + v_t) − c_t) + λ₂w_0 = 0, where by (2) each term
A_t(w_0 + v_t) − c_t = −μ v_t).  We solve the D × D system (3), then (2) per task: exact,
no iterations, cost O(T D³).  λ₁ and λ₂ are chosen from ``lambda1s`` × ``lambda2s`` by
k-fold cross-validation inside the training part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .base import Method, MethodResult, Problem
from .blocks import task_linear as tl


@dataclass(frozen=True)
class MeanRegularizedHparams:
    # λ₁ tried: offsets v_t (as λ₁/T, hence the larger values)
    lambda1s: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0, 1.0e4, 1.0e5)
    lambda2s: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)  # λ₂ tried: the mean w_0
    folds: int = 3  # cross-validation folds inside the training part
    standardize: bool = True  # z-score with all tasks' training rows pooled

    def check(self, where: str) -> None:
        tl.check_grid(self.lambda1s, f"{where}.lambda1s")
        tl.check_grid(self.lambda2s, f"{where}.lambda2s")
        if self.folds < 2:
            raise ConfigError(f"{where}.folds: must be >= 2, got {self.folds}")


def fit_mean_regularized(xs: list[np.ndarray], ys: list[np.ndarray], lambda1: float, lambda2: float):
    """Solve (1) exactly: (w_0 (D,), V (T, D), b (T,)); w_t = w_0 + V[t]."""
    c = tl.centre(xs, [np.asarray(y, dtype=np.float64) for y in ys])
    d, n_tasks = xs[0].shape[1], len(xs)
    mu = lambda1 / n_tasks
    eye = np.eye(d)
    lhs, rhs, parts = lambda2 * eye, np.zeros(d), []
    for x, y, _, _ in c:
        a, ct = x.T @ x, x.T @ y
        inv = np.linalg.solve(a + mu * eye, np.column_stack([a, ct]))  # (A_t + μI)⁻¹ [A_t | c_t]
        lhs = lhs + mu * inv[:, :d]
        rhs = rhs + mu * inv[:, d]
        parts.append(inv)
    w0 = np.linalg.solve(lhs, rhs)  # (3)
    v = np.stack([inv[:, d] - inv[:, :d] @ w0 for inv in parts])  # (2)
    return w0, v, tl.intercepts(w0[None, :] + v, c)


class MeanRegularized(Method):
    """Equation (1): w_t = w_0 + v_t with λ₁‖v_t‖²/T + λ₂‖w_0‖², solved by (2)-(3)."""

    name = "mean_regularized"
    task_types = ("regression",)
    Hparams = MeanRegularizedHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        xs, ys, mean, sd = tl.training_arrays(problem, self.name, self.hp.standardize)

        def fit(xs_, ys_, params):
            w0, v, b = fit_mean_regularized(xs_, ys_, *params)
            return w0[None, :] + v, b

        (lam1, lam2), scores = tl.cv_select(fit, tl.grid_of(self.hp.lambda1s, self.hp.lambda2s), xs, ys,
                                         self.hp.folds, seed)
        w0, v, b = fit_mean_regularized(xs, ys, lam1, lam2)
        preds = tl.predict_tests(problem, w0[None, :] + v, b, mean, sd)
        return MethodResult(predictions=preds, extra={
            "chosen": {"lambda1": lam1, "lambda2": lam2, "cv_mse": scores},
            "norm_w0": float(np.linalg.norm(w0)), "mean_norm_v": float(np.linalg.norm(v, axis=1).mean())})

"""trace_norm: low-rank multi-task regression, a nuclear-norm penalty on W by proximal gradient.

The task weight vectors are the columns of W = [w_1, …, w_T] (D × T), and a low-rank W
means the tasks share a few directions of the input space (the trace-norm relaxation of
Argyriou et al. 2008's multi-task feature learning; the convex form of Ji & Ye, ICML
2009, MALSAR's ``Least_Trace``)::

    min_{W, b}  F(W) = Σ_t ½ ‖X_t w_t + b_t − y_t‖² + λ ‖W‖_*                      (1)

‖W‖_* = Σ_k σ_k(W), the sum of its singular values; b_t an unpenalised intercept per task
(features and targets centred per task, :mod:`mtlbench.methods.blocks.task_linear`).

Solved by accelerated proximal gradient (FISTA, Beck & Teboulle 2009; Ji & Ye 2009's
scheme): the smooth part f(W) = Σ_t ½‖X_t w_t − y_t‖² has gradient ∇_t = X_tᵀ(X_t w_t − y_t),
Lipschitz constant L = max_t σ_max(X_t)², and the proximal step of λ‖·‖_* is singular
value thresholding::

    prox(Z) = U diag(max(σ − λ/L, 0)) Vᵀ,   Z = U diag(σ) Vᵀ                          (2)
    W_k = prox(Y_k − ∇f(Y_k)/L),  s_{k+1} = (1 + √(1 + 4s_k²))/2,
    Y_{k+1} = W_k + ((s_k − 1)/s_{k+1}) (W_k − W_{k−1})                               (3)

until ‖W_k − W_{k−1}‖_F ≤ tol · max(1, ‖W_k‖_F) or ``max_iter`` steps.  The larger λ, the
more singular values (2) sets to zero: the rank of the solution falls as λ grows.  λ is
chosen from ``lambdas`` by k-fold cross-validation inside the training part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .base import Method, MethodResult, Problem
from .blocks import task_linear as tl


@dataclass(frozen=True)
class TraceNormHparams:
    lambdas: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)  # λ tried in (1)
    folds: int = 3  # cross-validation folds inside the training part
    max_iter: int = 2000  # proximal-gradient steps (3)
    tol: float = 1.0e-6  # relative change of W that stops (3)
    standardize: bool = True  # z-score with all tasks' training rows pooled

    def check(self, where: str) -> None:
        tl.check_grid(self.lambdas, f"{where}.lambdas")
        if self.folds < 2:
            raise ConfigError(f"{where}.folds: must be >= 2, got {self.folds}")
        if self.max_iter < 1:
            raise ConfigError(f"{where}.max_iter: must be >= 1, got {self.max_iter}")
        if not self.tol > 0:
            raise ConfigError(f"{where}.tol: must be > 0, got {self.tol}")


def singular_value_threshold(z: np.ndarray, tau: float) -> np.ndarray:
    """(2): the proximal operator of tau‖·‖_* at z."""
    u, s, vt = np.linalg.svd(z, full_matrices=False)
    return (u * np.maximum(s - tau, 0.0)) @ vt


def fit_trace_norm(xs: list[np.ndarray], ys: list[np.ndarray], lam: float, max_iter: int = 2000,
                   tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, int]:
    """Solve (1) by (2)-(3): (W (T, D) — row t is w_t —, b (T,), steps taken)."""
    c = tl.centre(xs, [np.asarray(y, dtype=np.float64) for y in ys])
    d = xs[0].shape[1]
    gram = [(x.T @ x, x.T @ y) for x, y, _, _ in c]
    lips = max([np.linalg.eigvalsh(a)[-1] for a, _ in gram if a.size] + [1e-12])
    w = w_prev = np.zeros((len(xs), d))
    y_k, s = w.copy(), 1.0
    steps = 0
    for k in range(1, max_iter + 1):
        steps = k
        grad = np.stack([a @ y_k[t] - cy for t, (a, cy) in enumerate(gram)])
        # the penalty acts on W = [w_1 … w_T] (D × T); its singular values are those of Wᵀ too
        w = singular_value_threshold(y_k - grad / lips, lam / lips)
        s_next = (1.0 + np.sqrt(1.0 + 4.0 * s * s)) / 2.0
        y_k = w + ((s - 1.0) / s_next) * (w - w_prev)
        s = s_next
        if np.linalg.norm(w - w_prev) <= tol * max(1.0, np.linalg.norm(w)):
            break
        w_prev = w
    return w, tl.intercepts(w, c), steps


def numerical_rank(w: np.ndarray, rel: float = 1e-6) -> int:
    """The number of singular values above ``rel`` times the largest (0 for W = 0)."""
    s = np.linalg.svd(w, compute_uv=False)
    return int((s > rel * s[0]).sum()) if s.size and s[0] > 0 else 0


class TraceNorm(Method):
    """Equation (1) solved by accelerated proximal gradient with singular value thresholding."""

    name = "trace_norm"
    task_types = ("regression",)
    Hparams = TraceNormHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        xs, ys, mean, sd = tl.training_arrays(problem, self.name, self.hp.standardize)

        def fit(xs_, ys_, params):
            w_, b_, _ = fit_trace_norm(xs_, ys_, params[0], self.hp.max_iter, self.hp.tol)
            return w_, b_

        (lam,), scores = tl.cv_select(fit, tl.grid_of(self.hp.lambdas), xs, ys, self.hp.folds, seed)
        w, b, steps = fit_trace_norm(xs, ys, lam, self.hp.max_iter, self.hp.tol)
        preds = tl.predict_tests(problem, w, b, mean, sd)
        return MethodResult(predictions=preds, extra={
            "chosen": {"lambda": lam, "cv_mse": scores}, "rank": numerical_rank(w),
            "singular_values": np.linalg.svd(w, compute_uv=False).tolist(), "steps": steps})

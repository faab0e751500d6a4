"""AMTNN's relation step: the task-relation coefficients alpha in closed form.

Shui et al. (IJCAI 2019), Theorem 1 / Eq. (1) bound the risk of task t by

    R_t(h) <= Σ_i α_ti R̂_i(h) + C·sqrt(Σ_i α_ti² / m_i) + Σ_i α_ti d(D_t, D_i) + const,

and Algorithm 1's second step (network fixed) minimises that bound over α_t for every
task t separately (their Eq. (5)):

    min_{α_t ∈ Δ_T}  Σ_i α_ti c_ti + κ·sqrt(Σ_i α_ti² / m_i),     c_ti = R̂_ti + ρ·d̂_ti,

with Δ_T the probability simplex, R̂_ti the empirical loss of task t's classifier on
task i, d̂_ti the estimated divergence and m_i the number of labelled samples of task i.

The problem is convex and tiny, and it has an exact solution (derived from its KKT
conditions; no iterative solver): with s = sqrt(Σ α_i²/m_i) > 0 on the simplex, the
stationarity condition c_i + κ·α_i/(m_i s) = λ on the support and c_i >= λ off it gives

    α_i ∝ m_i·(λ - c_i)_+,      λ the unique root of  Σ_i m_i (λ - c_i)_+² = κ²,

and the root is found exactly by sorting c (the left side is an increasing piecewise
quadratic in λ).  :func:`kkt_residual` checks optimality of any simplex point.

Two forms of the norm term (``kappa_form``).  ``paper``: κ·sqrt(Σ_i α_ti²/m_i) as above.
``code``: the public code's C₂·‖α_t‖₂ (cjshui/AMTNN ``alpha_opt.py``, ``min_loss``:
``C_2 * cp.norm(alpha)``, with C₂ = 1 set in ``MTL.py``, ``c_2 = 1 * np.ones(...)``), which is
the paper's form with every m_i = 1 and κ = C₂.  With m_i = m for all tasks, C₂ = κ/sqrt(m):
the code's C₂ = 1 is the paper's κ = sqrt(m) (≈ 16 at 250 samples a task, ≈ 32 at 1,000).
"""

from __future__ import annotations

import numpy as np

from ...errors import ConfigError


def relation_objective(alpha: np.ndarray, costs: np.ndarray, n_train: np.ndarray, kappa: float) -> float:
    """Σ_i α_i c_i + κ·sqrt(Σ_i α_i²/m_i) for one task's row; all arrays (T,)."""
    return float(alpha @ costs + kappa * np.sqrt(np.sum(alpha**2 / n_train)))


def solve_relation_row(costs: np.ndarray, n_train: np.ndarray, kappa: float) -> np.ndarray:
    """The exact minimiser over the simplex of :func:`relation_objective` (module docstring).

    costs: (T,) c_i = R̂_i + ρ d̂_i; n_train: (T,) m_i > 0; kappa >= 0.  Returns α (T,), α >= 0,
    Σ α = 1.  With κ = 0 the problem is a linear program: the mass is split evenly among the
    tasks of minimal cost (every such split is optimal).
    """
    c = np.asarray(costs, dtype=np.float64)
    m = np.asarray(n_train, dtype=np.float64)
    if c.ndim != 1 or c.shape != m.shape:
        raise ValueError(f"costs {c.shape} and n_train {m.shape} must be equal 1-d shapes")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"costs must be finite, got {c}")
    if np.any(m <= 0):
        raise ValueError(f"n_train must be positive, got {m}")
    if kappa < 0:
        raise ValueError(f"kappa must be >= 0, got {kappa}")
    if kappa == 0:
        tie = c <= c.min() + 1e-12 * max(1.0, abs(c.min()))
        return tie / tie.sum()
    order = np.argsort(c)
    cs, ms = c[order], m[order]
    # For the k cheapest tasks active: (Σm) λ² - 2(Σ m c) λ + Σ m c² - κ² = 0, larger root;
    # valid when it lies in [c_(k), c_(k+1)].
    sm, smc, smc2 = np.cumsum(ms), np.cumsum(ms * cs), np.cumsum(ms * cs**2)
    lam = None
    for k in range(len(c)):
        disc = smc[k] ** 2 - sm[k] * (smc2[k] - kappa**2)
        root = (smc[k] + np.sqrt(max(disc, 0.0))) / sm[k]
        if k == len(c) - 1 or root <= cs[k + 1]:
            lam = root
            break
    weights = m * np.clip(lam - c, 0.0, None)
    return weights / weights.sum()


def relation_gradient(alpha: np.ndarray, costs: np.ndarray, n_train: np.ndarray, kappa: float) -> np.ndarray:
    """∇_α of the relation objective: c_i + κ α_i / (m_i s), s = sqrt(Σ α²/m)."""
    s = np.sqrt(np.sum(alpha**2 / n_train))
    return costs + (kappa * alpha / (n_train * s) if s > 0 else 0.0)


def kkt_residual(alpha: np.ndarray, costs: np.ndarray, n_train: np.ndarray, kappa: float) -> dict:
    """Optimality check of a simplex point for the relation problem.

    Returns ``simplex`` (max violation of α >= 0 and Σα = 1), ``stationarity`` (largest
    g_i - min_j g_j over the support α_i > 1e-9; zero at the optimum, where the gradient g
    equals the multiplier λ = min g on the support) and ``gap`` (the Frank-Wolfe gap
    g·α - min g, an upper bound on the objective's suboptimality by convexity).
    """
    a = np.asarray(alpha, dtype=np.float64)
    g = relation_gradient(a, np.asarray(costs, float), np.asarray(n_train, float), kappa)
    support = a > 1e-9
    return {
        "simplex": float(max(-a.min(), abs(a.sum() - 1.0), 0.0)),
        "stationarity": float(np.max(g[support] - g.min())),
        "gap": float(g @ a - g.min()),
    }


KAPPA_FORMS = ("code", "paper")


def relation_step(losses: np.ndarray, divergences: np.ndarray, n_train: np.ndarray,
                  kappa: float = 1.0, rho: float = 0.5, kappa_form: str = "code") -> np.ndarray:
    """All tasks' rows of α (Algorithm 1, step 2).

    losses: (T, T), losses[t, i] = R̂_i(h_t), the loss of task t's classifier on task i;
    divergences: (T, T) d̂(D_t, D_i) (diagonal ignored: a task's divergence to itself is 0,
    so the estimates must be on a scale where indistinguishable tasks score 0, e.g. the
    proxy A-distance, not a discriminator's accuracy); n_train: (T,) labelled samples per
    task; ``kappa_form``: ``code`` (κ‖α_t‖₂, the public code's C₂ = κ; n_train unused) or
    ``paper`` (κ·sqrt(Σ α²/m), module docstring).  Returns α (T, T), row t on the simplex.
    """
    if rho < 0:
        raise ConfigError(f"rho: must be >= 0, got {rho}")
    if kappa_form not in KAPPA_FORMS:
        raise ConfigError(f"kappa_form: must be one of {', '.join(KAPPA_FORMS)}, got {kappa_form!r}")
    n_train = np.asarray(n_train, dtype=np.float64)
    if kappa_form == "code":
        n_train = np.ones_like(n_train)
    d = np.array(divergences, dtype=np.float64)
    np.fill_diagonal(d, 0.0)
    costs = np.asarray(losses, dtype=np.float64) + rho * d
    return np.stack([solve_relation_row(costs[t], n_train, kappa) for t in range(len(costs))])

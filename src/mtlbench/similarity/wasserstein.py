"""Wasserstein distances between two tasks' feature distributions (POT).

For samples X_s (n, D) and X_t (m, D) with uniform weights a = 1/n, b = 1/m and the
ground cost M_kl = ||x_k − x_l||² (+ λ·[y_k ≠ y_l] when label-aware):

- ``exact``: W = min_{P ∈ U(a, b)} <P, M> by network simplex (``ot.emd2``), on a seeded
  subsample of at most ``n_samples`` points per task (the LP is O(n³));
- ``sinkhorn``: the entropic plan P_ε = argmin <P, M> − ε H(P) (Cuturi 2013, Eq. 2),
  reported as its transport cost <P_ε, M> (``ot.sinkhorn2``, log-domain stabilised);
  it tends to the exact W as ε → 0;
- ``sliced``: SW_2 (Bonneel et al. 2015): the root mean squared 1-D W_2 over
  ``n_projections`` random directions (``ot.sliced_wasserstein_distance``); its ground
  cost is the squared Euclidean distance along each projection, labels are not used.

The label-aware cost (λ > 0) adds λ for every pair of samples of different classes
(λ in units of the mean squared feature distance when ``relative``, the default),
a simple form of the joint feature-label distance of Alvarez-Melis & Fusi (2020, Eq. 2,
with the label-to-label distance replaced by the 0/1 class mismatch); for regression
targets it adds λ·(y_k − y_l)², the W_2 between the joint (x, y) distributions with y
scaled by √λ.  Tasks that share their inputs (the ETT variables: one window, seven
targets) differ only through this term.
Exact and Sinkhorn return the optimal cost in squared-distance units (W_2², with the
label term); ``sliced`` returns SW_2 (a distance, not squared).
"""

from __future__ import annotations

import numpy as np
import ot

from ..errors import ConfigError

METHODS = ("exact", "sinkhorn", "sliced")


def subsample(x: np.ndarray, y: np.ndarray | None, n: int | None, rng: np.random.Generator):
    """At most ``n`` rows of x (and y), drawn without replacement."""
    if n is None or len(x) <= n:
        return x, y
    idx = np.sort(rng.choice(len(x), size=n, replace=False))
    return x[idx], (y[idx] if y is not None else None)


def ground_cost(xs: np.ndarray, xt: np.ndarray, ys=None, yt=None, label_weight: float = 0.0) -> np.ndarray:
    """(n, m) squared Euclidean cost, plus ``label_weight`` times the label distance:
    the 0/1 class mismatch for integer class labels, the squared difference
    (y_k − y_l)² for float (regression) targets."""
    cost = ot.dist(np.asarray(xs, dtype=np.float64), np.asarray(xt, dtype=np.float64), metric="sqeuclidean")
    if label_weight:
        if ys is None or yt is None:
            raise ConfigError("label_weight: a label-aware cost needs the labels of both samples")
        ys, yt = np.asarray(ys), np.asarray(yt)
        if np.issubdtype(ys.dtype, np.floating) or np.issubdtype(yt.dtype, np.floating):
            label_cost = (ys.astype(np.float64)[:, None] - yt.astype(np.float64)[None, :]) ** 2
        else:
            label_cost = ys[:, None] != yt[None, :]
        cost = cost + label_weight * label_cost
    return cost


def wasserstein_distance(xs, xt, method: str = "exact", ys=None, yt=None, label_weight: float = 0.0,
                         n_samples: int | None = 500, eps: float = 1e-2, n_projections: int = 200,
                         seed: int = 0, relative: bool = True) -> float:
    """The distance between the rows of xs (n, D) and xt (m, D).

    ys, yt: (n,), (m,) class labels, used only when ``label_weight`` > 0.
    n_samples: subsample size per task (seeded) for ``exact`` and ``sinkhorn``.
    eps: Sinkhorn's entropic regularisation.  label_weight: λ of the class-mismatch term.
    With ``relative`` both are multiplied by the mean squared feature distance between
    the two samples, so one setting suits features of any scale and dimension.
    """
    if method not in METHODS:
        raise ConfigError(f"method: must be one of {', '.join(METHODS)}; got {method!r}")
    rng = np.random.default_rng(seed)
    xs = np.asarray(xs, dtype=np.float64)
    xt = np.asarray(xt, dtype=np.float64)
    if xs.ndim != 2 or xt.ndim != 2 or xs.shape[1] != xt.shape[1]:
        raise ConfigError(f"xs, xt: must be (n, D) and (m, D) with the same D, got {xs.shape} and {xt.shape}")
    if method == "sliced":
        if label_weight:
            raise ConfigError("label_weight: the sliced distance has no label-aware form; use exact or sinkhorn")
        return float(ot.sliced_wasserstein_distance(xs, xt, n_projections=n_projections, p=2, seed=seed))
    xs, ys = subsample(xs, None if ys is None else np.asarray(ys), n_samples, rng)
    xt, yt = subsample(xt, None if yt is None else np.asarray(yt), n_samples, rng)
    a = np.full(len(xs), 1.0 / len(xs))
    b = np.full(len(xt), 1.0 / len(xt))
    feature_cost = ground_cost(xs, xt)
    unit = float(feature_cost.mean()) if relative else 1.0
    cost = feature_cost
    if label_weight:
        cost = feature_cost + ground_cost(xs[:, :0], xt[:, :0], ys, yt, label_weight * unit)
    if method == "exact":
        return float(ot.emd2(a, b, cost, numItermax=10_000_000))
    if eps <= 0:
        raise ConfigError(f"eps: must be > 0, got {eps}")
    reg = eps * unit
    # ot.sinkhorn2 returns the transport cost <P_ε, M> of the entropic plan
    return float(ot.sinkhorn2(a, b, cost, reg, method="sinkhorn_log", numItermax=10_000, stopThr=1e-9))


def wasserstein_matrix(samples: list[tuple[np.ndarray, np.ndarray | None]], **kwargs) -> np.ndarray:
    """(T, T) symmetric matrix of :func:`wasserstein_distance` between every two tasks.

    samples: one (x (n_t, D), y (n_t,) or None) per task, in task order.  The pair (s, t)
    uses seed ``seed + s * T + t`` for its subsamples; the diagonal is 0.
    """
    n = len(samples)
    seed = kwargs.pop("seed", 0)
    out = np.zeros((n, n))
    for s in range(n):
        for t in range(s + 1, n):
            (xs, ys), (xt, yt) = samples[s], samples[t]
            out[s, t] = out[t, s] = wasserstein_distance(xs, xt, ys=ys, yt=yt, seed=seed + s * n + t, **kwargs)
    return out

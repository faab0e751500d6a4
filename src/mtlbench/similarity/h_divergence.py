"""The proxy A-distance (Ben-David et al. 2007, Sec. 4; 2010, Eq. 1 and Lemma 2).

The H-divergence between two domains is estimated from how well a classifier can tell
their samples apart: train a domain classifier (here an L2-regularised logistic
regression on standardised features) to separate task s (label 0) from task t
(label 1) on one part of the samples, measure its error ε on the held-out rest, and
report

    d_A = 2 (1 − 2 ε)                                                              (1)

d_A ≈ 0 when the domains are indistinguishable (ε ≈ 0.5), d_A = 2 when perfectly
separable (ε = 0).  Held-out ε slightly above 0.5 gives a small negative d_A, which is
clipped to 0 (``clip=True``) as in Ganin et al. (2016, Sec. 5.1.4).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .wasserstein import subsample


def proxy_a_distance(xs, xt, seed: int = 0, test_fraction: float = 0.5, n_samples: int | None = 1000,
                     C: float = 1.0, clip: bool = True) -> float:
    """Eq. (1) between the rows of xs (n, D) and xt (m, D).

    Each domain is subsampled to at most ``n_samples`` rows (seeded), then both are split
    stratified into train and a held-out ``test_fraction``; ``C`` is the inverse L2 strength.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction: must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    xs, _ = subsample(np.asarray(xs, dtype=np.float64), None, n_samples, rng)
    xt, _ = subsample(np.asarray(xt, dtype=np.float64), None, n_samples, rng)
    x = np.concatenate([xs, xt])
    d = np.concatenate([np.zeros(len(xs), dtype=int), np.ones(len(xt), dtype=int)])
    x_tr, x_te, d_tr, d_te = train_test_split(x, d, test_size=test_fraction, stratify=d, random_state=seed)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    clf.fit(x_tr, d_tr)
    err = float(np.mean(clf.predict(x_te) != d_te))
    value = 2.0 * (1.0 - 2.0 * err)
    return max(value, 0.0) if clip else value


def a_distance_matrix(samples: list[np.ndarray], seed: int = 0, **kwargs) -> np.ndarray:
    """(T, T) symmetric matrix of :func:`proxy_a_distance`; samples: one (n_t, D) per task."""
    n = len(samples)
    out = np.zeros((n, n))
    for s in range(n):
        for t in range(s + 1, n):
            out[s, t] = out[t, s] = proxy_a_distance(samples[s], samples[t], seed=seed + s * n + t, **kwargs)
    return out

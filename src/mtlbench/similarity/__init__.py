"""Task similarity estimators, each a plain function over arrays, and their file contract.

Convention: a directed estimator's matrix ``m[i, t]`` is about source i onto target t
(as the gains of :mod:`mtlbench.grouping`); distances are symmetric.

The names below are imported on first use, so a job that needs one estimator (or only
the transfer gains) does not pay for importing POT and scikit-learn.
"""

import importlib

_WHERE = {"correlation_table": "correlation", "rank_correlation": "correlation",
          "a_distance_matrix": "h_divergence", "proxy_a_distance": "h_divergence",
          "read_similarity": "io", "write_similarity": "io",
          "wasserstein_distance": "wasserstein", "wasserstein_matrix": "wasserstein"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

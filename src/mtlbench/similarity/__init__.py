"""Task similarity estimators, each a plain function over arrays, and their file contract.

Convention: a directed estimator's matrix ``m[i, t]`` is about source i onto target t
(as the gains of :mod:`mtlbench.grouping`); distances are symmetric.
"""

from .correlation import correlation_table, rank_correlation
from .h_divergence import a_distance_matrix, proxy_a_distance
from .io import read_similarity, write_similarity
from .wasserstein import wasserstein_distance, wasserstein_matrix

__all__ = ["a_distance_matrix", "correlation_table", "proxy_a_distance", "rank_correlation",
           "read_similarity", "wasserstein_distance", "wasserstein_matrix", "write_similarity"]

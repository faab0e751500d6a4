"""Baseline groupings compared with the MIP under the same budget B.

- :func:`all_in_one`: one network for every task (plain MTL).
- :func:`each_alone`: one network per task (STL); ignores the budget.
- :func:`tag_grouping`: TAG's network selection (Fifty et al. 2021, Sec. 3.3): choose at
  most B groups, each task served by the chosen group where its *total inter-task
  affinity* is highest, the affinity onto t within g being the mean of Z(i→t) over
  i ∈ g∖t (TAG's lookahead affinities, :mod:`mtlbench.similarity.tag_affinity`); a
  task alone scores 0.  TAG solves this selection by branch and bound; we solve the
  same selection problem exactly with :func:`mtlbench.grouping.mip.choose_groups`.
- :func:`hoa_grouping`: the higher-order approximation of Standley et al. (2020,
  Sec. 3.3): a task's performance in group g is approximated by the mean of its
  performance in the pairs {t, i}, i ∈ g∖t, i.e. its mean pairwise transfer gain
  (:mod:`mtlbench.similarity.transfer_gain`) above training alone; networks are then
  selected as in TAG (each task served by its best chosen network; the paper uses
  branch and bound over the same objective, we solve it exactly).
- :func:`cluster_grouping`: spectral or agglomerative clustering of a task × task
  similarity (or distance) matrix into B clusters.
- :func:`random_grouping`: every task assigned to one of B groups uniformly at random
  (seeded); empty groups vanish.

Every function returns a :class:`~mtlbench.grouping.base.GroupingResult` whose
``objective`` is Eq. (1) under the gain matrix given as ``gain`` (when given), so all
groupings are scored alike.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import GroupingResult, canonical_groups, check_gain, make_constraints, partition_value
from .mip import choose_groups, served_value


def _fixed(solver: str, groups, n: int, budget: int, gain=None, extra=None) -> GroupingResult:
    groups = canonical_groups(groups)
    served = [0] * n
    for k, grp in enumerate(groups):
        for t in grp:
            served[t] = k
    value = partition_value(check_gain(gain), groups) if gain is not None else float("nan")
    return GroupingResult(solver=solver, groups=groups, objective=value, status="heuristic",
                          constraints={"budget": int(budget)}, served_by=served, extra=extra or {})


def all_in_one(n_tasks: int, gain=None) -> GroupingResult:
    return _fixed("all_in_one", [list(range(n_tasks))], n_tasks, 1, gain)


def each_alone(n_tasks: int, gain=None) -> GroupingResult:
    return _fixed("each_alone", [[t] for t in range(n_tasks)], n_tasks, n_tasks, gain)


def tag_grouping(affinity, budget: int, max_group_size: int | None = None, time_limit_s: float = 60.0,
                 seed: int = 0, tasks=None, gain=None) -> GroupingResult:
    """TAG's selection over its affinities ``affinity[i, t]`` = Z(i→t), shape (T, T)."""
    res = choose_groups(affinity, budget, max_group_size=max_group_size, score="mean",
                        time_limit_s=time_limit_s, seed=seed, tasks=tasks, solver_name="tag")
    return rescore(res, gain)


def hoa_grouping(pair_gain, budget: int, max_group_size: int | None = None, time_limit_s: float = 60.0,
                 seed: int = 0, tasks=None, gain=None) -> GroupingResult:
    """HOA's selection over measured pairwise gains ``pair_gain[i, t]``, shape (T, T)."""
    res = choose_groups(pair_gain, budget, max_group_size=max_group_size, score="mean",
                        time_limit_s=time_limit_s, seed=seed, tasks=tasks, solver_name="hoa")
    return rescore(res, gain)


def rescore(res: GroupingResult, gain) -> GroupingResult:
    """Keep the method's own score in ``extra``; score by Eq. (1)-style served value under ``gain``."""
    res.extra["own_objective"] = res.objective
    if gain is not None:
        g = check_gain(gain)
        res.objective = float(sum(served_value(g, t, res.groups[res.served_by[t]], "sum")
                                  for t in range(len(g))))
    else:
        res.objective = float("nan")
    return res


def _symmetric_offdiag(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ConfigError(f"matrix: must be square (T, T), got shape {m.shape}")
    m = (m + m.T) / 2.0
    np.fill_diagonal(m, 0.0)
    return m


def cluster_grouping(matrix, budget: int, kind: str = "similarity", method: str = "spectral",
                     seed: int = 0, gain=None, name: str | None = None) -> GroupingResult:
    """Cluster tasks into ``min(budget, T)`` groups from a (T, T) matrix.

    kind: ``similarity`` (larger = more alike, e.g. gains, TAG affinities, learned
    relations) or ``distance`` (e.g. Wasserstein, A-distance).  The matrix is
    symmetrised.  Spectral clustering needs a non-negative affinity: a distance D
    becomes exp(−D / median(D)), a similarity S is shifted to S − min(S) ≥ 0.
    Agglomerative clustering (average linkage) needs a distance: a similarity becomes
    max(S) − S.
    """
    if kind not in ("similarity", "distance"):
        raise ConfigError(f"kind: must be one of similarity, distance; got {kind!r}")
    if method not in ("spectral", "agglomerative"):
        raise ConfigError(f"method: must be one of spectral, agglomerative; got {method!r}")
    m = _symmetric_offdiag(matrix)
    n = len(m)
    make_constraints(n, budget)
    k = min(int(budget), n)
    off = ~np.eye(n, dtype=bool)
    if k == n:
        labels = np.arange(n)
    elif k == 1:
        labels = np.zeros(n, dtype=int)
    elif method == "spectral":
        from sklearn.cluster import SpectralClustering

        if kind == "distance":
            scale = np.median(m[off]) or 1.0
            aff = np.exp(-m / scale)
        else:
            aff = m - m[off].min()
        np.fill_diagonal(aff, aff[off].max() if aff[off].size else 1.0)
        labels = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=seed,
                                    assign_labels="discretize").fit_predict(aff)
    else:
        from sklearn.cluster import AgglomerativeClustering

        dist = m if kind == "distance" else m[off].max() - m
        np.fill_diagonal(dist, 0.0)
        labels = AgglomerativeClustering(n_clusters=k, metric="precomputed", linkage="average").fit_predict(dist)
    groups = [np.flatnonzero(labels == q).tolist() for q in np.unique(labels)]
    return _fixed(name or f"cluster_{method}", groups, n, budget, gain,
                  extra={"kind": kind, "method": method, "seed": seed})


def random_grouping(n_tasks: int, budget: int, seed: int, gain=None) -> GroupingResult:
    """Each task joins one of ``budget`` groups uniformly at random (seeded)."""
    make_constraints(n_tasks, budget)
    labels = np.random.default_rng(seed).integers(0, budget, size=n_tasks)
    groups = [np.flatnonzero(labels == q).tolist() for q in np.unique(labels)]
    return _fixed(f"random_seed{seed}", groups, n_tasks, budget, gain, extra={"seed": seed})

"""The task-grouping paper's program (``mip_normalized``): group-size-normalised gains over
possibly overlapping groups.

Source: LOGO-CUHKSZ/Principled-Task-Grouping, ``celeba/ours_code/celeba-grouping.ipynb``,
``soft_grouping(S, n)`` (solved there with Gurobi, ``NonConvex=2``).  With X_ij = 1 when
task i is in group j, m tasks and exactly n groups it maximises

    Σ_j (1/|G_j|) Σ_{i ∈ G_j} Σ_{k ∈ G_j} S_ik                                       (N1)

(the notebook's y_j · Σ_i Σ_k z_ijk S_ik with y_j · Σ_i X_ij = 1 and z_ijk = X_ij X_kj,
so the diagonal S_ii counts: a task in a group adds S_ii / |G_j|), subject to

    Σ_j X_ij ≥ 1 for every task (covered; groups may overlap)                        (N2)
    Σ_i X_ij ≥ 1 for every group (non-empty)                                         (N3)
    Σ_i (X_ij1 + X_ij2 − 2 X_ij1 X_ij2) ≥ 1 for j1 ≠ j2 (no two groups equal)         (N4)

**Exact reformulation.**  (N1) is a sum of one value per group, v(G) = (1/|G|) Σ_{i,k∈G} S_ik,
and (N4) makes the groups distinct, so the program is: choose exactly n distinct subsets
from the candidate subsets (all non-empty subsets, or a given list) with z_G ∈ {0, 1}:

    Σ_G z_G = n,   Σ_{G ∋ t} z_G ≥ 1 for every t (N2),   maximise Σ_G v(G) z_G          (N5)

which is linear (the 1/|G| is a constant per candidate: the sizes are enumerated), solved
exactly by CP-SAT with v scaled to integers (2**20 / max |v|; the objective is recomputed
exactly from the groups).  Non-emptiness (N3) holds by construction.

Our resource constraints on top (the released code has none): ``max_group_size`` and
``max_group_cost`` (with ``task_cost``) and ``cannot_link`` drop candidates; ``must_link``
(i, j) drops the candidates holding exactly one of i, j (every group holding one holds the
other); ``total_cost`` bounds Σ_G z_G (network_cost + Σ_{t∈G} c_t).  ``partition=True`` is
the partition variant: Σ_{G ∋ t} z_G = 1 (each task in exactly one group).

``candidates=None`` enumerates every subset: 2^T − 1 of them, practical to T ≈ 16.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
from ortools.sat.python import cp_model

from ..errors import ConfigError, MtlbenchError
from .base import GroupingResult, InfeasibleError, canonical_groups, group_cost, make_constraints
from .mip import COST_RESOLUTION, OBJECTIVE_RESOLUTION, _scale, _solver

MAX_ENUMERATED_TASKS = 16


def normalized_value(S: np.ndarray, group) -> float:
    """v(G) of Eq. (N1): (1/|G|) Σ_{i,k ∈ G} S_ik, the diagonal included."""
    idx = np.asarray(sorted(group), dtype=int)
    return float(S[np.ix_(idx, idx)].sum() / len(idx))


def _check_matrix(S) -> np.ndarray:
    S = np.asarray(S, dtype=float)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ConfigError(f"S: must be a square (T, T) matrix, got shape {S.shape}")
    if not np.isfinite(S).all():
        raise ConfigError("S: entries must be finite")
    return S


def normalized_candidates(n_tasks: int, c, candidates=None) -> list[tuple[int, ...]]:
    """The candidate groups that the constraints allow (module docstring)."""
    if candidates is None:
        if n_tasks > MAX_ENUMERATED_TASKS:
            raise ConfigError(f"mip_normalized: T={n_tasks} tasks give 2^T - 1 candidate groups; pass candidates "
                              f"or use T <= {MAX_ENUMERATED_TASKS}")
        s = c.max_group_size or n_tasks
        candidates = [g for k in range(1, s + 1) for g in itertools.combinations(range(n_tasks), k)]
    out = set()
    for grp in candidates:
        grp = tuple(sorted(int(t) for t in grp))
        if not grp or any(not 0 <= t < n_tasks for t in grp):
            raise ConfigError(f"candidates: {grp} is not a non-empty set of task indices in [0, {n_tasks})")
        if c.max_group_size is not None and len(grp) > c.max_group_size:
            continue
        if c.max_group_cost is not None and group_cost(grp, c) - c.network_cost > c.max_group_cost + 1e-9:
            continue
        members = set(grp)
        if any(i in members and j in members for i, j in c.cannot_link):
            continue
        if any((i in members) != (j in members) for i, j in c.must_link):
            continue
        out.add(grp)
    return sorted(out, key=lambda g: (len(g), g))


def normalized_grouping(S, n_groups: int, candidates=None, partition: bool = False,
                        max_group_size: int | None = None, task_cost=None, max_group_cost: float | None = None,
                        network_cost: float = 0.0, total_cost: float | None = None, must_link=(),
                        cannot_link=(), time_limit_s: float = 60.0, num_workers: int = 1, seed: int = 0,
                        tasks=None) -> GroupingResult:
    """Exactly ``n_groups`` distinct groups maximising Eq. (N1) (overlapping unless
    ``partition``); S is (T, T), e.g. ``gain[i, k]`` (the sum over both orders makes the
    direction irrelevant).  Returns a :class:`GroupingResult` (objective = Eq. (N1),
    ``served_by`` = each task's group of highest v(G) among those holding it).  Raises
    :class:`InfeasibleError` when no choice of n groups satisfies the constraints."""
    t0 = time.perf_counter()
    S = _check_matrix(S)
    n = len(S)
    c = make_constraints(n, n_groups, max_group_size, task_cost, max_group_cost, network_cost, total_cost,
                         must_link, cannot_link)
    cands = normalized_candidates(n, c, candidates)
    if len(cands) < n_groups:
        raise InfeasibleError(f"mip_normalized: {len(cands)} candidate groups, fewer than n_groups={n_groups}")
    uncovered = [t for t in range(n) if not any(t in g for g in cands)]
    if uncovered:
        names = [tasks[t] for t in uncovered] if tasks else uncovered
        raise InfeasibleError(f"mip_normalized: no candidate group holds task(s) {names} under the constraints")
    values = np.array([normalized_value(S, g) for g in cands])
    scale = _scale(values, OBJECTIVE_RESOLUTION)
    m = cp_model.CpModel()
    z = [m.new_bool_var(f"z_{q}") for q in range(len(cands))]
    m.add(sum(z) == n_groups)
    for t in range(n):
        holders = [z[q] for q, g in enumerate(cands) if t in g]
        if partition:
            m.add_exactly_one(holders)
        else:
            m.add_bool_or(holders)
    if c.total_cost is not None:
        costs = [group_cost(g, c) for g in cands]
        cs = _scale(costs + [c.total_cost], COST_RESOLUTION)
        m.add(sum(round(v * cs) * z[q] for q, v in enumerate(costs)) <= math.floor(c.total_cost * cs + 1e-6))
    m.maximize(sum(int(round(v * scale)) * z[q] for q, v in enumerate(values) if round(v * scale)))
    solver = _solver(time_limit_s, num_workers, seed)
    # the LP relaxation in the search: on digits_shift (T = 12, 3,301 candidates, the
    # lookahead gains) optimal in 0.5 s instead of a feasible answer at the 60 s limit
    solver.parameters.linearization_level = 2
    status = solver.Solve(m)
    if status == cp_model.INFEASIBLE:
        raise InfeasibleError(f"mip_normalized: no choice of exactly {n_groups} distinct groups satisfies the "
                              f"constraints{' (partition)' if partition else ''}")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise MtlbenchError(f"CP-SAT found no grouping within time_limit_s={time_limit_s} "
                            f"(status {solver.StatusName(status)})")
    chosen = [q for q in range(len(cands)) if solver.Value(z[q])]
    groups = canonical_groups([list(cands[q]) for q in chosen])
    gval = [normalized_value(S, g) for g in groups]
    served = [max((k for k, g in enumerate(groups) if t in g), key=lambda k: gval[k]) for t in range(n)]
    return GroupingResult(
        solver="mip_normalized_partition" if partition else "mip_normalized", groups=groups,
        objective=float(sum(gval)), status="optimal" if status == cp_model.OPTIMAL else "feasible",
        bound=solver.BestObjectiveBound() / scale, wall_time_s=time.perf_counter() - t0,
        constraints=c.to_dict(), served_by=served,
        extra={"formulation": "choose exactly n distinct candidate groups, value (1/|G|) sum_{i,k in G} S_ik "
                              "(Eq. N5)", "partition": partition, "n_candidates": len(cands),
               "objective_scale": scale, "time_limit_s": time_limit_s, "seed": seed})


__all__ = ["normalized_candidates", "normalized_grouping", "normalized_value"]

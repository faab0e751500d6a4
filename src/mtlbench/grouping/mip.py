"""Task grouping as a mathematical program, solved with OR-tools CP-SAT.

Two programs over a gain matrix (``gain[i, t]`` = gain of task t from task i, see
:mod:`mtlbench.grouping.base`):

**Partition** (:func:`partition_tasks`): every task belongs to exactly one group and is
served by that group's network.  We use the clique-partitioning formulation
(Grötschel & Wakabayashi 1989), which has no group-label symmetry.  With pair weights
w_ij = gain[i, j] + gain[j, i] and K = the most groups the budget and the total cost
allow (K = min(B, ⌊(total_cost − Σ_t c_t) / network_cost⌋)):

    x_ij ∈ {0, 1} for i < j: tasks i and j share a group                          (2)
    x_ij + x_jk − x_ik ≤ 1  for every triple and each choice of the middle task j  (3)
        (transitivity: "share a group" is an equivalence relation)
    (3') when K ≥ T (no limit on the number of groups): only the inequalities (3) whose
        pair ij or pair jk is *strong* (w > 0 after the integer scaling, or must-link)
    (5a) when C(T, K+1) ≤ CLIQUE_ALL_LIMIT: Σ_{i<j ∈ S} x_ij ≥ 1 for every set S of K+1
        tasks (more than K groups ⇔ K+1 tasks in different groups); exact with (3)
    otherwise representatives r_j ∈ {0, 1} (j is its group's lowest-index member):
        r_j ≤ 1 − x_ij for i < j,  r_j ≥ 1 − Σ_{i<j} x_ij,  Σ_j r_j ≤ K            (4)
      plus valid cuts: Σ_{i<j} x_ij ≥ turan_pairs(T, K) (K groups hold at least the
      same-group pairs of an even split, Σ_k C(n_k, 2) being convex in the sizes)  (5b)
      and (5a) for the CLIQUE_CUTS sets S of most negative Σ_{S} w_ij               (5c)
    1 + Σ_{i≠t} x_it ≤ S                      for every t (largest group size)        (6)
    c_t + Σ_{i≠t} c_i x_it ≤ C                for every t (per-group cost)             (7)
    x_ij = 1 for must-link pairs, x_ij = 0 for cannot-link pairs                      (9)
    maximise Σ_{i<j} w_ij x_ij                                 (= Eq. (1) of base)    (10)

Eq. (8) (total cost) is the group limit K above.  The groups are read off as the
connected components of the pairs with x_ij = 1 (with (3'): of the strong pairs with
x_ij = 1).  Why (3') is exact (the argument of Dinh & Thai's reduction for modularity,
here for any weights and our side constraints): take any x feasible for (3'), (6),
(7), (9) and let P be the components of the strong pairs with x = 1.  Along a path
v_0 v_1 … v_m of such pairs, x_{v_0 v_l} = 1 and the strong pair v_l v_{l+1} keep the
inequality x_{v_0 v_l} + x_{v_l v_{l+1}} − x_{v_0 v_{l+1}} ≤ 1, so by induction every
pair inside a component has x = 1.  Hence each group of P lies within {t} ∪ {i : x_it = 1}
and keeps (6) and (7), must-link pairs (strong) are joined, cannot-link pairs (x = 0)
are apart, and F(P) − Σ w_ij x_ij = −Σ w_ij over pairs with x = 1 across groups, which
are not strong (w_ij ≤ 0): F(P) ≥ the model's objective.  So the optimum of the reduced
model is attained by a partition.  With a group limit K < T the argument fails (P can
have more groups than x counts), so the full set (3) is used.

A warm start (CP-SAT solution hint) comes from greedy merging + local search
(:mod:`mtlbench.grouping.heuristic`).

CP-SAT needs integer coefficients: the objective's coefficients are scaled by
``2**20 / max|w_ij|`` and rounded (costs likewise); the result's objective is then
recomputed exactly from the groups, and the rounding error is recorded.

**Overlapping groups** (:func:`choose_groups`, TAG's setting, Fifty et al. 2021, Sec. 3.3,
and Standley et al. 2020, Sec. 4): choose at most B groups from candidate subsets;
each task is served by exactly one chosen group that contains it (its best one):

    y_g ∈ {0, 1} (group g is trained),  a_tg ∈ {0, 1} (t is served by g), t ∈ g      (11)
    Σ_{g ∋ t} a_tg = 1,  a_tg ≤ y_g,  Σ_g y_g ≤ B                                      (12)
    maximise Σ_t Σ_{g ∋ t} a_tg · v(t, g)                                              (13)

with v(t, g) = Σ_{i ∈ g∖t} gain[i, t] (``score="sum"``, Eq. (1)) or the mean over
i ∈ g∖t (``score="mean"``, TAG's and HOA's group score; a singleton scores 0).
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
from ortools.sat.python import cp_model

from ..errors import ConfigError, MtlbenchError
from .base import (
    GroupingConstraints,
    GroupingResult,
    InfeasibleError,
    all_pairs,
    canonical_groups,
    check_gain,
    group_cost,
    make_constraints,
    partition_result,
    partition_value,
)
from .heuristic import connected_components, greedy_local_search
from .overlap_dp import DP_MAX_TASKS, best_served_sets

OBJECTIVE_RESOLUTION = 2**20  # the largest |objective coefficient| after integer scaling
COST_RESOLUTION = 10**6
CLIQUE_ALL_LIMIT = 5000  # Eq. (5a) when C(T, K+1) is at most this, else Eqs. (4), (5b), (5c)
CLIQUE_CUTS = 3000  # clique cuts (5c) added with the representatives
CLIQUE_CUT_ENUMERATION = 200_000  # rank every (K+1)-subset for (5c) up to this many
AUTO_ONE_WORKER_MAX_T = 10**9  # measured: one worker was as fast or faster at every T tried
AUTO_WARM_START_MIN_T = 16
OVERLAP_FORMULATION = "overlapping groups: choose groups, each task served by its best (Eqs. 11-13)"


def _scale(values, resolution: int) -> float:
    m = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return resolution / m if m > 0 else 1.0


def _items(c: GroupingConstraints) -> list[tuple]:
    """The constraints a user set, one item each (what an infeasibility report can name)."""
    items = [("budget",)]
    if c.max_group_size is not None:
        items.append(("max_group_size",))
    if c.max_group_cost is not None:
        items.append(("max_group_cost",))
    if c.total_cost is not None:
        items.append(("total_cost",))
    items += [("must_link", p) for p in c.must_link]
    items += [("cannot_link", p) for p in c.cannot_link]
    return items


def _describe(item: tuple, c: GroupingConstraints, tasks) -> str:
    name = item[0]
    if name in ("must_link", "cannot_link"):
        i, j = item[1]
        return f"{name} ({tasks[i]}, {tasks[j]})" if tasks else f"{name} ({i}, {j})"
    return f"{name}={getattr(c, name)}"


def _solver(time_limit_s: float, num_workers: int, seed: int, presolve: bool = True) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(num_workers)
    solver.parameters.random_seed = int(seed)
    solver.parameters.cp_model_presolve = bool(presolve)
    return solver


def _group_limit(c: GroupingConstraints, n: int, names: set) -> int:
    """The most groups the active budget / total-cost items allow (n: no limit, 0: none)."""
    k = n
    if "budget" in names:
        k = min(k, c.budget)
    if "total_cost" in names:
        room = c.total_cost - (sum(c.task_cost) if c.task_cost is not None else 0.0)
        if room < -1e-9:
            return 0
        if c.network_cost > 0:
            k = min(k, max(0, math.floor(room / c.network_cost + 1e-9)))
    return k


def turan_pairs(s: int, k: int) -> int:
    """The fewest same-group pairs among s tasks split into at most k groups (as even as possible)."""
    q, rest = divmod(s, k)
    return rest * math.comb(q + 1, 2) + (k - rest) * math.comb(q, 2)


def _spread_subsets(w: np.ndarray, size: int, how_many: int) -> list[tuple]:
    """``how_many`` subsets of ``size`` tasks whose pairs have the most negative total weight
    (the tasks the LP relaxation most wants apart): all subsets ranked when there are at
    most CLIQUE_CUT_ENUMERATION, else one greedily grown subset per seed task."""
    n = len(w)
    if math.comb(n, size) <= CLIQUE_CUT_ENUMERATION:
        subs = np.array(list(itertools.combinations(range(n), size)), dtype=np.int64)
        score = np.zeros(len(subs))
        for a, b in itertools.combinations(range(size), 2):
            score += w[subs[:, a], subs[:, b]]
        order = np.argsort(score, kind="stable")[:how_many]
        return [tuple(int(t) for t in subs[q]) for q in order]
    out = set()
    for seed in range(n):
        chosen = [seed]
        while len(chosen) < size:
            pull = w[chosen].sum(0)
            pull[chosen] = np.inf
            chosen.append(int(np.argmin(pull)))
        out.add(tuple(sorted(chosen)))
    return sorted(out)[:how_many]


def _subset_pairs(n: int, subsets) -> list[list[int]]:
    """For each subset of tasks, the indices (in ``all_pairs(n)`` order) of its pairs."""
    if not len(subsets):
        return []
    pid = np.zeros((n, n), dtype=np.int64)
    iu, ju = np.triu_indices(n, 1)
    pid[iu, ju] = np.arange(len(iu))
    subs = np.asarray(subsets, dtype=np.int64)
    a, b = np.triu_indices(subs.shape[1], 1)
    return pid[subs[:, a], subs[:, b]].tolist()


def _partition_model(w_int: dict, n: int, c: GroupingConstraints, active: list[tuple], hint=None):
    """The CP-SAT model of Eqs. (2)-(10); returns (model, x, linked, info).

    ``linked[i, j]``: a pair whose x_ij = 1 joins i and j in the partition read off the
    solution (every pair, or with the reduced triangle set only the pairs that can carry
    the proof below: w_ij > 0 or must-link)."""
    names = {it[0] for it in active}
    must = {it[1] for it in active if it[0] == "must_link"}
    m = cp_model.CpModel()
    x = {p: m.new_bool_var(f"x_{p[0]}_{p[1]}") for p in all_pairs(n)}
    xs = list(x.values())

    def xx(i, j):
        return x[(min(i, j), max(i, j))]

    kmax = _group_limit(c, n, names)
    reduced = kmax >= n  # no group count: Eq. (3') instead of Eq. (3)
    strong = {p: bool(w_int[p] > 0) or p in must for p in x}
    linked = {p: (strong[p] if reduced else True) for p in x}
    # built with add_linear_constraint(weighted_sum(...)): ~2.5x faster than `a + b - c <= 1`
    add, wsum, lsum = m.add_linear_constraint, cp_model.LinearExpr.weighted_sum, cp_model.LinearExpr.sum
    n_tri = 0
    for i, j, k in itertools.combinations(range(n), 3):  # Eq. (3)
        xij, xjk, xik = x[i, j], x[j, k], x[i, k]
        sij, sjk, sik = strong[i, j], strong[j, k], strong[i, k]
        for keep, trio, coef in ((sij or sjk, (xij, xjk, xik), (1, 1, -1)),   # j in the middle
                                 (sij or sik, (xij, xik, xjk), (1, 1, -1)),   # i in the middle
                                 (sik or sjk, (xik, xjk, xij), (1, 1, -1))):  # k in the middle
            if keep or not reduced:
                add(wsum(trio, coef), -1, 1)
                n_tri += 1
    info = {"triangle_inequalities": n_tri, "triangle_set": "reduced (Eq. 3')" if reduced else "full",
            "group_limit": kmax}
    r = None
    if kmax == 0:  # the total cost leaves no room for one network
        never = m.NewBoolVar("no_room")
        m.Add(never == 1)
        m.Add(never == 0)
        info["group_count"] = "infeasible: no room for a network"
    elif kmax < n and math.comb(n, kmax + 1) <= CLIQUE_ALL_LIMIT:  # Eq. (5a)
        for row in _subset_pairs(n, list(itertools.combinations(range(n), kmax + 1))):
            add(lsum([xs[q] for q in row]), 1, len(x))
        info["group_count"] = f"every {kmax + 1} tasks: a pair shares a group ({math.comb(n, kmax + 1)} inequalities)"
    elif kmax < n:  # Eqs. (4), (5b), (5c)
        r = [m.new_bool_var(f"r_{j}") for j in range(n)]
        add(lsum([r[0]]), 1, 1)
        for j in range(1, n):
            for i in range(j):
                add(lsum([r[j], x[i, j]]), 0, 1)
            add(lsum([r[j]] + [x[i, j] for i in range(j)]), 1, n)
        add(lsum(r), 0, kmax)
        add(lsum(list(x.values())), turan_pairs(n, kmax), len(x))
        wsym = np.zeros((n, n))
        for (i, j), v in w_int.items():
            wsym[i, j] = wsym[j, i] = v
        subs = _spread_subsets(wsym, kmax + 1, CLIQUE_CUTS)
        for row in _subset_pairs(n, subs):
            add(lsum([xs[q] for q in row]), 1, len(x))
        info["group_count"] = (f"representatives, Turán cut and {len(subs)} clique cuts on "
                               f"{kmax + 1}-subsets")
    else:
        info["group_count"] = "none (the budget allows every task its own group)"
    if "max_group_size" in names:  # Eq. (6)
        for t in range(n):
            m.Add(1 + sum(xx(i, t) for i in range(n) if i != t) <= c.max_group_size)
    if "max_group_cost" in names:  # Eq. (7)
        cost = np.asarray(c.task_cost if c.task_cost is not None else [0.0] * n)
        cs = _scale(np.append(cost, [c.max_group_cost]), COST_RESOLUTION)
        cost_int = [round(v * cs) for v in cost]
        cap = math.floor(c.max_group_cost * cs + 1e-6)
        for t in range(n):
            m.Add(cost_int[t] + sum(cost_int[i] * xx(i, t) for i in range(n) if i != t) <= cap)
    for it in active:  # Eq. (9)
        if it[0] == "must_link":
            m.Add(x[it[1]] == 1)
        elif it[0] == "cannot_link":
            m.Add(x[it[1]] == 0)
    nz = [p for p in x if w_int[p]]
    m.maximize(wsum([x[p] for p in nz], [int(w_int[p]) for p in nz]))  # Eq. (10)
    if hint is not None:
        label = {t: q for q, grp in enumerate(hint) for t in grp}
        for (i, j), v in x.items():
            m.add_hint(v, label[i] == label[j])
        if r is not None:
            for j in range(n):
                m.add_hint(r[j], all(label[i] != label[j] for i in range(j)))
    return m, x, linked, info


def _explain_infeasible(build, items, c, tasks, time_limit_s, num_workers, seed, presolve=True) -> InfeasibleError:
    """Deletion filter: drop each constraint in turn, keep it only if dropping it makes the
    program feasible.  What remains is a minimal conflicting set (an IIS over the items)."""
    core = list(items)
    for item in list(core):
        trial = [it for it in core if it != item]
        model = build(trial)[0]
        status = _solver(min(time_limit_s, 10.0), num_workers, seed, presolve).Solve(model)
        if status == cp_model.INFEASIBLE:
            core = trial
    what = ", ".join(_describe(it, c, tasks) for it in core)
    return InfeasibleError(
        f"no grouping satisfies these constraints together: {what} "
        f"(dropping any one of them makes the program feasible)")


def partition_tasks(gain, budget: int, max_group_size: int | None = None, task_cost=None,
                    max_group_cost: float | None = None, network_cost: float = 0.0,
                    total_cost: float | None = None, must_link=(), cannot_link=(),
                    time_limit_s: float = 60.0, num_workers: int | None = None, seed: int = 0,
                    tasks: list[str] | None = None, presolve: bool = False,
                    warm_start: bool | None = None) -> GroupingResult:
    """Partition T tasks into at most ``budget`` groups maximising Eq. (1) (Eqs. (2)-(10)).

    gain: (T, T), ``gain[i, t]`` = gain of task t from task i (diagonal ignored).
    task_cost: (T,) per-task compute cost; ``max_group_cost`` caps a group's Σ cost,
    ``total_cost`` caps Σ over groups of (``network_cost`` + Σ cost).
    must_link / cannot_link: pairs of task indices.  ``tasks`` only names tasks in errors.
    num_workers: CP-SAT workers; None: 1 for T <= AUTO_ONE_WORKER_MAX_T, else 2.  On the
    shared 2-core machine one worker was as fast or faster at every T and budget tried
    (T = 12: a second worker costs more to start than the search takes; T = 20, 30:
    the single worker's LP search won most cases), so the default is one worker.
    warm_start: hint CP-SAT with :func:`~mtlbench.grouping.heuristic.greedy_local_search`;
    None: for T > AUTO_WARM_START_MIN_T (below that the heuristic's ~0.05 s exceeds the
    whole solve).
    presolve: CP-SAT's presolve, off by default: on this model it costs more than it
    saves (measured on 2 cores: random N(0,1) gains, T=20, B=4 proved optimal in ~5 s
    without presolve, not within 30 s with it; structured gains, T=30: ~0.5 s vs ~1.5 s).

    Returns a :class:`GroupingResult` with status ``optimal`` (proven) or ``feasible``
    (time limit hit), the objective in the gain's units, the proven bound (scaled back),
    the wall time and the constraints; ``extra`` names the formulation used.  Raises
    :class:`InfeasibleError` naming a minimal set of conflicting constraints.
    """
    t0 = time.perf_counter()
    g = check_gain(gain)
    n = len(g)
    c = make_constraints(n, budget, max_group_size, task_cost, max_group_cost, network_cost,
                         total_cost, must_link, cannot_link)
    workers = num_workers if num_workers is not None else (1 if n <= AUTO_ONE_WORKER_MAX_T else 2)
    w_mat = g + g.T
    iu, ju = np.triu_indices(n, 1)
    scale = _scale(w_mat[iu, ju], OBJECTIVE_RESOLUTION)
    w_round = np.rint(w_mat[iu, ju] * scale)
    w_int = dict(zip(zip(iu.tolist(), ju.tolist()), w_round.astype(np.int64).tolist()))
    rounding = float(np.abs(w_mat[iu, ju] - w_round / scale).sum())
    items = _items(c)
    hint, heur = None, None
    if warm_start or (warm_start is None and n > AUTO_WARM_START_MIN_T):
        th = time.perf_counter()
        hint = greedy_local_search(w_mat, c, seed=seed)
        heur = {"method": "greedy merging + local search (mtlbench.grouping.heuristic)",
                "objective": partition_value(g, hint) if hint is not None else None,
                "wall_time_s": time.perf_counter() - th}

    def build(active, with_hint=False):
        return _partition_model(w_int, n, c, active, hint if with_hint else None)

    model, x, linked, info = build(items, with_hint=True)
    build_s = time.perf_counter() - t0
    solver = _solver(time_limit_s, workers, seed, presolve)
    status = solver.Solve(model)
    if status == cp_model.INFEASIBLE:
        raise _explain_infeasible(build, items, c, tasks, time_limit_s, workers, seed, presolve)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise MtlbenchError(f"CP-SAT found no grouping within time_limit_s={time_limit_s} "
                            f"(status {solver.StatusName(status)}); raise the time limit")
    wall = time.perf_counter() - t0
    # the groups: connected components of the linked pairs set to 1 (with the full triangle
    # set these are the equivalence classes; with Eq. (3') see the proof in the docstring)
    groups = connected_components(n, [p for p, v in x.items() if linked[p] and solver.Value(v)])
    return partition_result(
        "mip", g, groups, "optimal" if status == cp_model.OPTIMAL else "feasible", c,
        bound=solver.BestObjectiveBound() / scale, wall_time_s=wall,
        extra={"formulation": "clique partitioning (pairwise x_ij, triangle inequalities)", **info,
               "warm_start": heur, "objective_scale": scale, "objective_rounding_error_max": rounding,
               "num_workers": workers, "time_limit_s": time_limit_s, "seed": seed, "presolve": presolve,
               "build_time_s": build_s, "solver_wall_time_s": solver.WallTime(),
               "n_variables": len(model.Proto().variables), "n_constraints": len(model.Proto().constraints)})


def _served_sets_result(g, blocks, cands, score, c, solver_name, wall) -> GroupingResult:
    """A :class:`GroupingResult` from the optimum of :func:`best_served_sets`."""
    groups = sorted({cands[k] for k, _ in blocks})
    index = {grp: q for q, grp in enumerate(groups)}
    served = [0] * len(g)
    for k, members in blocks:
        for t in members:
            served[t] = index[cands[k]]
    objective = float(sum(served_value(g, t, groups[served[t]], score) for t in range(len(g))))
    return GroupingResult(
        solver=solver_name, groups=[list(grp) for grp in groups], objective=objective, status="optimal",
        bound=objective, wall_time_s=wall, constraints=c.to_dict(), served_by=served,
        extra={"formulation": OVERLAP_FORMULATION,
               "score": score, "n_candidates": len(cands),
               "solution": "exact: dynamic programme over task subsets (overlap_dp, Eqs. D1-D3)"})


def _partition_hint(g, c: GroupingConstraints, cands, time_limit_s, num_workers, seed):
    """Groups of the best partition under the same constraints, if all are candidates."""
    try:
        res = partition_tasks(g, c.budget, c.max_group_size, c.task_cost, c.max_group_cost, c.network_cost,
                              c.total_cost, c.must_link, c.cannot_link, time_limit_s=max(time_limit_s, 1.0),
                              num_workers=num_workers, seed=seed)
    except MtlbenchError:
        return None
    members = set(cands)
    return res.groups if all(tuple(grp) in members for grp in res.groups) else None


def candidate_groups(n_tasks: int, max_group_size: int | None = None, max_candidates: int = 200_000):
    """Every non-empty subset of at most ``max_group_size`` tasks, as sorted tuples."""
    s = n_tasks if max_group_size is None else min(max_group_size, n_tasks)
    count = sum(math.comb(n_tasks, k) for k in range(1, s + 1))
    if count > max_candidates:
        raise ConfigError(f"max_group_size: {count} candidate groups for {n_tasks} tasks exceed "
                          f"{max_candidates}; lower max_group_size or pass candidates")
    return [grp for k in range(1, s + 1) for grp in itertools.combinations(range(n_tasks), k)]


def served_value(gain: np.ndarray, t: int, group, score: str = "sum") -> float:
    """v(t, g): Σ (``sum``) or mean (``mean``) of gain[i, t] over i in g∖t; 0 alone."""
    others = [i for i in group if i != t]
    if not others:
        return 0.0
    vals = gain[others, t]
    return float(vals.sum() if score == "sum" else vals.mean())


def choose_groups(gain, budget: int, candidates=None, max_group_size: int | None = None,
                  score: str = "sum", task_cost=None, max_group_cost: float | None = None,
                  network_cost: float = 0.0, total_cost: float | None = None,
                  must_link=(), cannot_link=(), time_limit_s: float = 60.0,
                  num_workers: int = 2, seed: int = 0, tasks: list[str] | None = None,
                  solver_name: str = "mip_overlap", presolve: bool = True, dp: bool = True) -> GroupingResult:
    """Choose at most ``budget`` possibly overlapping groups, each task served by its best
    chosen group (Eqs. (11)-(13)).

    Solved exactly by the subset dynamic programme of :mod:`mtlbench.grouping.overlap_dp`
    (the same optimum, found in under a second and independent of time and threads) for up
    to ``DP_MAX_TASKS`` tasks without ``total_cost``; otherwise, or with ``dp=False``, by
    CP-SAT on (11)-(13) within ``time_limit_s``.

    candidates: iterable of task-index tuples (default: every subset of at most
    ``max_group_size`` tasks).  Candidates breaking ``cannot_link``, ``max_group_size`` or
    ``max_group_cost`` are dropped; ``must_link`` (i, j) makes i and j be served by the
    same group; ``total_cost`` caps Σ over chosen groups of (network_cost + Σ task cost).
    The best partition under Eq. (1) (:func:`partition_tasks`, a quarter of the time
    limit) is a feasible choice of groups and warm-starts the search.
    """
    if score not in ("sum", "mean"):
        raise ConfigError(f"score: must be one of sum, mean; got {score!r}")
    g = check_gain(gain)
    n = len(g)
    c = make_constraints(n, budget, max_group_size, task_cost, max_group_cost, network_cost,
                         total_cost, must_link, cannot_link)
    if candidates is None:
        candidates = candidate_groups(n, c.max_group_size)
    cands = sorted({tuple(sorted(int(t) for t in grp)) for grp in candidates if len(grp)})
    bad_link = set(c.cannot_link)
    cands = [grp for grp in cands
             if (c.max_group_size is None or len(grp) <= c.max_group_size)
             and (c.max_group_cost is None or group_cost(grp, c) - c.network_cost <= c.max_group_cost + 1e-9)
             and not any((i, j) in bad_link for i, j in itertools.combinations(grp, 2))]
    values = {(t, k): served_value(g, t, grp, score) for k, grp in enumerate(cands) for t in grp}
    scale = _scale(list(values.values()) or [0.0], OBJECTIVE_RESOLUTION)
    items = _items(c)
    uncovered = [t for t in range(n) if not any(t in grp for grp in cands)]
    if uncovered:
        names = [tasks[t] if tasks else t for t in uncovered]
        raise InfeasibleError(f"no candidate group contains task(s) {names} once the groups "
                              f"breaking max_group_size / max_group_cost / cannot_link are dropped")

    def build(active):
        m = cp_model.CpModel()
        y = [m.NewBoolVar(f"y_{k}") for k in range(len(cands))]
        a = {key: m.NewBoolVar(f"a_{key[0]}_{key[1]}") for key in values}
        for t in range(n):
            m.AddExactlyOne(a[t, k] for k, grp in enumerate(cands) if t in grp)
        for (_t, k), var in a.items():
            m.AddImplication(var, y[k])
        for k, grp in enumerate(cands):  # a chosen group serves someone (no idle networks)
            m.AddBoolOr([a[t, k] for t in grp] + [y[k].Not()])
        names = {it[0] for it in active}
        if "budget" in names:
            m.Add(sum(y) <= c.budget)
        if "total_cost" in names:
            costs = [group_cost(grp, c) for grp in cands]
            cs = _scale(costs + [c.total_cost], COST_RESOLUTION)
            m.Add(sum(round(v * cs) * y[k] for k, v in enumerate(costs)) <= math.floor(c.total_cost * cs + 1e-6))
        for it in active:
            if it[0] == "must_link":
                i, j = it[1]
                for k, grp in enumerate(cands):
                    if i in grp and j in grp:
                        m.Add(a[i, k] == a[j, k])
                    elif i in grp:
                        m.Add(a[i, k] == 0)
                    elif j in grp:
                        m.Add(a[j, k] == 0)
        m.Maximize(sum(round(v * scale) * a[key] for key, v in values.items() if round(v * scale)))
        return m, y, a

    t0 = time.perf_counter()
    if dp and c.total_cost is None and n <= DP_MAX_TASKS:
        blocks = best_served_sets(values, cands, n, c.budget, c.must_link)
        if blocks is not None:  # None (no feasible choice): CP-SAT below says which constraints clash
            return _served_sets_result(g, blocks, cands, score, c, solver_name, time.perf_counter() - t0)
    model, y, a = build(items)
    hint = _partition_hint(g, c, cands, time_limit_s / 4, num_workers, seed)
    if hint is not None:  # a partition is a feasible choice of groups: a warm start
        chosen = {cands.index(tuple(grp)) for grp in hint}
        for k, var in enumerate(y):
            model.AddHint(var, k in chosen)
        for (_t, k), var in a.items():
            model.AddHint(var, k in chosen)
    solver = _solver(time_limit_s, num_workers, seed, presolve)
    status = solver.Solve(model)
    if status == cp_model.INFEASIBLE:
        raise _explain_infeasible(build, [it for it in items if it[0] != "cannot_link"], c, tasks,
                                  time_limit_s, num_workers, seed, presolve)
    solved = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    if not solved and hint is None:
        raise MtlbenchError(f"CP-SAT found no grouping within time_limit_s={time_limit_s} "
                            f"(status {solver.StatusName(status)}); raise the time limit or lower max_group_size")
    wall = time.perf_counter() - t0
    if solved:
        groups = sorted([list(cands[k]) for k in range(len(cands)) if solver.Value(y[k])])
    else:  # time limit without a solution of its own: return the warm start, flagged
        groups = [list(grp) for grp in hint]
    # each task is served by its best chosen group (what the solver picks at an optimum)
    served = [max((q for q, grp in enumerate(groups) if t in grp),
                  key=lambda q, t=t: served_value(g, t, groups[q], score)) for t in range(n)]
    objective = float(sum(served_value(g, t, groups[served[t]], score) for t in range(n)))
    return GroupingResult(
        solver=solver_name, groups=groups, objective=objective,
        status="optimal" if status == cp_model.OPTIMAL else "feasible",
        bound=solver.BestObjectiveBound() / scale if solved else None, wall_time_s=wall,
        constraints=c.to_dict(), served_by=served,
        extra={"formulation": OVERLAP_FORMULATION,
               "score": score, "n_candidates": len(cands), "objective_scale": scale,
               "time_limit_s": time_limit_s, "num_workers": num_workers, "seed": seed,
               "solution": "cp-sat" if solved else "warm start (best partition); CP-SAT found none "
                                                   "within the time limit"})


__all__ = ["candidate_groups", "canonical_groups", "choose_groups", "partition_tasks", "served_value"]

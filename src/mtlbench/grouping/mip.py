"""Task grouping as a mathematical program, solved with OR-tools CP-SAT.

Two programs over a gain matrix (``gain[i, t]`` = gain of task t from task i, see
:mod:`mtlbench.grouping.base`):

**Partition** (:func:`partition_tasks`): every task belongs to exactly one group and is
served by that group's network.  We use the clique-partitioning formulation
(Grötschel & Wakabayashi 1989), which has no group-label symmetry:

    x_ij ∈ {0, 1} for i < j: tasks i and j share a group                          (2)
    x_ij + x_jk − x_ik ≤ 1,  x_ij − x_jk + x_ik ≤ 1,  −x_ij + x_jk + x_ik ≤ 1        (3)
        for i < j < k (transitivity: "share a group" is an equivalence relation)
    r_j ∈ {0, 1}: j is its group's representative (its lowest-index member)
    r_j ≤ 1 − x_ij  for i < j,   r_j ≥ 1 − Σ_{i<j} x_ij                              (4)
    Σ_j r_j ≤ B                               (number of groups = number of networks) (5)
    1 + Σ_{i≠t} x_it ≤ S                      for every t (largest group size)        (6)
    c_t + Σ_{i≠t} c_i x_it ≤ C                for every t (per-group cost)             (7)
    network_cost · Σ_j r_j + Σ_t c_t ≤ total_cost                                   (8)
    x_ij = 1 for must-link pairs, x_ij = 0 for cannot-link pairs                      (9)
    maximise Σ_{i<j} (gain[i, j] + gain[j, i]) x_ij            (= Eq. (1) of base)    (10)

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
)

OBJECTIVE_RESOLUTION = 2**20  # the largest |objective coefficient| after integer scaling
COST_RESOLUTION = 10**6


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


def _partition_model(w_int: dict, n: int, c: GroupingConstraints, active: list[tuple]):
    m = cp_model.CpModel()
    x = {p: m.NewBoolVar(f"x_{p[0]}_{p[1]}") for p in all_pairs(n)}

    def xx(i, j):
        return x[(min(i, j), max(i, j))]

    for i, j, k in itertools.combinations(range(n), 3):  # Eq. (3)
        m.Add(x[i, j] + x[j, k] - x[i, k] <= 1)
        m.Add(x[i, j] - x[j, k] + x[i, k] <= 1)
        m.Add(-x[i, j] + x[j, k] + x[i, k] <= 1)
    r = [m.NewBoolVar(f"r_{j}") for j in range(n)]  # Eq. (4)
    m.Add(r[0] == 1)
    for j in range(1, n):
        for i in range(j):
            m.Add(r[j] + x[i, j] <= 1)
        m.Add(r[j] + sum(x[i, j] for i in range(j)) >= 1)
    names = {it[0] for it in active}
    if "budget" in names:  # Eq. (5)
        m.Add(sum(r) <= c.budget)
    if "max_group_size" in names:  # Eq. (6)
        for t in range(n):
            m.Add(1 + sum(xx(i, t) for i in range(n) if i != t) <= c.max_group_size)
    if "max_group_cost" in names or "total_cost" in names:
        cost = np.asarray(c.task_cost if c.task_cost is not None else [0.0] * n)
        cs = _scale(np.append(cost, [c.max_group_cost or 0.0]), COST_RESOLUTION)
        cost_int = [round(v * cs) for v in cost]
    if "max_group_cost" in names:  # Eq. (7)
        cap = math.floor(c.max_group_cost * cs + 1e-6)
        for t in range(n):
            m.Add(cost_int[t] + sum(cost_int[i] * xx(i, t) for i in range(n) if i != t) <= cap)
    if "total_cost" in names:  # Eq. (8): network_cost * (number of groups) <= total - Σ c_t
        room = c.total_cost - float(np.sum(cost))
        if c.network_cost > 0:
            m.Add(sum(r) <= math.floor(room / c.network_cost + 1e-9))
        elif room < -1e-9:
            m.Add(sum(r) <= 0)  # cannot hold: Σ r >= 1 since r_0 = 1
    for it in active:  # Eq. (9)
        if it[0] == "must_link":
            m.Add(x[it[1]] == 1)
        elif it[0] == "cannot_link":
            m.Add(x[it[1]] == 0)
    m.Maximize(sum(w_int[p] * x[p] for p in x if w_int[p]))  # Eq. (10)
    return m, x, r


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
                    time_limit_s: float = 60.0, num_workers: int = 2, seed: int = 0,
                    tasks: list[str] | None = None, presolve: bool = False) -> GroupingResult:
    """Partition T tasks into at most ``budget`` groups maximising Eq. (1) (Eqs. (2)-(10)).

    gain: (T, T), ``gain[i, t]`` = gain of task t from task i (diagonal ignored).
    task_cost: (T,) per-task compute cost; ``max_group_cost`` caps a group's Σ cost,
    ``total_cost`` caps Σ over groups of (``network_cost`` + Σ cost).
    must_link / cannot_link: pairs of task indices.  ``tasks`` only names tasks in errors.
    presolve: CP-SAT's presolve, off by default: on this model it costs more than it
    saves (measured on 2 cores: random N(0,1) gains, T=20, B=4 proved optimal in ~5 s
    without presolve, not within 30 s with it; structured gains, T=30: ~0.5 s vs ~1.5 s).

    Returns a :class:`GroupingResult` with status ``optimal`` (proven) or ``feasible``
    (time limit hit), the objective in the gain's units, the proven bound (scaled back),
    the wall time and the constraints.  Raises :class:`InfeasibleError` naming a
    minimal set of conflicting constraints.
    """
    g = check_gain(gain)
    n = len(g)
    c = make_constraints(n, budget, max_group_size, task_cost, max_group_cost, network_cost,
                         total_cost, must_link, cannot_link)
    w = {(i, j): g[i, j] + g[j, i] for i, j in all_pairs(n)}
    scale = _scale(list(w.values()), OBJECTIVE_RESOLUTION)
    w_int = {p: round(v * scale) for p, v in w.items()}
    rounding = float(sum(abs(w[p] - w_int[p] / scale) for p in w))
    items = _items(c)

    def build(active):
        return _partition_model(w_int, n, c, active)

    t0 = time.perf_counter()
    model, x, r = build(items)
    solver = _solver(time_limit_s, num_workers, seed, presolve)
    status = solver.Solve(model)
    if status == cp_model.INFEASIBLE:
        raise _explain_infeasible(build, items, c, tasks, time_limit_s, num_workers, seed, presolve)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise MtlbenchError(f"CP-SAT found no grouping within time_limit_s={time_limit_s} "
                            f"(status {solver.StatusName(status)}); raise the time limit")
    wall = time.perf_counter() - t0
    # read the groups off the representatives: each representative's group is itself
    # plus every later task linked to it
    groups = []
    for j in range(n):
        if solver.Value(r[j]):
            groups.append([j] + [t for t in range(j + 1, n) if solver.Value(x[j, t])])
    return partition_result(
        "mip", g, groups, "optimal" if status == cp_model.OPTIMAL else "feasible", c,
        bound=solver.BestObjectiveBound() / scale, wall_time_s=wall,
        extra={"formulation": "clique partitioning (pairwise x_ij, triangle inequalities, representatives)",
               "objective_scale": scale, "objective_rounding_error_max": rounding,
               "num_workers": num_workers, "time_limit_s": time_limit_s, "seed": seed, "presolve": presolve,
               "solver_wall_time_s": solver.WallTime(),
               "n_variables": len(x) + len(r), "n_constraints": len(model.Proto().constraints)})


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
                  solver_name: str = "mip_overlap", presolve: bool = True) -> GroupingResult:
    """Choose at most ``budget`` possibly overlapping groups, each task served by its best
    chosen group (Eqs. (11)-(13)).

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
        extra={"formulation": "overlapping groups: choose groups, each task served by its best (Eqs. 11-13)",
               "score": score, "n_candidates": len(cands), "objective_scale": scale,
               "time_limit_s": time_limit_s, "num_workers": num_workers, "seed": seed,
               "solution": "cp-sat" if solved else "warm start (best partition); CP-SAT found none "
                                                   "within the time limit"})


__all__ = ["candidate_groups", "canonical_groups", "choose_groups", "partition_tasks", "served_value"]

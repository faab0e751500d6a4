"""Exact network selection over a table of trained subsets (the oracle of a subset table).

Given networks c = 1..N, each trained on a task subset g_c with cost k_c and a measured
utility u(t, c) for every t ∈ g_c (larger = better; a loss enters negated), choose the
networks to train under a budget B; every task is served by its best chosen network
(Standley et al. 2020, Sec. 3.3 and ``network_selection/main.cpp``,
``get_best_networks`` / ``score_solution``; Fifty et al. 2021, Sec. 3.3):

    y_c ∈ {0, 1} (network c is trained),  a_tc ∈ [0, 1] (t is served by c), t ∈ g_c   (S1)
    Σ_{c ∋ t} a_tc = 1 for every t,   a_tc ≤ y_c,   y_c ≤ Σ_{t ∈ g_c} a_tc            (S2)
    Σ_c k_c y_c ≤ B                                                                  (S3)
    maximise Σ_t Σ_{c ∋ t} u(t, c) a_tc                                              (S4)

For fixed y the a-part is a transportation problem with integral optima (each task to its
best chosen network), so a may be continuous; ``y_c ≤ Σ a_tc`` forbids networks that serve
no task (they would only spend budget).  Before solving, *dominated* networks are dropped:
c is dominated by d when k_d ≤ k_c, g_c ⊆ g_d and u(t, d) ≥ u(t, c) for every t ∈ g_c
(ties: the later row goes) — any selection using c is matched or beaten by swapping c for d
at no more cost, so the optimum is unchanged.

Ties (``tie_break="fewest_memberships"``, the default): among the selections of optimal
(S4) the one with the fewest task slots Σ_c |g_c| y_c is returned (a second solve with
(S4) held at its optimum, without the pruning, which may drop a smaller tied network).
A tie changes the test score: on Taskonomy setting 1 under HOA at budgets 4.5 and 5 the
single network of task 2 and the pair {2, 3} both score task 2 at 0.1695 on validation;
Standley et al.'s published HOA curve (0.44552, 0.44196) is the one with the single
network, which this rule picks; ``tie_break=None`` returns the first optimum found.
Solved by HiGHS (``scipy.optimize.milp``),
which proves optimality; CP-SAT was slower on this model (see
``benchmarks/bench_selection.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from ..errors import ConfigError, MtlbenchError
from .base import InfeasibleError

DOMINANCE_CHUNK = 256


@dataclass
class Selection:
    """The chosen networks (row indices), each task's serving row, the objective (S4)."""

    chosen: list[int]
    served_by: list[int]
    objective: float
    status: str  # optimal | feasible
    bound: float | None = None
    wall_time_s: float = 0.0
    extra: dict = field(default_factory=dict)


def dominated_rows(mask: np.ndarray, util: np.ndarray, cost: np.ndarray, keep=None) -> np.ndarray:
    """Boolean (N,): row c is dominated by another row (docstring); ``keep`` rows are never dropped."""
    n, t = mask.shape
    u = np.where(mask, util, -np.inf)
    out = np.zeros(n, dtype=bool)
    for lo in range(0, n, DOMINANCE_CHUNK):
        hi = min(n, lo + DOMINANCE_CHUNK)
        # d (axis 1) dominates c (axis 0): cost_d <= cost_c, and on every task of c, d holds it with u_d >= u_c
        ok = cost[None, :] <= cost[lo:hi, None] + 1e-12
        covers = ((~mask[lo:hi, None, :]) | (u[None, :, :] >= u[lo:hi, None, :])).all(-1)
        ok &= covers
        idx = np.arange(lo, hi)
        ok[np.arange(hi - lo), idx] = False
        # equal rows dominate each other: only a later row is dropped by an earlier one
        same = ((u[None, :, :] == u[lo:hi, None, :]) | (~mask[None, :, :] & ~mask[lo:hi, None, :])).all(-1)
        same &= np.abs(cost[None, :] - cost[lo:hi, None]) <= 1e-12
        ok &= ~(same & (np.arange(n)[None, :] > idx[:, None]))
        out[lo:hi] = ok.any(1)
    if keep is not None:
        out &= ~np.asarray(keep, dtype=bool)
    return out


def _solve(m, u, k, budget, time_limit_s, floor=None, secondary=None):
    """HiGHS on (S1)-(S4) over rows (m, u, k); with ``floor`` the objective is held >= floor
    and ``secondary`` (one weight per row) is minimised instead."""
    n_tasks = m.shape[1]
    nc = len(k)
    tc, cc = np.nonzero(m.T)  # the a variables: task tc[q] served by row cc[q]
    na = len(tc)
    nv = nc + na
    gain = np.concatenate([np.zeros(nc), u[cc, tc]])
    ai = np.arange(na)
    rows = [
        # Σ_c a_tc = 1
        (sparse.csr_matrix((np.ones(na), (tc, nc + ai)), shape=(n_tasks, nv)), 1.0, 1.0),
        # a_tc - y_c <= 0
        (sparse.csr_matrix((np.concatenate([np.ones(na), -np.ones(na)]),
                            (np.concatenate([ai, ai]), np.concatenate([nc + ai, cc]))), shape=(na, nv)), -np.inf, 0.0),
        # y_c - Σ_t a_tc <= 0
        (sparse.csr_matrix((np.concatenate([np.ones(nc), -np.ones(na)]),
                            (np.concatenate([np.arange(nc), cc]), np.concatenate([np.arange(nc), nc + ai]))),
                           shape=(nc, nv)), -np.inf, 0.0),
        # Σ_c k_c y_c <= B
        (sparse.csr_matrix((k, (np.zeros(nc, dtype=int), np.arange(nc))), shape=(1, nv)), -np.inf, float(budget)),
    ]
    if floor is None:
        c_obj = -gain
    else:
        rows.append((sparse.csr_matrix(gain[None, :]), floor, np.inf))
        c_obj = np.concatenate([np.asarray(secondary, dtype=float), np.zeros(na)])
    cons = [LinearConstraint(a, lo, hi) for a, lo, hi in rows]
    integrality = np.concatenate([np.ones(nc), np.zeros(na)])
    return milp(c_obj, constraints=cons, integrality=integrality, bounds=Bounds(0, 1),
                options={"time_limit": float(time_limit_s), "disp": False})


def select_networks(mask, util, cost, budget: float, time_limit_s: float = 60.0, prune: bool = True,
                    tasks=None, tie_break: str | None = "fewest_memberships") -> Selection:
    """Solve (S1)-(S4).  mask (N, T) bool, util (N, T) (ignored outside the mask), cost (N,).

    Raises :class:`InfeasibleError` when no selection within the budget covers every task."""
    t0 = time.perf_counter()
    mask = np.asarray(mask, dtype=bool)
    util = np.asarray(util, dtype=float)
    cost = np.asarray(cost, dtype=float)
    n_rows, n_tasks = mask.shape
    uncovered = [t for t in range(n_tasks) if not mask[:, t].any()]
    if uncovered:
        names = [tasks[t] for t in uncovered] if tasks else uncovered
        raise InfeasibleError(f"no network holds task(s) {names}")
    alive = np.flatnonzero(cost <= budget + 1e-9)
    if prune:
        alive = alive[~dominated_rows(mask[alive], util[alive], cost[alive])]
    m, u, k = mask[alive], util[alive], cost[alive]
    nc = len(alive)
    res = _solve(m, u, k, budget, time_limit_s)
    if res.status == 2:
        raise InfeasibleError(f"no selection of networks within budget {budget:g} covers every task")
    if res.x is None:
        raise MtlbenchError(f"HiGHS found no selection within time_limit_s={time_limit_s} ({res.message})")
    chosen = sorted(int(alive[q]) for q in np.flatnonzero(res.x[:nc] > 0.5))
    proven = res.status == 0
    bound = -float(res.mip_dual_bound) if getattr(res, "mip_dual_bound", None) is not None else None
    if tie_break not in (None, "fewest_memberships"):
        raise ConfigError(f"tie_break: {tie_break!r}; allowed: fewest_memberships, None")
    if tie_break and proven:
        served0 = best_served(mask, util, chosen)
        best = float(sum(util[served0[t], t] for t in range(n_tasks)))
        rows2 = np.flatnonzero(cost <= budget + 1e-9)
        res2 = _solve(mask[rows2], util[rows2], cost[rows2], budget, time_limit_s,
                      floor=best - 1e-9 * max(1.0, abs(best)), secondary=mask[rows2].sum(1))
        if res2.status == 0 and res2.x is not None:
            chosen = sorted(int(rows2[q]) for q in np.flatnonzero(res2.x[:len(rows2)] > 0.5))
    served = best_served(mask, util, chosen)
    objective = float(sum(util[served[t], t] for t in range(n_tasks)))
    return Selection(chosen=chosen, served_by=served, objective=objective,
                     status="optimal" if proven else "feasible", bound=bound,
                     wall_time_s=time.perf_counter() - t0,
                     extra={"solver": "HiGHS (scipy.optimize.milp)", "rows_considered": int(nc),
                            "rows_dropped_dominated": int((cost <= budget + 1e-9).sum() - nc),
                            "mip_gap": float(getattr(res, "mip_gap", np.nan) or 0.0)})


def best_served(mask, util, chosen) -> list[int]:
    """Each task's best chosen row (first on ties); raises InfeasibleError if one is uncovered."""
    chosen = list(chosen)
    out = []
    for t in range(mask.shape[1]):
        holders = [c for c in chosen if mask[c, t]]
        if not holders:
            raise InfeasibleError(f"task {t} is in none of the chosen networks {chosen}")
        out.append(max(holders, key=lambda c, t=t: util[c, t]))
    return out

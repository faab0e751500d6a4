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

**Lagrangian reduction** (``reduce=True``, what makes a 27-task table of 3,185 networks
solve in seconds; ``benchmarks/bench_selection.py``).  Dualising Σ_c a_tc = 1 with prices
λ_t and the budget with μ ≥ 0 gives, for every feasible selection S with t served by s(t),

    f(S) = Σ_t λ_t + Σ_t (u(t, s(t)) − λ_t)
         ≤ L(λ, μ) + Σ_{c ∈ S} min(0, σ_c) − Σ_t max(0, λ_t − u(t, s(t)))            (S5)

with ρ_c = Σ_{t ∈ g_c} max(0, u(t, c) − λ_t), σ_c = ρ_c − μ k_c and
L(λ, μ) = Σ_t λ_t + μ B + Σ_c max(0, σ_c), an upper bound on the optimum for any λ and
μ ≥ 0 (the Lagrangian dual of the LP relaxation of (S1)-(S4)).  With an incumbent of
value LB (greedy covering selection + best single swaps), a network with
σ_c < −(L − LB) is in no selection of value ≥ LB, and t is never served by c in one when
λ_t − u(t, c) > L − LB; both are dropped (a variables and rows), and (S1)-(S4) on what is
left has the same optimum and the same tied optima (the dropped parts only lower the
value of selections worse than LB, and a tolerance keeps ties).  λ minimises L by a
Polyak subgradient method started from the incumbent's served values; μ is the exact
minimiser for each λ (L is piecewise linear in μ, minimised where the cost of the
networks with ρ_c / k_c > μ crosses B).

Ties (``tie_break="fewest_memberships"``, the default): among the selections of optimal
(S4) the one with the fewest task slots Σ_c |g_c| y_c is returned (a second solve with
(S4) held at its optimum, without the dominance pruning, which may drop a smaller tied
network; with ``reduce`` the Lagrangian reduction is redone around the optimum first).
A tie changes the test score: on Taskonomy setting 1 under HOA at budgets 4.5 and 5 the
single network of column t2 and the pair {t2, t3} both score t2 at 0.1695 on validation;
Standley et al.'s published HOA curve (0.44552, 0.44196) is the one with the single
network, which this rule picks; ``tie_break=None`` returns the first optimum found.

Solved by HiGHS (``scipy.optimize.milp`` with ``mip_rel_gap=0``; HiGHS's absolute gap,
1e-6 by default, cannot be set through scipy), which proves optimality; a budget that
cannot buy enough networks to hold T task slots is refused before any solve.  CP-SAT on
the plain model found no proof within 60 s on the 27-task benchmark
(``benchmarks/bench_selection.py --compare``).
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
SUBGRADIENT_ITERATIONS = 400
INCUMBENT_STARTS = 30


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


def _value(mask, util, chosen) -> float:
    """f(S): Σ_t max over chosen rows holding t (−inf when a task is uncovered)."""
    if not len(chosen):
        return -np.inf
    return float(np.where(mask[chosen], util[chosen], -np.inf).max(0).sum())


def incumbent(mask, util, cost, budget, starts: int = INCUMBENT_STARTS) -> list[int] | None:
    """A covering selection within the budget: the best of ``starts`` local searches, each
    a greedy selection from a different first network (the ``starts`` networks of largest
    total utility, and the empty start) improved by best single swaps / additions; None if
    none covers every task."""
    total = np.where(mask, util, 0.0).sum(1)
    total[cost > budget + 1e-9] = -np.inf
    firsts = [None] + [int(c) for c in np.argsort(-total, kind="stable")[:starts] if np.isfinite(total[c])]
    best, best_v = None, -np.inf
    for first in firsts:
        sel = _local_search(mask, util, cost, budget, first)
        if sel is not None:
            v = _value(mask, util, sel)
            if v > best_v + 1e-12:
                best, best_v = sel, v
    return best


def _local_search(mask, util, cost, budget, first=None, rounds: int = 50) -> list[int] | None:
    n, t = mask.shape
    u = np.where(mask, util, -np.inf)
    penalty = float(np.abs(util[mask]).max() * (t + 1) + 1.0) if mask.any() else 1.0
    cur = np.full(t, -penalty * 2)
    chosen: list[int] = []
    left = float(budget)
    if first is not None:
        chosen, left = [first], left - float(cost[first])
        cur = np.maximum(cur, np.where(mask[first], util[first], -penalty * 2))
    while True:
        fits = cost <= left + 1e-9
        fits[chosen] = False
        if not fits.any():
            break
        gain = (np.maximum(u, cur[None, :]) - cur[None, :]).sum(1)
        gain[~fits] = -np.inf
        c = int(np.argmax(gain))
        if gain[c] <= 1e-12 and (cur > -penalty).all():
            break
        chosen.append(c)
        left -= cost[c]
        cur = np.maximum(cur, u[c])
    if not (cur > -penalty).all():
        return None
    best = _value(mask, util, chosen)
    for _ in range(rounds):
        improved = False
        spent = float(cost[chosen].sum())
        for pos in range(len(chosen) + 1):  # pos == len: add a network
            rest = chosen[:pos] + chosen[pos + 1:]
            base = u[rest].max(0) if rest else np.full(t, -np.inf)
            room = budget - spent + (cost[chosen[pos]] if pos < len(chosen) else 0.0)
            vals = np.maximum(u, base[None, :]).sum(1)
            vals[cost > room + 1e-9] = -np.inf
            vals[rest] = -np.inf
            d = int(np.argmax(vals))
            if vals[d] > best + 1e-12:
                chosen = rest + [d]
                best = float(vals[d])
                improved = True
                break
        if not improved:
            break
    return sorted(chosen)


def _mu_star(rho, cost, budget) -> float:
    """argmin_{μ ≥ 0} μB + Σ_c max(0, ρ_c − μ k_c): where the cost of the rows with
    ρ_c / k_c > μ first reaches B."""
    ratio = rho / cost
    order = np.argsort(-ratio, kind="stable")
    cum = np.cumsum(cost[order])
    q = int(np.searchsorted(cum, budget + 1e-12, side="right"))
    return float(max(0.0, ratio[order[q]])) if q < len(order) else 0.0


def lagrangian(mask, util, cost, budget, lam):
    """(L, μ, σ) of Eq. (S5) at prices λ."""
    w = np.where(mask, np.maximum(0.0, util - lam[None, :]), 0.0)
    rho = w.sum(1)
    mu = _mu_star(rho, cost, budget)
    sigma = rho - mu * cost
    return float(lam.sum() + mu * budget + np.maximum(0.0, sigma).sum()), mu, sigma


def lagrangian_prices(mask, util, cost, budget, lb, lam0, iterations: int = SUBGRADIENT_ITERATIONS):
    """λ minimising L of Eq. (S5) (Polyak steps towards LB); returns (λ, L, σ)."""
    lam = lam0.astype(float).copy()
    best = (np.inf, lam.copy(), None)
    scale = 1.0
    stall = 0
    for _ in range(iterations):
        val, mu, sigma = lagrangian(mask, util, cost, budget, lam)
        if val < best[0] - 1e-12:
            best, stall = (val, lam.copy(), sigma), 0
        else:
            stall += 1
            if stall >= 20:
                scale, stall = scale / 2, 0
        served = (mask & (util > lam[None, :]) & (sigma > 0)[:, None]).sum(0)  # ∂L/∂λ_t = 1 − #...
        grad = 1.0 - served
        norm = float((grad ** 2).sum())
        if norm == 0 or val - lb <= 1e-12 or scale < 1e-6:
            break
        lam = lam - scale * (val - lb) / norm * grad
    return best[1], best[0], best[2]


def reduce_rows(mask, util, cost, budget, inc=None):
    """The Lagrangian reduction (module docstring) around incumbent ``inc`` (default:
    :func:`incumbent`): (rows kept, a-mask kept (N, T), info)."""
    n, t = mask.shape
    inc = incumbent(mask, util, cost, budget) if inc is None else list(inc)
    if inc is None:
        return np.ones(n, dtype=bool), mask.copy(), {"reduction": "none (no covering incumbent)"}
    lb = _value(mask, util, inc)
    served = np.where(mask[inc], util[inc], -np.inf).max(0)
    lam, bound, sigma = lagrangian_prices(mask, util, cost, budget, lb, served)
    gap = bound - lb
    tol = 1e-9 * max(1.0, abs(lb)) + 1e-12
    rows = sigma >= -gap - tol
    amask = mask & rows[:, None] & ((lam[None, :] - util) <= gap + tol)
    return rows, amask, {"incumbent_value": lb, "lagrangian_bound": bound, "rows_kept": int(rows.sum()),
                         "assignments_kept": int(amask.sum()), "assignments_total": int(mask.sum())}


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
                options={"time_limit": float(time_limit_s), "disp": False, "mip_rel_gap": 0.0})


def select_networks(mask, util, cost, budget: float, time_limit_s: float = 60.0, prune: bool = True,
                    tasks=None, tie_break: str | None = "fewest_memberships", reduce: bool = True) -> Selection:
    """Solve (S1)-(S4).  mask (N, T) bool, util (N, T) (ignored outside the mask), cost (N,).

    prune: drop dominated rows; reduce: the Lagrangian reduction (S5); tie_break: see the
    module docstring.  Raises :class:`InfeasibleError` when no selection within the budget
    covers every task."""
    t0 = time.perf_counter()
    mask = np.asarray(mask, dtype=bool)
    util = np.where(mask, np.asarray(util, dtype=float), 0.0)
    cost = np.asarray(cost, dtype=float)
    n_tasks = mask.shape[1]
    if tie_break not in (None, "fewest_memberships"):
        raise ConfigError(f"tie_break: {tie_break!r}; allowed: fewest_memberships, None")
    uncovered = [t for t in range(n_tasks) if not mask[:, t].any()]
    if uncovered:
        names = [tasks[t] for t in uncovered] if tasks else uncovered
        raise InfeasibleError(f"no network holds task(s) {names}")
    affordable = np.flatnonzero(cost <= budget + 1e-9)
    sizes = np.sort(mask[affordable].sum(1))[::-1]
    most = int(np.floor(budget / cost[affordable].min() + 1e-9))  # networks the budget can buy at most
    if not mask[affordable].any(0).all() or sizes[:most].sum() < n_tasks:
        raise InfeasibleError(f"no selection of networks within budget {budget:g} covers every task")
    info: dict = {}
    amask = mask.copy()
    rows = np.zeros(len(cost), dtype=bool)
    rows[affordable] = True
    if reduce:
        keep, am, info = reduce_rows(mask[affordable], util[affordable], cost[affordable], budget)
        rows[affordable] = keep
        amask[affordable] = am
    amask &= rows[:, None]
    alive = np.flatnonzero(rows)
    if prune:
        alive = alive[~dominated_rows(mask[alive], util[alive], cost[alive])]
    res = _solve(amask[alive], util[alive], cost[alive], budget, time_limit_s)
    if res.status == 2:
        raise InfeasibleError(f"no selection of networks within budget {budget:g} covers every task")
    if res.x is None:
        raise MtlbenchError(f"HiGHS found no selection within time_limit_s={time_limit_s} ({res.message})")
    chosen = sorted(int(alive[q]) for q in np.flatnonzero(res.x[:len(alive)] > 0.5))
    proven = res.status == 0
    bound = -float(res.mip_dual_bound) if getattr(res, "mip_dual_bound", None) is not None else None
    if tie_break and proven:
        best = _value(mask, util, chosen)
        if reduce:  # again around the optimum: only its ties are left to choose from
            sub = affordable
            keep, am, _ = reduce_rows(mask[sub], util[sub], cost[sub], budget,
                                      inc=[int(np.searchsorted(sub, c)) for c in chosen])
            rows[:] = False
            rows[sub] = keep
            amask = mask.copy()
            amask[sub] = am
            amask &= rows[:, None]
        rows2 = np.flatnonzero(rows)
        res2 = _solve(amask[rows2], util[rows2], cost[rows2], budget, time_limit_s,
                      floor=best - 1e-9 * max(1.0, abs(best)), secondary=mask[rows2].sum(1))
        if res2.status == 0 and res2.x is not None:
            chosen = sorted(int(rows2[q]) for q in np.flatnonzero(res2.x[:len(rows2)] > 0.5))
    served = best_served(mask, util, chosen)
    objective = float(sum(util[served[t], t] for t in range(n_tasks)))
    return Selection(chosen=chosen, served_by=served, objective=objective,
                     status="optimal" if proven else "feasible", bound=bound,
                     wall_time_s=time.perf_counter() - t0,
                     extra={"solver": "HiGHS (scipy.optimize.milp)", **info, "rows_solved": int(len(alive)),
                            "rows_dropped_dominated": int(rows.sum() - len(alive)),
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

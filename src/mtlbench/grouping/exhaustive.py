"""Exhaustive search over set partitions: the certificate for the MIP on small T.

The partitions of T tasks are enumerated as restricted growth strings
(a_0 = 0, a_t ≤ 1 + max(a_0..a_{t-1}); task t joins group a_t), one per partition, so
the search visits Bell(T) complete partitions (Bell(10) = 115,975;
Bell(12) = 4,213,597) when no constraint prunes.  A branch is cut as soon as a
constraint that can only get worse is broken (budget, group size, group cost,
cannot-link, must-link with an earlier task, total cost); the objective, Eq. (1) of
:mod:`mtlbench.grouping.base`, is accumulated as tasks join groups.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ConfigError
from .base import InfeasibleError, check_gain, make_constraints, partition_result

MAX_TASKS = 12  # Bell(13) = 27.6 million: beyond what a certificate run should take


def bell_number(n: int) -> int:
    """Number of set partitions of n elements (Bell triangle)."""
    row = [1]
    for _ in range(n):
        nxt = [row[-1]]
        for v in row:
            nxt.append(nxt[-1] + v)
        row = nxt
    return row[0]


def exhaustive_partition(gain, budget: int, max_group_size: int | None = None, task_cost=None,
                         max_group_cost: float | None = None, network_cost: float = 0.0,
                         total_cost: float | None = None, must_link=(), cannot_link=(),
                         tasks: list[str] | None = None):
    """The best partition under the same objective and constraints as
    :func:`mtlbench.grouping.mip.partition_tasks`, by enumerating every set partition.

    gain: (T, T) with T ≤ 12.  Returns a :class:`GroupingResult` (status ``optimal``,
    ``extra.partitions_visited``).  Raises :class:`InfeasibleError` when no partition
    satisfies the constraints.
    """
    g = check_gain(gain)
    n = len(g)
    if n > MAX_TASKS:
        raise ConfigError(f"exhaustive: T={n} tasks exceed {MAX_TASKS} (Bell({n}) = {bell_number(n):,} partitions)")
    c = make_constraints(n, budget, max_group_size, task_cost, max_group_cost, network_cost,
                         total_cost, must_link, cannot_link)
    pair = (g + g.T).tolist()
    cost = list(c.task_cost) if c.task_cost is not None else [0.0] * n
    cap_size = c.max_group_size or n
    cap_cost = c.max_group_cost if c.max_group_cost is not None else float("inf")
    # at most this many groups by the total-cost constraint (Eq. (8) of mip)
    max_groups = c.budget
    if c.total_cost is not None:
        room = c.total_cost - sum(cost)
        if room < -1e-9:
            max_groups = 0
        elif c.network_cost > 0:
            max_groups = min(max_groups, int(np.floor(room / c.network_cost + 1e-9)))
    cannot = [set() for _ in range(n)]
    for i, j in c.cannot_link:
        cannot[j].add(i)
    must = [set() for _ in range(n)]
    for i, j in c.must_link:
        must[j].add(i)

    members: list[list[int]] = []
    gcost: list[float] = []
    label = [0] * n
    best = {"value": -float("inf"), "labels": None, "visited": 0}

    def place(t: int, value: float) -> None:
        if t == n:
            best["visited"] += 1
            if value > best["value"]:
                best["value"], best["labels"] = value, list(label)
            return
        for k in range(len(members) + 1):
            if k == len(members):
                if k + 1 > max_groups:
                    break
                grp, gc = [], 0.0
            else:
                grp, gc = members[k], gcost[k]
            if len(grp) + 1 > cap_size or gc + cost[t] > cap_cost + 1e-9:
                continue
            if cannot[t] and any(i in cannot[t] for i in grp):
                continue
            if must[t] and any(label[i] != k for i in must[t]):
                continue
            delta = 0.0
            row = pair[t]
            for i in grp:
                delta += row[i]
            if k == len(members):
                members.append([t])
                gcost.append(cost[t])
            else:
                grp.append(t)
                gcost[k] += cost[t]
            label[t] = k
            place(t + 1, value + delta)
            if len(members[k]) == 1:
                members.pop()
                gcost.pop()
            else:
                members[k].pop()
                gcost[k] -= cost[t]

    t0 = time.perf_counter()
    place(0, 0.0)
    wall = time.perf_counter() - t0
    if best["labels"] is None:
        raise InfeasibleError("exhaustive: no partition satisfies the constraints "
                              f"{ {k: v for k, v in c.to_dict().items() if v not in (None, [], 0.0)} }")
    k = max(best["labels"]) + 1
    groups = [[t for t in range(n) if best["labels"][t] == q] for q in range(k)]
    return partition_result("exhaustive", g, groups, "optimal", c, bound=best["value"], wall_time_s=wall,
                            extra={"partitions_visited": best["visited"], "bell_number": bell_number(n)})

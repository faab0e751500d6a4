"""A fast feasible partition for the grouping program: greedy merging, then local search.

It serves :func:`mtlbench.grouping.mip.partition_tasks` as a warm start (CP-SAT solution
hint) and is a heuristic on its own (no optimality claim).  It works on *units*: the
connected components of the must-link pairs, which always share a group.

1. Greedy merging: start from the units; repeatedly merge the two groups whose union
   gains most (Σ of the pair weights w_ij = gain[i, j] + gain[j, i] across them) among
   the merges that keep every constraint (cannot-link, group size, group cost); stop
   when no merge gains and at most ``max_groups`` groups remain.
2. Local search: move one unit to another group (or to a new group while fewer than
   ``max_groups`` exist) while a move gains and keeps the constraints; then a few
   seeded kicks (move a few random units, search again, keep the result if better).

Returns ``None`` when it finds no feasible partition (e.g. merges that the budget needs
are all blocked); that does not mean none exists.
"""

from __future__ import annotations

import numpy as np

from .base import GroupingConstraints


def max_groups(c: GroupingConstraints, n: int) -> int:
    """The number of groups the budget and the total-cost constraint allow (0: none)."""
    k = min(c.budget, n)
    if c.total_cost is not None:
        room = c.total_cost - (sum(c.task_cost) if c.task_cost is not None else 0.0)
        if room < -1e-9:
            return 0
        if c.network_cost > 0:
            k = min(k, int(np.floor(room / c.network_cost + 1e-9)))
    return k


def connected_components(n: int, pairs) -> list[list[int]]:
    """The connected components of tasks 0..n-1 joined by ``pairs``, each sorted, ordered
    by their lowest task (union-find)."""
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in pairs:
        parent[find(i)] = find(j)
    comps: dict[int, list[int]] = {}
    for t in range(n):
        comps.setdefault(find(t), []).append(t)
    return sorted(comps.values(), key=lambda u: u[0])


def greedy_local_search(weights, c: GroupingConstraints, kicks: int = 20, seed: int = 0):
    """A feasible partition (list of task lists) of high Σ_{i<j same group} w_ij, or None.

    weights: symmetric (T, T) pair weights w_ij (diagonal ignored).
    """
    w = np.asarray(weights, dtype=float)
    n = len(w)
    kmax = max_groups(c, n)
    units = connected_components(n, c.must_link)
    m = len(units)
    member = np.zeros((n, m))
    for u, tasks in enumerate(units):
        member[tasks, u] = 1.0
    uw = member.T @ (w - np.diag(np.diag(w))) @ member  # unit-to-unit weights
    np.fill_diagonal(uw, 0.0)
    size = member.sum(0)
    cost = member.T @ np.asarray(c.task_cost if c.task_cost is not None else np.zeros(n))
    conflict = np.zeros((m, m), dtype=bool)
    unit_of = member.argmax(1)
    for i, j in c.cannot_link:
        conflict[unit_of[i], unit_of[j]] = conflict[unit_of[j], unit_of[i]] = True
    cap_size = c.max_group_size if c.max_group_size is not None else n
    cap_cost = c.max_group_cost if c.max_group_cost is not None else np.inf
    if kmax < 1 or conflict.diagonal().any() or size.max() > cap_size or cost.max() > cap_cost + 1e-9:
        return None

    # 1. greedy merging on groups of units
    groups = [[u] for u in range(m)]
    gw = uw.copy()
    gsize, gcost, gconf = size.copy(), cost.copy(), conflict.copy()
    while len(groups) > 1:
        ok = ~gconf & (gsize[:, None] + gsize[None, :] <= cap_size) \
            & (gcost[:, None] + gcost[None, :] <= cap_cost + 1e-9)
        np.fill_diagonal(ok, False)
        if not ok.any():
            break
        score = np.where(ok, gw, -np.inf)
        a, b = np.unravel_index(np.argmax(score), score.shape)
        if score[a, b] <= 0 and len(groups) <= kmax:
            break
        a, b = min(a, b), max(a, b)
        groups[a] += groups.pop(b)
        gw[a] += gw[b]
        gw[:, a] += gw[:, b]
        gw[a, a] = 0.0
        gconf[a] |= gconf[b]
        gconf[:, a] |= gconf[:, b]
        gsize[a] += gsize[b]
        gcost[a] += gcost[b]
        keep = np.arange(len(gsize)) != b
        gw, gconf = gw[np.ix_(keep, keep)], gconf[np.ix_(keep, keep)]
        gsize, gcost = gsize[keep], gcost[keep]
    if len(groups) > kmax:
        return None
    label = np.empty(m, dtype=int)
    for k, grp in enumerate(groups):
        label[grp] = k

    # 2. local search with kicks
    def value(lab):
        same = lab[:, None] == lab[None, :]
        return float((uw * same).sum()) / 2.0

    def moves(lab):
        """delta[u, k]: gain of moving unit u to group k (k = K: a new group), -inf if not allowed."""
        K = lab.max() + 1
        onehot = np.zeros((m, K))
        onehot[np.arange(m), lab] = 1.0
        to_group = uw @ onehot
        delta = np.full((m, K + 1), -np.inf)
        ok = ((size @ onehot)[None, :] + size[:, None] <= cap_size) \
            & ((cost @ onehot)[None, :] + cost[:, None] <= cap_cost + 1e-9) \
            & ((conflict.astype(float) @ onehot) == 0)
        own = to_group[np.arange(m), lab]
        delta[:, :K] = np.where(ok, to_group - own[:, None], -np.inf)
        delta[np.arange(m), lab] = -np.inf
        if K < kmax:  # open a new group, unless u is alone already
            shared = onehot.sum(0)[lab] > 1
            delta[shared, K] = -own[shared]
        return delta

    def descend(lab):
        while True:
            delta = moves(lab)
            u, k = np.unravel_index(np.argmax(delta), delta.shape)
            if not delta[u, k] > 1e-12:
                return lab
            lab = lab.copy()
            lab[u] = k
            lab = np.unique(lab, return_inverse=True)[1]

    label = descend(label)
    best_val = value(label)
    rng = np.random.default_rng(seed)
    for _ in range(kicks if m > 2 else 0):
        lab = label.copy()
        K = lab.max() + 1
        for u in rng.choice(m, size=min(3, m), replace=False):
            targets = np.flatnonzero(np.isfinite(moves(lab)[u, :K]))
            if len(targets):
                lab[u] = rng.choice(targets)
        lab = descend(np.unique(lab, return_inverse=True)[1])
        v = value(lab)
        if v > best_val + 1e-12:
            label, best_val = lab, v
    groups = [sorted(t for u in np.flatnonzero(label == k) for t in units[u]) for k in range(label.max() + 1)]
    return sorted(groups, key=lambda g: g[0])


__all__ = ["greedy_local_search", "max_groups"]

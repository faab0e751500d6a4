"""The overlapping-groups program (Eqs. (11)-(13) of :mod:`mtlbench.grouping.mip`) solved
exactly by dynamic programming over task subsets, for up to :data:`DP_MAX_TASKS` tasks.

**Why it is the same optimum.**  A solution of (11)-(13) (chosen groups y, each task t
served by one chosen group a_tg) splits the tasks into *served sets*
S_g = {t : a_tg = 1}, at most B of them, each inside its group.  Its value is
Σ_g Σ_{t ∈ S_g} v(t, g) ≤ Σ_g w(S_g), with

    w(S) = max over candidates g ⊇ S of Σ_{t ∈ S} v(t, g)                              (D1)

Conversely, a partition of the tasks into at most B blocks S_1 … S_k (k ≤ B) with w(S_q)
finite is served by the maximising groups g_q of (D1): choosing them (one network when
two blocks pick the same group, so still at most B) and serving each block by its g_q is
feasible for (12), and every chosen group serves its block (no idle network).  Hence the
optimum of (11)-(13) is

    max over partitions {S_1, …, S_k}, k ≤ B, of Σ_q w(S_q)                          (D2)

computed by the subset recursion (the block holding the lowest task of U first)

    F_1(U) = w(U),   F_j(U) = max(F_{j-1}(U), max_{S ⊆ U, min U ∈ S} w(S) + F_{j-1}(U ∖ S))  (D3)

and F_B(all tasks).  ``must_link`` (i, j) keeps i and j in one block (w(S) = −∞ when S
holds exactly one of them), as (12) with a_ig = a_jg does.  (D1) costs
Σ_g 2^{|g|} additions, (D3) about (B − 1) · 3^T / 2 steps: under a second for T = 12.
Ties go to the first candidate (in the given order) and the first block found, so the
answer does not depend on time or threads, unlike a time-limited CP-SAT search.

``total_cost`` couples the chosen groups (a group's cost counts once however many blocks
it serves), so :func:`mtlbench.grouping.mip.choose_groups` keeps CP-SAT for it and for
more than :data:`DP_MAX_TASKS` tasks.
"""

from __future__ import annotations

import math

DP_MAX_TASKS = 14  # (D3) takes about (B - 1) * 3^T / 2 Python steps: ~2.4 M per level at T = 14


def best_served_sets(value: dict, cands: list[tuple[int, ...]], n: int, budget: int,
                     must_link=()) -> list[tuple[int, tuple[int, ...]]] | None:
    """The optimum (D2): [(candidate index k, served tasks S)], at most ``budget`` blocks
    partitioning range(n), or None when no partition into at most ``budget`` candidate
    blocks exists.  ``value[(t, k)]`` = v(t, cands[k]) for t in cands[k]."""
    if n > DP_MAX_TASKS:
        raise ValueError(f"best_served_sets: {n} tasks, more than DP_MAX_TASKS={DP_MAX_TASKS}")
    size = 1 << n
    neg = -math.inf
    w = [neg] * size  # (D1)
    arg = [-1] * size
    for k, grp in enumerate(cands):
        m = len(grp)
        sums, masks = [0.0] * (1 << m), [0] * (1 << m)
        for b in range(1, 1 << m):
            low = (b & -b).bit_length() - 1
            prev = b & (b - 1)
            s = sums[prev] + value[grp[low], k]
            mask = masks[prev] | (1 << grp[low])
            sums[b], masks[b] = s, mask
            if s > w[mask]:
                w[mask], arg[mask] = s, k
    for i, j in must_link:
        pair = (1 << i) | (1 << j)
        for mask in range(size):
            if bin(mask & pair).count("1") == 1:
                w[mask], arg[mask] = neg, -1

    full = size - 1
    prev = w  # F_{j-1} of (D3)
    choice = [None]  # choice[j - 1][u]: the block S taken first in F_j(u), 0 when F_j(u) = F_{j-1}(u)
    for j in range(2, max(budget, 1) + 1):
        cur, pick = list(prev), [0] * size
        targets = [full] if j == budget else range(1, size)
        for u in targets:
            low = u & -u
            rest = u ^ low
            best, best_s = cur[u], 0
            sub = rest
            while True:
                s = low | sub
                ws = w[s]
                if ws != neg:
                    tail = prev[u ^ s] if u != s else neg
                    if tail != neg and ws + tail > best:
                        best, best_s = ws + tail, s
                if sub == 0:
                    break
                sub = (sub - 1) & rest
            cur[u], pick[u] = best, best_s
        prev = cur
        choice.append(pick)
    if prev[full] == neg:
        return None
    blocks, u, j = [], full, len(choice)
    while u:
        s = choice[j - 1][u] if j > 1 else 0
        if s == 0:  # F_j(u) = F_{j-1}(u): one block fewer, or u is a single block at level 1
            if j == 1:
                blocks.append(u)
                break
            j -= 1
            continue
        blocks.append(s)
        u ^= s
        j -= 1
    return [(arg[s], tuple(t for t in range(n) if s >> t & 1)) for s in blocks]


__all__ = ["DP_MAX_TASKS", "best_served_sets"]

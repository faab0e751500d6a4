"""The subset dynamic programme for the overlapping-groups program (Eqs. (11)-(13),
mtlbench.grouping.overlap_dp): the optimum of every choice of at most B candidate groups,
with must-link, against enumeration and against CP-SAT where CP-SAT proves optimality."""

import itertools

import numpy as np
import pytest

from mtlbench.grouping.base import InfeasibleError
from mtlbench.grouping.mip import candidate_groups, choose_groups, served_value
from mtlbench.grouping.overlap_dp import DP_MAX_TASKS, best_served_sets


def _enumerate(gain, budget, score, max_size, must_link=()):
    """Every choice of at most ``budget`` candidates and every assignment of tasks to them."""
    n = len(gain)
    cands = candidate_groups(n, max_size)
    best = -np.inf
    for k in range(1, budget + 1):
        for chosen in itertools.combinations(cands, k):
            holders = [[g for g in chosen if t in g] for t in range(n)]
            if not all(holders):
                continue
            for pick in itertools.product(*holders):
                if any(pick[i] != pick[j] for i, j in must_link):
                    continue
                if set(pick) != set(chosen):  # a chosen group serves someone
                    continue
                best = max(best, sum(served_value(gain, t, pick[t], score) for t in range(n)))
    return best


@pytest.mark.parametrize("score", ["sum", "mean"])
def test_subset_dp_is_the_optimum_of_every_choice_of_groups(score):
    rng = np.random.default_rng(11)
    for trial in range(3):
        gain = rng.normal(size=(5, 5))
        links = [(0, 3)] if trial == 2 else []
        for budget in (1, 2, 3):
            for max_size in (3, 5):
                expected = _enumerate(gain, budget, score, max_size, links)
                if expected == -np.inf:
                    with pytest.raises(InfeasibleError):
                        choose_groups(gain, budget, max_group_size=max_size, score=score, must_link=links)
                    continue
                res = choose_groups(gain, budget, max_group_size=max_size, score=score, must_link=links)
                assert res.status == "optimal" and res.objective == pytest.approx(expected, abs=1e-9)
                assert len(res.groups) <= budget and all(len(g) <= max_size for g in res.groups)
                for t, q in enumerate(res.served_by):
                    assert t in res.groups[q]
                assert set(res.served_by) == set(range(len(res.groups)))  # no idle network
                for i, j in links:
                    assert res.served_by[i] == res.served_by[j]


def test_subset_dp_equals_cp_sat_where_cp_sat_proves_optimality():
    """Seven tasks, candidates up to size 4 (98 of them): CP-SAT proves its optimum (in
    0.6-4 s here; with eight tasks it often cannot within 30 s), and the dynamic programme
    reaches the same value."""
    rng = np.random.default_rng(4)
    gain = rng.normal(size=(7, 7))
    for budget in (2, 3, 4):
        cp = choose_groups(gain, budget, max_group_size=4, score="mean", dp=False, time_limit_s=120)
        assert cp.status == "optimal"
        dp = choose_groups(gain, budget, max_group_size=4, score="mean")
        assert dp.extra["solution"].startswith("exact: dynamic")
        assert dp.objective == pytest.approx(cp.objective, abs=1e-5)


def test_a_duplicated_task_is_served_with_its_copy():
    """Tasks 0 and 1 help each other strongly and nothing else helps: the optimum puts them
    in one group and serves both by it."""
    gain = np.full((6, 6), -0.1)
    gain[0, 1] = gain[1, 0] = 1.0
    res = choose_groups(gain, 3, max_group_size=3)
    q = res.served_by[0]
    assert res.served_by[1] == q and set(res.groups[q]) == {0, 1}


def test_no_partition_into_few_enough_blocks():
    values = {(t, k): 0.0 for k, g in enumerate([(0,), (1,), (2,)]) for t in g}
    assert best_served_sets(values, [(0,), (1,), (2,)], 3, 2) is None
    with pytest.raises(ValueError, match="DP_MAX_TASKS"):
        best_served_sets({}, [], DP_MAX_TASKS + 1, 2)

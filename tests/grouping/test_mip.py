"""The MIP against the exhaustive certificate, constraints, infeasibility reports."""

import itertools
import math

import numpy as np
import pytest

from mtlbench.errors import ConfigError
from mtlbench.grouping.base import make_constraints, partition_value, violated_constraints
from mtlbench.grouping.exhaustive import bell_number, exhaustive_partition
from mtlbench.grouping.heuristic import greedy_local_search, max_groups
from mtlbench.grouping.mip import InfeasibleError, choose_groups, partition_tasks, turan_pairs

INSTANCES = {4: 3, 5: 3, 6: 3, 7: 2, 8: 2, 9: 1, 10: 1}  # random instances per T


def _tol(gain):
    return 1e-5 * np.abs(gain).max() * gain.size


@pytest.mark.parametrize("n", sorted(INSTANCES))
def test_mip_equals_exhaustive_every_budget(n):
    rng = np.random.default_rng(100 + n)
    for _ in range(INSTANCES[n]):
        gain = rng.normal(0.0, 1.0, size=(n, n)) - 0.2  # mixed signs: budgets bind differently
        for budget in range(1, n + 1):
            mip = partition_tasks(gain, budget, time_limit_s=30)
            ex = exhaustive_partition(gain, budget)
            assert mip.status == "optimal"
            assert len(mip.groups) <= budget
            assert sorted(itertools.chain(*mip.groups)) == list(range(n))
            assert mip.objective == pytest.approx(ex.objective, abs=_tol(gain))
            assert mip.objective == pytest.approx(partition_value(gain, mip.groups))
            assert mip.bound >= mip.objective - _tol(gain)


def test_mip_equals_exhaustive_with_side_constraints():
    rng = np.random.default_rng(7)
    n = 8
    gain = rng.normal(0.3, 1.0, size=(n, n))
    cost = rng.uniform(1, 3, size=n)
    kw = dict(max_group_size=3, task_cost=cost, max_group_cost=5.0, must_link=[(0, 5)],
              cannot_link=[(1, 2), (2, 3)])
    mip = partition_tasks(gain, 4, **kw)
    ex = exhaustive_partition(gain, 4, **kw)
    assert mip.objective == pytest.approx(ex.objective, abs=_tol(gain))
    assert violated_constraints(mip.groups, make_constraints(n, 4, **kw)) == []
    # total cost: network_cost 10 per network, Σ cost fixed -> at most 2 networks here
    kw2 = dict(network_cost=10.0, total_cost=float(cost.sum()) + 25.0)
    mip2 = partition_tasks(gain, n, **kw2)
    assert len(mip2.groups) <= 2
    assert mip2.objective == pytest.approx(exhaustive_partition(gain, n, **kw2).objective, abs=_tol(gain))


def test_positive_gains_merge_negative_gains_split():
    n = 6
    assert len(partition_tasks(np.ones((n, n)), 3).groups) == 1
    assert partition_tasks(-np.ones((n, n)), n).groups == [[t] for t in range(n)]
    # two blocks of mutually helpful tasks that hurt each other
    block = np.kron(np.eye(2), np.ones((3, 3))) * 2 - 1
    assert partition_tasks(block, 2).groups == [[0, 1, 2], [3, 4, 5]]


def test_infeasible_names_the_constraints():
    gain = np.zeros((5, 5))
    tasks = ["a", "b", "c", "d", "e"]
    with pytest.raises(InfeasibleError) as e:
        partition_tasks(gain, 2, cannot_link=[(0, 1), (1, 2), (0, 2)], must_link=[(3, 4)], tasks=tasks)
    msg = str(e.value)
    assert "budget=2" in msg and "cannot_link (a, b)" in msg and "cannot_link (b, c)" in msg
    assert "must_link" not in msg  # not part of the conflict
    with pytest.raises(InfeasibleError, match=r"max_group_size=2.*must_link \(a, b\).*must_link \(b, c\)"):
        partition_tasks(gain, 5, max_group_size=2, must_link=[(0, 1), (1, 2)], tasks=tasks)
    with pytest.raises(InfeasibleError, match=r"budget=1.*max_group_size=3"):
        partition_tasks(gain, 1, max_group_size=3, tasks=tasks)
    with pytest.raises(InfeasibleError, match="must_link.*cannot_link|cannot_link.*must_link"):
        partition_tasks(gain, 3, must_link=[(0, 1)], cannot_link=[(0, 1)], tasks=tasks)
    with pytest.raises(InfeasibleError):
        exhaustive_partition(gain, 1, max_group_size=3)


def test_bad_arguments_name_the_key():
    with pytest.raises(ConfigError, match="budget"):
        partition_tasks(np.zeros((3, 3)), 0)
    with pytest.raises(ConfigError, match="gain"):
        partition_tasks(np.zeros((3, 4)), 1)
    with pytest.raises(ConfigError, match="must_link"):
        partition_tasks(np.zeros((3, 3)), 1, must_link=[(0, 3)])
    with pytest.raises(ConfigError, match="task_cost"):
        partition_tasks(np.zeros((3, 3)), 1, task_cost=[1, 2])


def test_bell_numbers_and_visits():
    assert [bell_number(k) for k in range(1, 8)] == [1, 2, 5, 15, 52, 203, 877]
    assert exhaustive_partition(np.zeros((7, 7)), 7).extra["partitions_visited"] == 877


def _brute_force_overlap(gain, budget, score):
    from mtlbench.grouping.mip import candidate_groups, served_value

    n = len(gain)
    cands = candidate_groups(n)
    best = -np.inf
    for k in range(1, budget + 1):
        for chosen in itertools.combinations(cands, k):
            if set(itertools.chain(*chosen)) != set(range(n)):
                continue
            best = max(best, sum(max(served_value(gain, t, g, score) for g in chosen if t in g)
                                 for t in range(n)))
    return best


@pytest.mark.parametrize("dp", [True, False], ids=["subset-dp", "cp-sat"])
@pytest.mark.parametrize("score", ["sum", "mean"])
def test_overlapping_groups_match_brute_force(score, dp):
    rng = np.random.default_rng(3)
    gain = rng.normal(size=(4, 4))
    for budget in (1, 2, 3):
        res = choose_groups(gain, budget, score=score, dp=dp)
        assert res.status == "optimal" and len(res.groups) <= budget
        assert res.extra["solution"].startswith("exact: dynamic") == dp
        assert res.objective == pytest.approx(_brute_force_overlap(gain, budget, score), abs=1e-4)
        for t, k in enumerate(res.served_by):
            assert t in res.groups[k]


def test_overlapping_beats_or_equals_partition():
    rng = np.random.default_rng(5)
    gain = rng.normal(size=(6, 6))
    for budget in (2,):
        assert choose_groups(gain, budget).objective >= partition_tasks(gain, budget).objective - 1e-4


def test_overlapping_at_a_tiny_time_limit_still_returns_a_valid_choice():
    """CP-SAT with (almost) no time: the warm start (best partition) comes back, flagged."""
    rng = np.random.default_rng(9)
    gain = rng.normal(size=(9, 9))
    part = partition_tasks(gain, 3)
    res = choose_groups(gain, 3, time_limit_s=1e-3, dp=False)
    assert len(res.groups) <= 3 and set(itertools.chain(*res.groups)) == set(range(9))
    assert res.objective >= part.objective - 1e-6
    assert res.status in ("optimal", "feasible")
    if res.extra["solution"] != "cp-sat":
        assert res.status == "feasible" and res.bound is None


def test_representatives_path_equals_exhaustive(monkeypatch):
    """With the clique-inequality budget switched off, the representatives + Turán/clique-cut
    budget (Eqs. (4), (5b)-(5d)) still reaches the exhaustive optimum for every budget."""
    import mtlbench.grouping.mip as mip

    monkeypatch.setattr(mip, "CLIQUE_ALL_LIMIT", 0)
    monkeypatch.setattr(mip, "CLIQUE_CUTS", 5)
    rng = np.random.default_rng(11)
    for n in (6, 8):
        gain = rng.normal(0.0, 1.0, size=(n, n)) - 0.2
        for budget in range(1, n):
            mip_res = partition_tasks(gain, budget, time_limit_s=30)
            assert "representatives" in mip_res.extra["group_count"]
            assert len(mip_res.groups) <= budget
            assert mip_res.objective == pytest.approx(exhaustive_partition(gain, budget).objective, abs=_tol(gain))


def test_reduced_triangles_with_side_constraints_equal_exhaustive():
    """Without a group limit only the triangle inequalities with a positive (or must-link)
    pair are kept (Eq. (3')); the groups read off still keep size, cost and link limits,
    including must-link pairs of negative weight."""
    rng = np.random.default_rng(21)
    for n in (7, 9):
        for _ in range(3):
            gain = rng.normal(0.0, 1.0, size=(n, n))
            cost = rng.uniform(1, 3, size=n)
            neg = [(i, j) for i, j in itertools.combinations(range(n), 2) if gain[i, j] + gain[j, i] < 0]
            kw = dict(max_group_size=4, task_cost=cost, max_group_cost=7.0, must_link=[neg[0]],
                      cannot_link=[neg[-1]])
            mip_res = partition_tasks(gain, n, **kw)
            assert mip_res.extra["triangle_set"].startswith("reduced")
            assert mip_res.extra["triangle_inequalities"] < 3 * math.comb(n, 3)
            assert violated_constraints(mip_res.groups, make_constraints(n, n, **kw)) == []
            assert mip_res.status == "optimal"
            assert mip_res.objective == pytest.approx(exhaustive_partition(gain, n, **kw).objective, abs=_tol(gain))


def test_heuristic_is_feasible_and_the_hinted_model_reaches_the_optimum():
    rng = np.random.default_rng(31)
    for n in (6, 9, 10):
        gain = rng.normal(0.0, 1.0, size=(n, n))
        cost = rng.uniform(1, 3, size=n)
        for budget in (2, 3, n):
            kw = dict(max_group_size=max(3, -(-n // budget)), task_cost=cost, max_group_cost=10.0,
                      must_link=[(0, 1)], cannot_link=[(1, 2)])
            c = make_constraints(n, budget, **kw)
            groups = greedy_local_search(gain + gain.T, c, seed=0)
            if groups is None:
                continue
            assert sorted(itertools.chain(*groups)) == list(range(n))
            assert violated_constraints(groups, c) == []
            ex = exhaustive_partition(gain, budget, **kw)
            assert partition_value(gain, groups) <= ex.objective + 1e-9
            res = partition_tasks(gain, budget, warm_start=True, **kw)
            assert res.extra["warm_start"]["objective"] == pytest.approx(partition_value(gain, groups))
            assert res.status == "optimal"
            assert res.objective == pytest.approx(ex.objective, abs=_tol(gain))


def test_heuristic_reports_no_partition_when_the_budget_cannot_be_met():
    c = make_constraints(4, 1, cannot_link=[(0, 3)])
    assert greedy_local_search(np.ones((4, 4)), c) is None
    c = make_constraints(4, 2, total_cost=1.0, task_cost=[1, 1, 1, 1])
    assert max_groups(c, 4) == 0 and greedy_local_search(np.ones((4, 4)), c) is None


def test_turan_pairs():
    # fewest same-group pairs of s tasks in at most k groups: brute force over labelings
    for s in range(1, 7):
        for k in range(1, 5):
            brute = min(sum(a == b for a, b in itertools.combinations(lab, 2))
                        for lab in itertools.product(range(k), repeat=s))
            assert turan_pairs(s, k) == brute

"""subset_scores tables: both formats parsed, coverage errors, the exact selection, HOA,
the published Taskonomy curves (skipped without ../shared), mip_normalized certified."""

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from mtlbench.data.subset_scores import SubsetScoresConfig, read_subset_table
from mtlbench.errors import ConfigError, DataError
from mtlbench.grouping.normalized import normalized_grouping, normalized_value
from mtlbench.grouping.selection import select_networks
from mtlbench.grouping.table import hoa_table, pairwise_gain, selection_frame, solve_table

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "grouping_tables"


def _standley(tmp_path, val_lines, test_lines=None, tasks=("a", "b", "c")):
    (tmp_path / "results.txt").write_text("\n".join(val_lines) + "\n")
    (tmp_path / "results_test.txt").write_text("\n".join(test_lines or val_lines) + "\n")
    return SubsetScoresConfig(kind="subset_scores", format="standley", path=str(tmp_path), tasks=tasks)


def test_standley_short_lines_and_empty_cells(tmp_path):
    cfg = _standley(tmp_path, ["1\t2\t3", "0.9", "\t1.8\t", "\t\t2.5", "0.5\t\t2", "0.7\t1.1\t2.2"])
    t = read_subset_table(cfg)
    assert t.mask.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                               [1, 0, 1], [1, 1, 1]]
    assert t.cost.tolist() == [0.5, 0.5, 0.5, 1, 1, 1, 1, 1]
    assert np.isnan(t.val[3, 1]) and t.val[3, 0] == 0.9 and t.val[6, 2] == 2.0
    assert not t.higher_is_better and t.utility("val")[6, 0] == -0.5


def test_standley_errors(tmp_path):
    with pytest.raises(DataError, match="line 2: cell 1 is 'x'"):
        read_subset_table(_standley(tmp_path, ["1\t2\t3", "x\t1"]))
    with pytest.raises(DataError, match="more than the 3 tasks"):
        read_subset_table(_standley(tmp_path, ["1\t2\t3", "1\t1\t1\t1"]))
    with pytest.raises(DataError, match="line 2 holds different tasks"):
        read_subset_table(_standley(tmp_path, ["1\t2\t3", "1\t1"], ["1\t2\t3", "1\t\t1"]))


def test_uncovered_task_is_named(tmp_path):
    (tmp_path / "T_x.csv").write_text("1 0 0\n1 1 0\n")
    (tmp_path / "T_val_y.csv").write_text("0 0 0\n0.1 0.2 0\n")
    (tmp_path / "T_y.csv").write_text("0 0 0\n0.1 0.3 0\n")
    cfg = SubsetScoresConfig(kind="subset_scores", format="mtg_net", path=str(tmp_path), tasks=("a", "b", "c"))
    with pytest.raises(DataError, match=r"no network holds task\(s\) \['c'\]"):
        read_subset_table(cfg)


def test_mtg_net_parsed(tmp_path):
    (tmp_path / "T_x.csv").write_text("1 0\n0 1\n1 1\n")
    (tmp_path / "T_val_y.csv").write_text("0 0\n0 0\n0.5 -0.25\n")
    (tmp_path / "T_y.csv").write_text("0 0\n0 0\n0.4 -0.1\n")
    cfg = SubsetScoresConfig(kind="subset_scores", format="mtg_net", path=str(tmp_path), tasks=("a", "b"))
    t = read_subset_table(cfg)
    assert t.higher_is_better and t.cost.tolist() == [1, 1, 1]
    assert np.isnan(t.val[0, 1]) and t.test[2, 1] == -0.1
    assert pairwise_gain(t).tolist() == [[0, -0.25], [0.5, 0]]
    # one group: the pair; two groups: b is better alone, a better with b -> both networks
    f = selection_frame(t, [1, 2], ["oracle"])
    assert f.val_total.tolist() == [0.25, 0.5] and f.test_total.tolist() == [pytest.approx(0.3), 0.4]
    (tmp_path / "T_x.csv").write_text("1 0\n0 2\n1 1\n")
    with pytest.raises(DataError, match="only 0 and 1"):
        read_subset_table(cfg)


def test_subset_scores_config_refused_by_name():
    from mtlbench.checks import build_dataclass

    with pytest.raises(ConfigError, match="format"):
        build_dataclass(SubsetScoresConfig, {"kind": "subset_scores", "format": "csv", "path": "x"}, "datasets.t")
    with pytest.raises(ConfigError, match="integers"):
        build_dataclass(SubsetScoresConfig, {"kind": "subset_scores", "format": "mtg_net", "path": "x",
                                             "tasks": ["a"], "budgets": [1.5]}, "datasets.t")


def _brute_selection(mask, util, cost, budget):
    best = -math.inf
    n = len(cost)
    for k in range(1, n + 1):
        for sel in itertools.combinations(range(n), k):
            if cost[list(sel)].sum() > budget + 1e-9 or not mask[list(sel)].any(0).all():
                continue
            u = np.where(mask[list(sel)], util[list(sel)], -np.inf).max(0).sum()
            best = max(best, u)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_selection_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_tasks, n_rows = 5, 12
    mask = rng.random((n_rows, n_tasks)) < 0.45
    mask[np.arange(n_tasks), np.arange(n_tasks)] = True  # singles: every task covered
    util = rng.normal(size=(n_rows, n_tasks))
    cost = rng.choice([0.5, 1.0, 1.5], size=n_rows)
    for budget in (2.0, 3.0, 4.5):
        want = _brute_selection(mask, util, cost, budget)
        got = select_networks(mask, util, cost, budget)
        assert got.status == "optimal"
        assert got.objective == pytest.approx(want, abs=1e-9)
        assert cost[got.chosen].sum() <= budget + 1e-9


def test_hoa_is_the_mean_of_pair_scores(tmp_path):
    lines = ["9\t9\t9", "1\t\t", "\t2\t", "\t\t3", "0.5\t1.5\t", "0.25\t\t2.5", "\t1\t2", "7\t7\t7"]
    t = read_subset_table(_standley(tmp_path, lines))
    h = -hoa_table(t)
    assert h[-1].tolist() == [pytest.approx(0.375), pytest.approx(1.25), pytest.approx(2.25)]
    assert h[6, :2].tolist() == [0.5, 1.5] and np.isnan(h[6, 2])  # pairs keep their own scores


@pytest.mark.skipif(not (SHARED / "taskonomy_hoa_setting1").is_dir(), reason="../shared grouping tables absent")
def test_taskonomy_setting1_published_curves():
    cfg = SubsetScoresConfig(kind="subset_scores", format="standley", path=str(SHARED / "taskonomy_hoa_setting1"),
                             tasks=("t1", "t2", "t3", "t4", "t5"))
    table = read_subset_table(cfg)
    budgets = [1 + 0.5 * k for k in range(9)]
    assert cfg.budget_list == budgets
    oracle = [solve_table(table, "oracle", b)["test_total"] for b in budgets]
    hoa = [solve_table(table, "hoa", b)["test_total"] for b in budgets]
    assert oracle == pytest.approx([0.50278, 0.46132, 0.45224, 0.44612, 0.44235, 0.43932, 0.43555, 0.43555,
                                    0.43481], abs=1e-5)
    assert hoa == pytest.approx([0.50278, 0.46132, 0.45474, 0.4505, 0.44875, 0.44489, 0.44112, 0.44552,
                                 0.44196], abs=1e-5)


def _brute_normalized(S, n, partition=False):
    """Every choice of n distinct groups, by dynamic programming over the candidates in a
    fixed order (0/1 knapsack on (number chosen, union of the chosen)): f[c, U] = the best
    total value of c groups among those seen so far whose union is U; the answer is
    f[n, all tasks].  Partition: a group joins only if disjoint from U."""
    T = len(S)
    full = (1 << T) - 1
    f = np.full((n + 1, full + 1), -np.inf)
    f[0, 0] = 0.0
    masks = np.arange(full + 1)
    for k in range(1, T + 1):
        for g in itertools.combinations(range(T), k):
            bits = sum(1 << t for t in g)
            v = normalized_value(S, g)
            ok = (masks & bits) == 0 if partition else np.ones(full + 1, dtype=bool)
            for c in range(n - 1, -1, -1):  # descending: each group used at most once
                src = f[c] + v
                np.maximum.at(f[c + 1], masks[ok] | bits, src[ok])
    return f[n, full]


@pytest.mark.parametrize("T", range(2, 9))
def test_mip_normalized_equals_exhaustive(T):
    rng = np.random.default_rng(T)
    A = rng.normal(size=(T, T))
    S = (A + A.T) / 2
    for n in range(1, T + 1):
        got = normalized_grouping(S, n)
        assert got.status == "optimal" and len(got.groups) == n
        assert len({tuple(g) for g in got.groups}) == n
        assert set().union(*map(set, got.groups)) == set(range(T))
        assert got.objective == pytest.approx(_brute_normalized(S, n), abs=1e-6 * max(1, abs(got.objective)))
        part = normalized_grouping(S, n, partition=True)
        assert sorted(t for g in part.groups for t in g) == list(range(T))
        assert part.objective == pytest.approx(_brute_normalized(S, n, partition=True), abs=1e-6)


def test_mip_normalized_constraints():
    S = np.ones((4, 4))
    res = normalized_grouping(S, 3, max_group_size=2, cannot_link=[(0, 1)], must_link=[(2, 3)])
    assert sorted(res.groups) == [[0], [1], [2, 3]]  # the only candidates left
    for g in res.groups:
        assert len(g) <= 2 and not {0, 1} <= set(g) and (2 in g) == (3 in g)
    from mtlbench.grouping.base import InfeasibleError

    with pytest.raises(InfeasibleError):
        normalized_grouping(S, 1, max_group_size=2)  # one group of <= 2 cannot cover 4 tasks
    # S = 1: unconstrained, two groups of 4 and 3 tasks score 4 + 3; a total cost of 6 = 2
    # networks + 4 task slots forces two disjoint groups
    assert normalized_grouping(S, 2).objective == 7
    res = normalized_grouping(S, 2, total_cost=6, task_cost=[1, 1, 1, 1], network_cost=1)
    assert sum(len(g) for g in res.groups) == 4 and res.objective == 4


@pytest.mark.parametrize("seed", range(3))
def test_reduction_keeps_the_optimum(seed):
    """The Lagrangian reduction and the dominance pruning drop only what no selection at
    least as good as the incumbent uses: same optimum as the plain model, on a table with
    singles, pairs and larger groups."""
    from mtlbench.grouping.selection import reduce_rows

    rng = np.random.default_rng(seed)
    n_tasks = 8
    groups = [(t,) for t in range(n_tasks)] + list(itertools.combinations(range(n_tasks), 2))
    groups += [tuple(sorted(rng.choice(n_tasks, size=int(rng.integers(3, 7)), replace=False))) for _ in range(40)]
    mask = np.zeros((len(groups), n_tasks), dtype=bool)
    for c, g in enumerate(groups):
        mask[c, list(g)] = True
    util = np.where(mask, rng.normal(scale=0.1, size=mask.shape), 0.0)
    util[:n_tasks] = 0.0
    cost = np.ones(len(groups))
    for budget in (2, 3, 5):
        plain = select_networks(mask, util, cost, budget, prune=False, reduce=False, tie_break=None)
        fast = select_networks(mask, util, cost, budget)
        assert fast.objective == pytest.approx(plain.objective, abs=1e-9)
        keep, amask, info = reduce_rows(mask, util, cost, budget)
        assert info["lagrangian_bound"] >= plain.objective - 1e-9 >= info["incumbent_value"] - 2e-9
        assert keep.sum() < len(groups) or amask.sum() < mask.sum()  # it reduces something


def test_config_refuses_tables_outside_grouping():
    from mtlbench.grouping.params import validate_grouping
    from mtlbench.similarity.params import validate_similarity

    datasets = {"tab": {"kind": "subset_scores", "tasks": ["a", "b"]}, "digits": {"tasks": ["x"]}}
    with pytest.raises(ConfigError, match="subset_scores table"):
        validate_similarity({"datasets": ["tab"], "estimators": {}}, datasets)
    with pytest.raises(ConfigError, match="table_solvers"):
        validate_grouping({"table_solvers": ["oracle", "best"]}, datasets, {})

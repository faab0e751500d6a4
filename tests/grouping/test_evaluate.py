import itertools

import numpy as np
import pytest
from conftest import set_partitions

from mtlbench.grouping.evaluate import (
    evaluation_table,
    grouping_accuracy,
    oracle_partition,
    records_by_set,
)


def _records(tasks, acc_fn):
    recs = []
    for k in range(1, len(tasks) + 1):
        for g in itertools.combinations(tasks, k):
            recs.append({"tasks": list(g), "seeds": [0, 1], "accuracy": {t: [acc_fn(t, g)] * 2 for t in g}})
    return records_by_set(recs)


def _brute(records, tasks, budget):
    best = -1.0
    for p in set_partitions(list(tasks)):
        if len(p) <= budget:
            best = max(best, np.mean([np.mean(records[frozenset(g)]["accuracy"][t]) for g in p for t in g]))
    return best


def test_oracle_matches_brute_force():
    rng = np.random.default_rng(0)
    tasks = ["a", "b", "c", "d", "e"]
    table = {(t, g): rng.uniform(0.5, 0.9) for k in range(1, 6) for g in itertools.combinations(tasks, k) for t in g}
    recs = _records(tasks, lambda t, g: table[t, g])
    for budget in (1, 2, 3, 5):
        groups, value = oracle_partition(recs, tasks, budget)
        assert len(groups) <= budget and sorted(sum(groups, [])) == tasks
        assert value == pytest.approx(_brute(recs, tasks, budget))


def test_grouping_accuracy_and_regret():
    tasks = ["a", "b", "c", "d"]
    # a and b help each other, c and d help each other, mixing hurts
    def acc(t, g):
        mates = set(g) - {t}
        same = {"a": "b", "b": "a", "c": "d", "d": "c"}[t]
        return 0.7 + 0.1 * (same in mates) - 0.05 * len(mates - {same})

    recs = _records(tasks, acc)
    oracle = oracle_partition(recs, tasks, 2)
    assert oracle[0] == [["a", "b"], ["c", "d"]] and oracle[1] == pytest.approx(0.8)
    good = {"groups": [["a", "b"], ["c", "d"]], "task_order": tasks, "served_by": [0, 0, 1, 1],
            "constraints": {"budget": 2}}
    one = {"groups": [tasks], "task_order": tasks, "served_by": [0] * 4, "constraints": {"budget": 1}}
    assert grouping_accuracy(one, recs)["a"] == pytest.approx(0.7 + 0.1 - 0.1)
    table = evaluation_table({"mip": good, "all_in_one": one}, recs, tasks, oracle)
    assert table.set_index("grouping").loc["mip", "regret"] == pytest.approx(0.0)
    assert table.set_index("grouping").loc["all_in_one", "regret"] == pytest.approx(0.1)


def test_table_reports_what_the_solver_proved_and_its_time(tmp_path):
    """status, the gap of a program stopped at its time limit, and the solve time reach the
    table (the Exam grouping has no oracle: what the solver proved is the figure to read)."""
    from mtlbench.grouping.evaluate import write_evaluation_table

    tasks = ["a", "b"]
    recs = _records(tasks, lambda t, g: 0.8 if len(g) == 2 else 0.7)
    groupings = {
        "mip": {"groups": [tasks], "task_order": tasks, "status": "feasible", "objective": 0.9, "bound": 1.2,
                "wall_time_s": 60.04, "constraints": {"budget": 1}},
        "mip_overlap": {"groups": [tasks], "task_order": tasks, "status": "optimal", "objective": 1.0, "bound": 1.0,
                        "wall_time_s": 0.5, "constraints": {"budget": 1}},
        "each_alone": {"groups": [["a"], ["b"]], "task_order": tasks, "status": "heuristic", "objective": 0.0,
                       "wall_time_s": 0.0, "constraints": {"budget": 1}},
    }
    table = evaluation_table(groupings, recs, tasks).set_index("grouping")
    assert table.loc["mip", "gap"] == pytest.approx(0.25) and table.loc["mip", "solve_s"] == pytest.approx(60.04)
    assert np.isnan(table.loc["mip_overlap", "gap"]) and table.loc["each_alone", "status"] == "heuristic"
    from mtlbench.grouping.evaluate import relative_gap

    assert relative_gap(-0.4808, -0.2153) == pytest.approx(0.2655 / 0.4808)  # negative gains: at most 1
    write_evaluation_table(table.reset_index(), tmp_path, "toy")
    md = (tmp_path / "grouping_toy.md").read_text()
    assert "| status | solve (s) | groups |" in md
    assert "| feasible (gap 25.0 %) | 60.04 | a,b |" in md and "| optimal | 0.50 | a,b |" in md


def test_caption_explains_negative_regret_of_overlapping_groupings(tmp_path):
    """The oracle is the best partition: an overlapping grouping's negative regret is explained."""
    import pandas as pd

    from mtlbench.grouping.evaluate import write_evaluation_table

    frame = pd.DataFrame([
        {"grouping": "mip_overlap", "budget": 2, "networks": 2, "groups": "a,b | b,c", "mean_gap": 10.0,
         "regret": -1.0, "status": "optimal", "gap": None, "solve_s": 0.1},
        {"grouping": "oracle", "budget": None, "networks": 2, "groups": "a,b | c", "mean_gap": 11.0,
         "regret": 0.0, "status": "", "gap": None, "solve_s": None},
    ])
    write_evaluation_table(frame, tmp_path, "routing")
    text = (tmp_path / "grouping_routing.md").read_text()
    assert "the oracle is the best partition into at most B groups" in text and "negative regret" in text
    assert "| mip_overlap | 2 | 2 | 10.00 | -1.00 |" in text

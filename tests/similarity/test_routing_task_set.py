"""Task-set records of routing tasks (mtlbench.similarity.routing_task_set) and what the
gains and the grouping evaluation make of them: the gap, lower is better."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mtlbench.cli import main
from mtlbench.data.routing.build import build_routing_data
from mtlbench.grouping.evaluate import (
    evaluation_table,
    oracle_partition,
    records_by_set,
    write_evaluation_table,
)
from mtlbench.io import read_json
from mtlbench.similarity.transfer_gain import gain_matrix, record_utility

TINY = {"embedding_dim": 16, "encoder_layers": 1, "heads": 2, "ff_hidden": 32, "lr": 1e-3, "epochs": 1,
        "episodes_per_epoch": 16, "batch_size": 8, "eval_batch": 8}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """The three task sets of tsp20 and op20 (each alone, the pair), 2 seeds, by the CLI."""
    d = tmp_path_factory.mktemp("routing")
    build_routing_data(d / "data", ["tsp20", "op20"], eval_size=4, time_limit_s=0.05)
    out = []
    for tasks in (["tsp20"], ["op20"], ["tsp20", "op20"]):
        path = d / f"{'+'.join(tasks)}.json"
        main(["train-task-set", "--routing-data", str(d / "data"), "--seeds", "0", "1", "--tasks", ",".join(tasks),
              "--hparams", json.dumps(TINY), "--device", "cpu", "--quiet", "--out", str(path)])
        out.append(read_json(path))
    return out


def test_record_holds_the_gap_per_task_and_seed(records):
    pair = records[2]
    assert pair["tasks"] == ["tsp20", "op20"] and pair["seeds"] == [0, 1]
    assert pair["metric"] == {"tsp20": "gap", "op20": "gap"}
    assert set(pair["gap"]) == {"tsp20", "op20"} and all(len(v) == 2 for v in pair["gap"].values())
    assert all(np.isfinite(v).all() for v in pair["gap"].values())
    assert pair["reference_settings"]["op20"]["time_limit_s"] == 0.05 and pair["hparams"] == TINY
    # the utility is minus the mean gap (a smaller gap is better)
    assert record_utility(pair, "op20") == pytest.approx(-np.mean(pair["gap"]["op20"]))


def test_gains_and_grouping_table_read_the_gap(records, tmp_path):
    gain, joint, alone = gain_matrix(records, ["tsp20", "op20"])
    # gain(i -> t) = gap of t alone - gap of t with i (positive = i helps t)
    assert gain[0, 1] == pytest.approx(np.mean(records[1]["gap"]["op20"]) - np.mean(records[2]["gap"]["op20"]))
    assert alone[0] == pytest.approx(np.mean(records[0]["gap"]["tsp20"]))
    by_set = records_by_set(records)
    groups, best = oracle_partition(by_set, ["tsp20", "op20"], 2)
    groupings = {"all_in_one": {"groups": [["tsp20", "op20"]], "status": "heuristic"},
                 "each_alone": {"groups": [["tsp20"], ["op20"]], "status": "heuristic"}}
    frame = evaluation_table(groupings, by_set, ["tsp20", "op20"], (groups, best))
    assert list(frame.metric) == ["gap"] * 3 and (frame.regret >= -1e-12).all()
    assert frame.set_index("grouping").loc["oracle", "regret"] == pytest.approx(0.0)
    one = frame.set_index("grouping").loc["all_in_one"]
    assert one.mean_gap == pytest.approx(np.mean([np.mean(records[2]["gap"][t]) for t in ("tsp20", "op20")]))
    write_evaluation_table(frame, tmp_path, "routing", "grouping_routing_B2")
    md = (tmp_path / "grouping_routing_B2.md").read_text()
    assert "mean gap (%)" in md and "regret (gap %)" in md and "mean gap to the reference" in md
    assert f"| all_in_one |  | 1 | {one.mean_gap:.2f} | {one.regret:.2f} |" in md


def test_a_missing_reference_is_named(tmp_path):
    from mtlbench.data.routing.store import read_reference, write_reference
    from mtlbench.errors import DataError

    build_routing_data(tmp_path, ["tsp20"], eval_size=3, time_limit_s=0.05)
    ref = read_reference(tmp_path / "tsp20.reference.json")
    ref["objective"][1] = np.nan
    ref["solutions"][1] = None
    write_reference(tmp_path / "tsp20.reference.json", "tsp20", ref, {"instances": "tsp20.npz"})
    from mtlbench.similarity.routing_task_set import routing_task_set

    with pytest.raises(DataError, match=r"tsp20: 1 of 3 evaluation instances .* no reference solution.*"
                                        r"reference_time_limit_s"):
        routing_task_set(tmp_path, ["tsp20"], TINY, [0])

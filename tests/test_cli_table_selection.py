"""select-networks (subset_scores tables), grouping --solver mip_normalized and
similarity --estimator lookahead_pair through the CLI, on constructed data."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_blobs_problem, write_problem_files

from mtlbench.cli import main
from mtlbench.similarity.io import write_similarity

torch.set_num_threads(1)


def test_select_networks_outputs(tmp_path):
    (tmp_path / "results.txt").write_text("1\t2\t3\n0.9\n\t1.8\n\t\t2.5\n0.5\t\t2\n0.7\t1.1\t2.2\n")
    (tmp_path / "results_test.txt").write_text("1\t2\t3\n0.8\n\t1.9\n\t\t2.4\n0.6\t\t2.1\n0.7\t1.2\t2.3\n")
    config = json.dumps({"format": "standley", "path": str(tmp_path), "tasks": ["a", "b", "c"],
                         "budgets": [1, 1.5, 2, 3]})
    out = tmp_path / "res" / "selection.csv"
    assert main(["select-networks", "--dataset", "toy", "--config", config, "--out", str(out),
                 "--tables-dir", str(tmp_path / "tables"), "--figure", str(tmp_path / "fig.png"),
                 "--random-draws", "5"]) == 0
    sel = pd.read_csv(out)
    assert list(sel.columns) == ["solver", "budget", "val_total", "test_total"]
    assert len(sel) == 7 * 4
    oracle = sel[sel.solver == "oracle"].set_index("budget")
    # B=1: only the all-in-one network covers a, b, c: 0.7 + 1.1 + 2.2 on val, 4.2 on test
    assert oracle.loc[1.0, "val_total"] == pytest.approx(0.7 + 1.1 + 2.2)
    assert oracle.loc[1.0, "test_total"] == pytest.approx(0.7 + 1.2 + 2.3)
    # B=1.5: a half single (1, 2 or 3) beside the all-in-one changes nothing; B=2: {a,c} + all: a 0.5, c 2
    assert oracle.loc[2.0, "val_total"] == pytest.approx(0.5 + 1.1 + 2.0)
    # the pair programs need every pair in the table: here they cannot be scored
    assert sel[sel.solver == "mip"].test_total.isna().all()
    assert "| budget |" in (tmp_path / "tables" / "grouping_toy.md").read_text()
    assert (tmp_path / "fig.png").stat().st_size > 1000
    bad = json.dumps({"format": "standley", "path": str(tmp_path), "tasks": ["a", "b", "c"], "colour": 1})
    assert main(["select-networks", "--dataset", "toy", "--config", bad, "--out", str(out)]) != 0


def test_grouping_mip_normalized_and_lookahead_pair(tmp_path):
    prob = make_blobs_problem(n_tasks=3, n_classes=2, dim=5, n_train=20, n_test=20, shift=1.0)
    f, s = tmp_path / "f.parquet", tmp_path / "s.parquet"
    write_problem_files(prob, f, s, ["a", "b"])
    tasks = ",".join(prob.tasks)
    assert main(["similarity", "--estimator", "lookahead_pair", "--dataset", "blobs", "--tasks", tasks,
                 "--features", str(f), "--split", str(s), "--settings",
                 '{"hidden": 8, "steps": 6, "lookahead_every": 3}', "--out", str(tmp_path / "lp.json")]) == 0
    lp = json.loads((tmp_path / "lp.json").read_text())
    assert lp["estimator"] == "lookahead_pair" and len(lp["matrix"]) == 3
    gain = np.array([[0, 1.0, -1.0], [1.0, 0, -1.0], [-1.0, -1.0, 0]])
    write_similarity(tmp_path / "g.json", gain, prob.tasks, "transfer_gain", {}, orientation="similarity")
    for solver in ("mip_normalized", "mip_normalized_partition"):
        out = tmp_path / f"{solver}.json"
        assert main(["grouping", "--solver", solver, "--gain", str(tmp_path / "g.json"), "--tasks", tasks,
                     "--budget", "2", "--out", str(out)]) == 0
        rec = json.loads(out.read_text())
        assert rec["solver"] == solver and rec["status"] == "optimal" and len(rec["groups"]) == 2
    # the partition: {t0, t1} (gain 1 each way) and {t2}
    part = json.loads((tmp_path / "mip_normalized_partition.json").read_text())
    assert sorted(map(sorted, part["groups"])) == sorted([sorted(prob.tasks[:2]), [prob.tasks[2]]])
    assert main(["grouping", "--solver", "mip_normalized", "--gain", str(tmp_path / "g.json"), "--tasks", tasks,
                 "--budget", "2", "--similarity", str(tmp_path / "lp.json"), "--out", str(tmp_path / "p.json")]) == 0

"""routing_stl and routing_bmtl behind the Method interface: registered, capabilities
declared, run records with the mean tour length / prize and the gap."""

from __future__ import annotations

import numpy as np
import pytest

from mtlbench.data.routing.instances import eval_set
from mtlbench.data.routing.reference import default_settings, solve
from mtlbench.methods import METHODS
from mtlbench.methods.blocks.routing_run import routing_run
from mtlbench.methods.blocks.routing_task import routing_problem
from mtlbench.metrics import task_metrics

TINY = {"embedding_dim": 16, "encoder_layers": 1, "heads": 2, "ff_hidden": 32, "lr": 1e-3, "epochs": 2,
        "episodes_per_epoch": 32, "batch_size": 16, "eval_batch": 8}


@pytest.fixture(scope="module")
def problem():
    sets = {t: eval_set(t, 6) for t in ("tsp20", "op20")}
    refs = {t: solve(t, inst, default_settings(t, time_limit_s=0.1))["objective"] for t, inst in sets.items()}
    return routing_problem(sets, refs)


def test_registered_with_routing_task_types():
    for name in ("routing_stl", "routing_bmtl"):
        cls = METHODS[name]
        assert set(cls.task_types) == {"routing_length", "routing_prize"}
        assert not (cls.batches_seeds or cls.learns_relations or cls.has_predictor or cls.paper_tables)


@pytest.mark.parametrize("method", ["routing_stl", "routing_bmtl"])
def test_run_record_has_objective_and_gap(problem, method):
    rec = routing_run(problem, method, TINY, seed=0, reference_settings={"time_limit_s": 0.1})
    assert rec["task_types"] == {"tsp20": "routing_length", "op20": "routing_prize"}
    tsp, op = rec["metrics"]["per_task"]["tsp20"], rec["metrics"]["per_task"]["op20"]
    assert set(tsp) == {"tour_length", "gap"} and set(op) == {"prize", "gap"}
    # the reference (OR-tools) is better than an almost untrained model on TSP20
    assert tsp["gap"] > 0 and 3.0 < tsp["tour_length"] < 12.0
    assert 0 < op["prize"] and op["gap"] < 100
    assert rec["extra"]["infeasible"] == {"tsp20": 0, "op20": 0}
    assert [h["step"] for h in rec["history"]] == [2, 4]
    assert set(rec["history"][-1]["test"]) == {"tsp20", "op20"}
    assert rec["history"][-1]["test"]["tsp20"] == pytest.approx(tsp["tour_length"])
    assert rec["n_test"] == {"tsp20": 6, "op20": 6} and rec["hparams"]["embedding_dim"] == 16


def test_same_seed_same_record_and_stl_differs_from_bmtl(problem):
    a = routing_run(problem, "routing_bmtl", TINY, seed=1)
    b = routing_run(problem, "routing_bmtl", TINY, seed=1)
    c = routing_run(problem, "routing_stl", TINY, seed=1)
    assert a["metrics"] == b["metrics"]
    assert a["metrics"] != c["metrics"]


def test_routing_metrics_gap_sign():
    ref = np.array([4.0, 4.0])
    assert task_metrics(ref, np.array([4.4, 4.4]), "routing_length") == pytest.approx({"tour_length": 4.4, "gap": 10.0})
    assert task_metrics(np.array([5.0]), np.array([4.5]), "routing_prize") == pytest.approx({"prize": 4.5, "gap": 10.0})
    assert task_metrics(np.array([np.nan]), np.array([4.5]), "routing_prize") == {"prize": 4.5}


def test_run_from_the_stage_files_writes_the_record(tmp_path):
    from mtlbench.data.routing.build import build_routing_data
    from mtlbench.io import read_json
    from mtlbench.methods.blocks.routing_run import write_routing_run

    build_routing_data(tmp_path / "data", ["cvrp20"], eval_size=4, time_limit_s=0.05)
    rec = write_routing_run(tmp_path / "data", tmp_path / "run.json", ["cvrp20"], "routing_bmtl",
                            {**TINY, "epochs": 1}, seed=0)
    back = read_json(tmp_path / "run.json")
    assert back["metrics"] == rec["metrics"] and set(back["metrics"]["per_task"]["cvrp20"]) == {"tour_length", "gap"}
    assert back["reference_settings"]["cvrp20"]["time_limit_s"] == 0.05
    assert back["extra"]["infeasible"] == {"cvrp20": 0}


def test_train_command_on_routing_data_and_the_gap_table(tmp_path):
    """`mtlbench train --routing-data` (the train_routing rule's command) writes a run JSON the
    tables stage reads: ratio 1, the method's label, tour length / prize and gap per task;
    `mtlbench tables` then gives the gap of every task."""
    import json

    from mtlbench.cli import main
    from mtlbench.data.routing.build import build_routing_data
    from mtlbench.io import read_json

    build_routing_data(tmp_path / "data", ["tsp20", "op20"], eval_size=4, time_limit_s=0.05)
    runs = []
    for label, algorithm in (("stl_small", "routing_stl"), ("routing_bmtl", "routing_bmtl")):
        out = tmp_path / "runs" / label / "r1_s0.json"
        main(["train", "--routing-data", str(tmp_path / "data"), "--out", str(out), "--dataset", "routing",
              "--tasks", "tsp20,op20", "--method", label, "--algorithm", algorithm,
              "--hparams", json.dumps({**TINY, "epochs": 1}), "--ratio", "1", "--seed", "0", "--device", "cpu",
              "--quiet"])
        rec = read_json(out)
        assert rec["method"] == label and rec["algorithm"] == algorithm and rec["ratio"] == 1.0
        assert rec["wall_time_scope"] == "run" and rec["inputs"] == {"routing_data": str(tmp_path / "data")}
        assert set(rec["metrics"]["per_task"]["tsp20"]) == {"tour_length", "gap"}
        assert set(rec["metrics"]["per_task"]["op20"]) == {"prize", "gap"}
        runs.append((out, rec))
    # `mtlbench train-seeds --routing-data` (the rule's command: every seed in one process)
    # writes, per seed, the record `train` writes for that seed alone, wall time aside
    outs = [tmp_path / "seeds" / f"r1_s{s}.json" for s in (0, 1)]
    main(["train-seeds", "--routing-data", str(tmp_path / "data"), "--out", *map(str, outs), "--seeds", "0,1",
          "--dataset", "routing", "--tasks", "tsp20,op20", "--method", "routing_bmtl", "--algorithm",
          "routing_bmtl", "--hparams", json.dumps({**TINY, "epochs": 1}), "--ratio", "1", "--device", "cpu",
          "--quiet"])
    seeded, alone = read_json(outs[0]), dict(runs[1][1])
    assert seeded.pop("wall_time_s") > 0 and alone.pop("wall_time_s") > 0
    assert seeded == alone
    assert read_json(outs[1])["seed"] == 1 and read_json(outs[1])["metrics"] != runs[1][1]["metrics"]
    main(["tables", "--runs", *[str(p) for p, _ in runs], "--dataset", "routing", "--tasks", "tsp20,op20",
          "--methods", "stl_small,routing_bmtl", "--ratios", "1", "--metrics", "gap,tour_length",
          "--out-dir", str(tmp_path / "tables")])
    gap = (tmp_path / "tables" / "routing_1_gap.md").read_text()
    assert "| method | tsp20 | op20 | avg |" in gap
    for _, rec in runs:
        cell = f"{rec['metrics']['per_task']['tsp20']['gap']:.3f}"
        assert f"| {rec['method']} | {cell}" in gap.replace("**", "").replace("<u>", "")
    assert "gap (% above the reference" in gap and "standardised" not in gap
    # the tour-length table has only the tasks that have a tour length
    assert "| method | tsp20 | avg |" in (tmp_path / "tables" / "routing_1_tour_length.md").read_text()
    try:
        main(["train", "--out", str(tmp_path / "x.json"), "--dataset", "routing", "--tasks", "tsp20",
              "--method", "routing_stl", "--ratio", "1", "--seed", "0"])
    except SystemExit as e:
        assert "--features and --split are required (or --routing-data)" in str(e)
    else:
        raise AssertionError("train without inputs did not fail")


def test_code_variant_steps_on_the_mean_of_the_task_losses(problem, monkeypatch):
    """routing_bmtl_code (task_loss_reduction: mean, cop/Trainer.py line 872): the same
    seed's first step has exactly half the gradient of the sum on two tasks."""
    import torch

    from mtlbench.methods.blocks import pomo_train
    from mtlbench.methods.routing_bmtl import RoutingBMTL, RoutingBMTLHparams

    first_grads = []

    class Recording(pomo_train.Adam):
        def step(self):
            if not hasattr(self, "seen"):
                self.seen = True
                first_grads.append(torch.cat([p.grad.flatten() for g in self.param_groups for p in g["params"]
                                              if p.grad is not None]).clone())
            return super().step()

    monkeypatch.setattr(pomo_train, "Adam", Recording)
    one_step = {**TINY, "epochs": 1, "episodes_per_epoch": 16, "batch_size": 16}
    for reduction in ("sum", "mean"):
        hp = RoutingBMTLHparams(**one_step, task_loss_reduction=reduction)
        RoutingBMTL(hp).fit_predict(problem, seed=3, progress=False)
    total, mean = first_grads
    assert total.abs().sum() > 0
    assert torch.allclose(mean, total / 2, rtol=1e-5, atol=1e-8)
    with pytest.raises(Exception, match=r"task_loss_reduction: must be one of \['sum', 'mean'\], got 'max'"):
        RoutingBMTLHparams(task_loss_reduction="max").check("methods.routing_bmtl_code")

"""Regression tasks through the methods, metrics, tables, transfer gains and grouping evaluation.

The synthetic set has a known linear answer: y_t = x·w_t + ε, ε ~ N(0, 0.1²), so the best
possible test MSE is the noise variance 0.01 (predicting the mean costs Var(y) ≈ 1).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import set_partitions

from mtlbench.errors import ConfigError, DataError
from mtlbench.methods import Problem, TaskData
from mtlbench.methods.base import standardize_targets
from mtlbench.metrics import task_metrics

NOISE = 0.1
MLP = dict(hidden=64, dropout=0.0, lr=3e-3, weight_decay=0.0, steps=400, batch_size=32, eval_every=400)


def linear_problem(shared: bool, n_train=(200, 200, 200), n_test=200, dim=5, seed=0):
    """Three regression tasks y = x·w_t + noise; ``shared``: one w for all tasks.
    Returns the problem and {task: w_t}."""
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=dim)
    w0 /= np.linalg.norm(w0)
    data, ws = {}, {}
    for t, n in zip(("a", "b", "c"), n_train):
        w = w0 if shared else rng.normal(size=dim) / np.sqrt(dim)

        def draw(n, w=w):
            x = rng.normal(size=(n, dim)).astype(np.float32)
            return x, x.astype(np.float64) @ w + NOISE * rng.normal(size=n)

        xtr, ytr = draw(n)
        xte, yte = draw(n_test)
        data[t], ws[t] = TaskData(xtr, ytr, xte, yte), w
    return Problem(["a", "b", "c"], 1, data, task_types={t: "regression" for t in data}), ws


def mses(problem: Problem, result) -> dict[str, float]:
    return {t: task_metrics(problem.data[t].y_test, result.predictions[t], "regression")["mse"] for t in problem.tasks}


# --- methods ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["stl", "bmtl"])
def test_neural_methods_reach_the_noise_level(name):
    from mtlbench.methods import get_method

    problem, _ = linear_problem(shared=False)
    cls = get_method(name)
    result = cls(cls.Hparams(**MLP)).fit_predict(problem, seed=0, progress=False)
    for t, mse in mses(problem, result).items():
        assert mse < 2 * NOISE**2, (t, mse)  # noise floor 0.01; the mean predictor ≈ 1
    assert result.predictions["a"].dtype.kind == "f"
    assert result.history[-1]["test"]["a"] == pytest.approx(mses(problem, result)["a"], rel=1e-5)


def test_pooled_is_one_regressor_on_tasks_sharing_w():
    from mtlbench.methods.pooled import Pooled, PooledHparams

    problem, _ = linear_problem(shared=True)
    result = Pooled(PooledHparams(**MLP)).fit_predict(problem, seed=0, progress=False)
    assert all(mse < 2 * NOISE**2 for mse in mses(problem, result).values())
    # one regressor: the same input gets the same prediction whichever task it is tested as
    same = problem.data["a"].x_test
    for t in ("b", "c"):
        problem.data[t].x_test = same
    again = Pooled(PooledHparams(**MLP)).fit_predict(problem, seed=0, progress=False)
    assert np.array_equal(again.predictions["a"], again.predictions["b"])


def test_ridge_recovers_w_and_linear_baselines_predict():
    from mtlbench.methods.linear_stl import LinearHparams, LinearSTL, fit_ridge_cv
    from mtlbench.methods.pooled_linear import PooledLinear

    problem, ws = linear_problem(shared=False)
    d = problem.data["b"]
    model, c, scores = fit_ridge_cv(d.x_train, d.y_train, LinearHparams(), seed=0)
    scaler, ridge = model[0], model[-1]
    w_hat = ridge.coef_ / scaler.scale_  # back to raw feature units
    assert np.abs(w_hat - ws["b"]).max() < 0.03
    assert set(scores) == set(LinearHparams().cs) and scores[c] == min(scores.values())
    result = LinearSTL(LinearHparams()).fit_predict(problem, seed=0, progress=False)
    assert all(mse < 1.5 * NOISE**2 for mse in mses(problem, result).values())
    assert "cv_mse" in result.extra["chosen"]["a"]

    shared, _ = linear_problem(shared=True)
    pooled = PooledLinear(LinearHparams()).fit_predict(shared, seed=0, progress=False)
    assert all(mse < 1.5 * NOISE**2 for mse in mses(shared, pooled).values())
    # pooling tasks with different w cannot fit them all: the pooled fit is far worse there
    unrelated = PooledLinear(LinearHparams()).fit_predict(problem, seed=0, progress=False)
    assert max(mses(problem, unrelated).values()) > 10 * NOISE**2


def test_pooled_refuses_a_mix_of_task_types():
    from mtlbench.methods.pooled_linear import PooledLinear, pool_training

    problem, _ = linear_problem(shared=True)
    problem.task_types["c"] = "classification"
    with pytest.raises(ConfigError, match="all classification or all regression"):
        pool_training(problem)
    with pytest.raises(ConfigError, match="c: classification"):
        PooledLinear(PooledLinear.Hparams()).fit_predict(problem, seed=0)


def test_bmtl_objective_parameters():
    from mtlbench.checks import build_dataclass
    from mtlbench.methods.bmtl import BMTL, BMTLHparams, penalty_term, task_weights

    problem, _ = linear_problem(shared=False, n_train=(50, 100, 200))
    assert task_weights(problem, "mean") == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert task_weights(problem, "sum") == {"a": 50.0, "b": 100.0, "c": 200.0}
    import torch

    params = [torch.tensor([1.0, -2.0]), torch.tensor([[0.5]])]
    assert float(penalty_term(params, "l1", 0.1)) == pytest.approx(0.35)
    assert penalty_term(params, "l2", 0.1) == 0.0  # Adam's weight decay applies it
    assert penalty_term(params, "none", 0.1) == 0.0

    short = dict(MLP, steps=150, eval_every=150)

    def run(**kw):
        return BMTL(BMTLHparams(**{**short, **kw})).fit_predict(problem, seed=0, progress=False)

    free = run(penalty="none", weight_decay=0.5)
    # λ = 0: l2 adds nothing, identical to no penalty (weight_decay is λ and only λ)
    assert all(np.array_equal(run(penalty="l2", weight_decay=0.0).predictions[t], free.predictions[t])
               for t in problem.tasks)
    # a heavy L1 penalty shrinks every weight to 0: constant predictions, MSE ≈ Var(y)
    lasso = run(penalty="l1", weight_decay=1.0)
    for t in problem.tasks:
        assert np.std(lasso.predictions[t]) < 0.1 * np.std(free.predictions[t])
        assert mses(problem, lasso)[t] > 0.5 * np.var(problem.data[t].y_test)
    summed = run(task_weighting="sum")
    assert all(mse < 3 * NOISE**2 for mse in mses(problem, summed).values())
    with pytest.raises(ConfigError, match="penalty.*'l1'"):
        build_dataclass(BMTLHparams, {"penalty": "l3"}, "methods.bmtl")
    with pytest.raises(ConfigError, match="task_weighting"):
        build_dataclass(BMTLHparams, {"task_weighting": "max"}, "methods.bmtl")
    with pytest.raises(ConfigError, match="weight_decay"):
        build_dataclass(BMTLHparams, {"weight_decay": -1.0}, "methods.bmtl")


def test_amtnn_regression_learns_identity_relations_on_unrelated_tasks():
    from mtlbench.methods.amtnn import AMTNNH, AMTNNHHparams

    problem = standardize_targets(linear_problem(shared=False)[0])
    result = AMTNNH(AMTNNHHparams(epochs=12, mlp_hidden=64)).fit_predict(problem, seed=0, progress=False)
    alpha = result.relations["alpha"]
    assert np.allclose(alpha.sum(1), 1.0) and np.all(np.diag(alpha) > 0.9)
    losses = np.asarray(result.extra["relation_losses"])
    assert np.all(np.diag(losses) < losses.min(axis=1, where=~np.eye(3, dtype=bool), initial=np.inf))
    assert result.extra["relation_loss"] == "squared error"
    assert all(mse < 0.1 for mse in mses(problem, result).values())  # standardised: the mean costs 1


def test_amtnn_refuses_mixed_types_and_vmtl_mrn_refuse_regression():
    from mtlbench.methods.amtnn import AMTNNW, AMTNNWHparams
    from mtlbench.methods.mrn import MRN, MRNHparams
    from mtlbench.methods.vmtl import VMTL, VMTLHparams

    problem, _ = linear_problem(shared=True)
    with pytest.raises(DataError, match="classification tasks only"):
        VMTL(VMTLHparams(steps=2)).fit_predict(problem, seed=0, progress=False)
    with pytest.raises(ConfigError, match="MRN needs classification"):
        MRN(MRNHparams(steps=2)).fit_predict(problem, seed=0, progress=False)
    problem.task_types["c"] = "classification"
    with pytest.raises(ConfigError, match="all classification or all regression"):
        AMTNNW(AMTNNWHparams(epochs=1)).fit_predict(problem, seed=0, progress=False)


def test_standardize_targets_uses_training_statistics():
    problem, _ = linear_problem(shared=True)
    problem.data["b"].y_train = problem.data["b"].y_train * 10 + 3
    problem.data["b"].y_test = problem.data["b"].y_test * 10 + 3
    std = standardize_targets(problem)
    for t in problem.tasks:
        y = std.data[t].y_train
        assert y.mean() == pytest.approx(0.0, abs=1e-12) and y.std() == pytest.approx(1.0)
        s = std.target_scaling[t]
        assert np.allclose(std.data[t].y_test, (problem.data[t].y_test - s["mean"]) / s["std"])
    assert std.target_scaling["b"]["std"] == pytest.approx(10 * std.target_scaling["a"]["std"], rel=0.3)
    assert problem.target_scaling == {}  # the input is not modified


# --- tables ----------------------------------------------------------------------------

def test_tables_bold_the_lowest_error(tmp_path):
    from mtlbench.io import write_json
    from mtlbench.report.tables import load_runs, summarize, table_frame, to_markdown, write_tables

    mse = {"stl": [0.30, 0.32, 0.31], "bmtl": [0.20, 0.22, 0.21], "pooled": [0.50, 0.52, 0.51]}
    paths = []
    for m, vals in mse.items():
        for seed, v in enumerate(vals):
            p = tmp_path / f"{m}_{seed}.json"
            per = {"x": {"mse": v, "mae": v / 2}, "y": {"mse": v + 0.1, "mae": v / 2 + 0.05}}
            write_json(p, {"dataset": "toy", "method": m, "ratio": 0.1, "seed": seed,
                           "metrics": {"per_task": per, "average": {"mse": v + 0.05, "mae": v / 2 + 0.025}}})
            paths.append(p)
    frame, marks = table_frame(summarize(load_runs(paths)), "toy", 0.1, "mse", ["x", "y"], ["stl", "bmtl", "pooled"])
    assert marks == {"bmtl": "best", "stl": "second"}  # lowest error first, the highest (pooled) unmarked
    md = to_markdown(frame, marks, "cap")
    assert "| bmtl | 0.210 ± 0.025 | 0.310 ± 0.025 | **0.260 ± 0.025** |" in md
    assert "<u>0.360 ± 0.025</u>" in md and "**0.560" not in md
    written = write_tables(paths, tmp_path / "t", "toy", ["x", "y"], ["stl", "bmtl", "pooled"], [0.1], ["mse", "mae"])
    assert len(written) == 6
    text = (tmp_path / "t" / "toy_0.1_mse.md").read_text()
    assert "best average (lowest) in bold" in text and "standardised targets" in text
    assert "**0.130 ± 0.012**" in (tmp_path / "t" / "toy_0.1_mae.md").read_text()


# --- transfer gains ----------------------------------------------------------------------

def _rec(tasks, scores):
    """A task-set record; scores {task: (metric, value)}."""
    rec = {"tasks": list(tasks), "seeds": [0, 1], "metric": {t: m for t, (m, _) in scores.items()}}
    for t, (m, v) in scores.items():
        rec.setdefault(m, {})[t] = [v - 0.01, v + 0.01]
    return rec


def test_regression_gain_is_the_loss_reduction():
    from mtlbench.similarity.transfer_gain import gain_matrix, task_metric_names

    tasks = ["r1", "r2", "c"]
    kind = {"r1": "mse", "r2": "mse", "c": "accuracy"}
    alone = {"r1": 0.50, "r2": 0.40, "c": 0.70}
    joint = {("r1", "r2"): {"r1": 0.30, "r2": 0.45},  # r2 helps r1 (MSE down), r1 hurts r2
             ("r1", "c"): {"r1": 0.50, "c": 0.75}, ("r2", "c"): {"r2": 0.35, "c": 0.60}}
    recs = [_rec([t], {t: (kind[t], alone[t])}) for t in tasks]
    recs += [_rec(list(p), {t: (kind[t], v) for t, v in s.items()}) for p, s in joint.items()]
    gain, jm, am = gain_matrix(recs, tasks)
    assert gain[1, 0] == pytest.approx(0.20)  # r2 → r1: MSE 0.50 → 0.30, a positive gain
    assert gain[0, 1] == pytest.approx(-0.05)  # r1 → r2: MSE 0.40 → 0.45, harmful
    assert gain[0, 2] == pytest.approx(0.05) and gain[1, 2] == pytest.approx(-0.10)  # accuracy, unchanged
    assert gain[2, 1] == pytest.approx(0.05) and gain[2, 0] == pytest.approx(0.0)
    assert jm[1, 0] == pytest.approx(0.30) and am.tolist() == pytest.approx([0.5, 0.4, 0.7])
    assert task_metric_names(recs, tasks) == ["mse", "mse", "accuracy"]


def test_task_set_scores_record_the_metric():
    from mtlbench.methods.bmtl import BMTLHparams
    from mtlbench.similarity.transfer_gain import record_score, task_set_scores

    problem, _ = linear_problem(shared=True)
    problem.task_types = {"a": "regression", "b": "regression"}
    rec = task_set_scores([problem, problem], ["a", "b"], BMTLHparams(hidden=8, steps=5, eval_every=5), [0, 1])
    assert rec["metric"] == {"a": "mse", "b": "mse"} and "accuracy" not in rec
    assert len(rec["mse"]["a"]) == 2 and record_score(rec, "a") > 0


def test_tag_affinity_on_regression_is_a_loss_reduction():
    from mtlbench.similarity.tag_affinity import TagAffinityHparams, tag_affinity

    problem, _ = linear_problem(shared=False, n_train=(100, 100, 100))
    d = problem.data["a"]  # task "b" becomes a noisy copy of "a": same w, new noise
    rng = np.random.default_rng(1)
    problem.data["b"] = TaskData(d.x_train, d.y_train + NOISE * rng.normal(size=len(d.y_train)), d.x_test, d.y_test)
    hp = TagAffinityHparams(hidden=16, dropout=0.0, steps=30, batch_size=32, affinity_every=5, lookahead_lr=0.05)
    z = tag_affinity(problem, hp, seed=0)
    assert np.all(np.diag(z) > 0)  # a step on t's own squared error lowers it
    assert z[0, 1] > 0 and z[1, 0] > 0  # the copies help each other
    assert z[0, 1] > z[2, 1] and z[1, 0] > z[2, 0]  # more than the unrelated task does


# --- grouping: the partition scorer (oracle) against brute force -------------------------

def _random_records(tasks, kind, rng):
    recs = []
    for k in range(1, len(tasks) + 1):
        for g in itertools.combinations(tasks, k):
            recs.append(_rec(g, {t: (kind[t], float(rng.uniform(0.1, 0.9))) for t in g}))
    return recs


@pytest.mark.parametrize("mixed", [False, True])
def test_partition_scorer_equals_brute_force(mixed):
    from mtlbench.grouping.evaluate import evaluation_table, oracle_partition, records_by_set

    rng = np.random.default_rng(7 + mixed)
    tasks = ["a", "b", "c", "d", "e"]
    kind = {t: ("accuracy" if mixed and t in "ab" else "mse") for t in tasks}
    recs = records_by_set(_random_records(tasks, kind, rng))

    def utility(partition):  # mean over tasks of accuracy, or −MSE
        vals = []
        for g in partition:
            rec = recs[frozenset(g)]
            for t in g:
                v = float(np.mean(rec[kind[t]][t]))
                vals.append(v if kind[t] == "accuracy" else -v)
        return float(np.mean(vals))

    partitions = list(set_partitions(tasks))
    assert len(partitions) == 52  # Bell(5)
    for budget in (1, 2, 3, 5):
        allowed = [p for p in partitions if len(p) <= budget]
        best = max(allowed, key=utility)
        groups, value = oracle_partition(recs, tasks, budget)
        assert len(groups) <= budget and sorted(sum(groups, [])) == tasks
        assert value == pytest.approx(utility(best))
        # every allowed partition scored by the table: regret = oracle's advantage, >= 0
        grps = {f"p{i}": {"groups": p, "task_order": None, "constraints": {"budget": budget}}
                for i, p in enumerate(allowed)}
        table = evaluation_table(grps, recs, tasks, (groups, value)).set_index("grouping")
        assert table.loc["oracle", "regret"] == pytest.approx(0.0)
        for i, p in enumerate(allowed):
            assert table.loc[f"p{i}", "regret"] == pytest.approx(utility(best) - utility(p))
            assert table.loc[f"p{i}", "regret"] >= -1e-12
        if not mixed:  # pure regression: the oracle has the lowest mean MSE; regret = MSE − oracle MSE
            assert table.loc["oracle", "mean_mse"] == pytest.approx(-utility(best))
            assert table["mean_mse"].min() == pytest.approx(table.loc["oracle", "mean_mse"])
            assert "mean_accuracy" not in table.columns and set(table["metric"]) == {"mse"}
        else:
            assert set(table["metric"]) == {"accuracy+mse"}


def test_regression_grouping_table_says_mse(tmp_path):
    from mtlbench.grouping.evaluate import (
        evaluation_table,
        oracle_partition,
        records_by_set,
        write_evaluation_table,
    )

    tasks = ["a", "b", "c", "d"]
    mate = {"a": "b", "b": "a", "c": "d", "d": "c"}

    def mse(t, g):  # a-b and c-d help each other (lower MSE), mixing hurts
        others = set(g) - {t}
        return 0.5 - 0.2 * (mate[t] in others) + 0.1 * len(others - {mate[t]})

    recs = records_by_set([_rec(g, {t: ("mse", mse(t, g)) for t in g})
                           for k in range(1, 5) for g in itertools.combinations(tasks, k)])
    oracle = oracle_partition(recs, tasks, 2)
    assert oracle[0] == [["a", "b"], ["c", "d"]] and oracle[1] == pytest.approx(-0.3)
    one = {"groups": [tasks], "task_order": tasks, "served_by": [0] * 4, "constraints": {"budget": 1}}
    table = evaluation_table({"all_in_one": one}, recs, tasks, oracle)
    row = table.set_index("grouping").loc["all_in_one"]
    assert row["mean_mse"] == pytest.approx(0.5) and row["regret"] == pytest.approx(0.2)  # 0.5 − 0.3
    write_evaluation_table(table, tmp_path, "toy")
    md = (tmp_path / "grouping_toy.md").read_text()
    assert "mean MSE" in md and "regret (MSE)" in md and "| all_in_one | 1 | 1 | 0.5000 | 0.2000 |" in md


# --- the train stage on a regression features table --------------------------------------

def test_train_run_standardises_targets_and_reports_mse(tmp_path):
    from mtlbench.features.table import write_features
    from mtlbench.splits import make_split, write_split
    from mtlbench.train import run

    problem, ws = linear_problem(shared=False, n_train=(60, 60, 60), n_test=60)
    sid, task, label, feat = [], [], [], []
    for t in problem.tasks:
        d = problem.data[t]
        y = np.concatenate([d.y_train, d.y_test]) * 5.0 + 100.0  # raw targets far from standardised
        x = np.concatenate([d.x_train, d.x_test])
        sid += [f"{t}{i}" for i in range(len(y))]
        task += [t] * len(y)
        label.append(y)
        feat.append(x)
    label = np.concatenate(label)
    write_features(tmp_path / "f.parquet", sid, task, label, np.concatenate(feat),
                   {"task_types": {t: "regression" for t in problem.tasks}})
    write_split(tmp_path / "s.parquet", make_split(sid, task, label, 0.5, 0), 0.5, 0)
    rec = run(tmp_path / "f.parquet", tmp_path / "s.parquet", tmp_path / "run.json", dataset="toy",
              tasks=problem.tasks, method="linear_stl", algorithm="linear_stl", hparams={}, ratio=0.5, seed=0,
              device="cpu", progress=False)
    assert rec["task_types"] == {t: "regression" for t in problem.tasks}
    assert rec["target_scaling"]["a"]["mean"] == pytest.approx(100.0, abs=1.5)
    assert rec["target_scaling"]["a"]["std"] == pytest.approx(5.0 * np.std(problem.data["a"].y_train), rel=0.3)
    for t in problem.tasks:  # standardised units: noise 0.1·5 / (5·sd(y)) ⇒ MSE ≈ 0.01 / Var(y) ≪ 1
        m = rec["metrics"]["per_task"][t]
        assert set(m) == {"mse", "mae", "explained_variance"} and m["mse"] < 0.1
    assert set(rec["metrics"]["average"]) == {"mse", "mae", "explained_variance"}

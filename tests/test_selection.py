"""Model selection (final | best_val | best_test), the audit table side by side, the claims table."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import make_blobs_problem

from mtlbench.errors import ConfigError
from mtlbench.io import write_json
from mtlbench.methods import METHODS
from mtlbench.methods.base import carve_validation, selection_config
from mtlbench.report.claims import claims_frame, verdict
from mtlbench.report.paper import audit_frame, load_paper_tables
from mtlbench.train import selection_record

FAST = {"stl": dict(hidden=16, steps=60, batch_size=16, eval_every=10, dropout=0.1),
        "bmtl": dict(hidden=16, steps=60, batch_size=16, eval_every=10, dropout=0.1),
        "mrn": dict(hidden=16, steps=40, batch_size=16, eval_every=10),
        "vmtl": dict(hidden=16, latent=8, z_samples=2, w_samples=2, steps=60, eval_every=10, lr=5e-3, dropout=0.2)}


def test_carve_validation_per_class():
    problem = make_blobs_problem(n_tasks=2, n_classes=4, n_train=60, seed=2)
    carved = carve_validation(problem, 0.2, seed=3)
    for t in problem.tasks:
        d, c = problem.data[t], carved.data[t]
        assert len(c.y_train) + len(c.y_val) == len(d.y_train)
        for k in range(4):
            n = int((d.y_train == k).sum())
            assert int((c.y_val == k).sum()) == min(max(round(0.2 * n), 1), n - 1)
        np.testing.assert_array_equal(c.x_test, d.x_test)  # the test part is untouched
        rows = {tuple(r) for r in d.x_train}
        assert {tuple(r) for r in c.x_val} <= rows and {tuple(r) for r in c.x_train} <= rows
        assert not {tuple(r) for r in c.x_val} & {tuple(r) for r in c.x_train}
    again = carve_validation(problem, 0.2, seed=3)
    np.testing.assert_array_equal(again.data["t0"].y_val, carved.data["t0"].y_val)  # seeded


@pytest.mark.parametrize("name", list(FAST))
def test_best_val_never_reads_test_labels(name):
    """Swapping the test labels leaves the validation scores, and so the selected iterate, unchanged."""
    torch.set_num_threads(1)
    problem = carve_validation(make_blobs_problem(n_tasks=3, n_classes=3, dim=6, n_train=40, n_test=60,
                                                  shift=0.5, seed=1), 0.25, seed=0)
    rng = np.random.default_rng(0)
    swapped = dataclasses.replace(problem, data={
        t: dataclasses.replace(d, y_test=rng.permutation(d.y_test)) for t, d in problem.data.items()})
    cls = METHODS[name]
    sel = selection_config("best_val", "test")
    a = cls(cls.Hparams(**FAST[name])).fit_predict(problem, seed=0, progress=False)
    b = cls(cls.Hparams(**FAST[name])).fit_predict(swapped, seed=0, progress=False)
    assert [h["val"] for h in a.history] == [h["val"] for h in b.history]
    assert [h["test"] for h in a.history] != [h["test"] for h in b.history]  # the swap did change the test scores
    ra, rb = selection_record(a.history, problem, sel), selection_record(b.history, swapped, sel)
    assert ra["best_val"]["step"] == rb["best_val"]["step"]
    assert set(ra) >= {"final", "best_val", "best_test"} and ra["n_val"] == {t: len(d.y_val) for t, d in problem.data.items()}


def test_selection_record_picks_each_iterate():
    problem = carve_validation(make_blobs_problem(n_tasks=2, n_train=30), 0.2, seed=0)
    hist = [{"step": 10, "test": {"t0": 0.5, "t1": 0.5}, "val": {"t0": 0.9, "t1": 0.9}},
            {"step": 20, "test": {"t0": 0.9, "t1": 0.7}, "val": {"t0": 0.6, "t1": 0.6}},
            {"step": 30, "test": {"t0": 0.6, "t1": 0.6}, "val": {"t0": 0.9, "t1": 0.9}}]
    rec = selection_record(hist, problem, selection_config("best_val", "t"))
    assert rec["final"]["step"] == 30 and rec["best_test"]["step"] == 20
    assert rec["best_val"]["step"] == 10 and rec["best_val"]["average"] == 0.5  # ties: the earliest
    assert rec["best_test"]["average"] == pytest.approx(0.8)


def test_selection_config_names_the_key():
    with pytest.raises(ConfigError, match="methods.x.selection.mode.*allowed"):
        selection_config("best", "methods.x.selection")
    with pytest.raises(ConfigError, match="val_fraction"):
        selection_config({"mode": "best_val", "val_fraction": 1.5}, "selection")
    assert selection_config(None, "s", {"mode": "best_val", "val_fraction": 0.3}) == {"mode": "best_val",
                                                                                   "val_fraction": 0.3}


def _record(path, method, ratio, seed, final, best_val, best_test, dataset="digits"):
    sel = {s: {"average": v, "step": 1, "test": {}} for s, v in
           (("final", final), ("best_val", best_val), ("best_test", best_test))}
    write_json(path, {"dataset": dataset, "method": method, "ratio": ratio, "seed": seed,
                      "metrics": {"per_task": {"a": {"accuracy": best_val}}, "average": {"accuracy": best_val}},
                      "selection": sel, "history": []})
    return path


def test_audit_and_claims_tables(tmp_path):
    paths, rob = [], []
    for s in range(5):
        noise = 0.002 * s
        paths += [_record(tmp_path / f"v{s}.json", "vmtl", 0.05, s, 0.70 + noise, 0.71 + noise, 0.74 + noise),
                  _record(tmp_path / f"b{s}.json", "vmtl_z0_w0", 0.05, s, 0.66 + noise, 0.70 - noise, 0.73),
                  _record(tmp_path / f"s{s}.json", "stl", 0.05, s, 0.75, 0.76 + noise, 0.77)]
        for m, acc in (("vmtl", 0.5 + noise), ("vmtl_z0_w0", 0.4)):
            p = tmp_path / f"r_{m}{s}.json"
            write_json(p, {"dataset": "digits", "method": m, "ratio": 0.05, "seed": s, "eps_unit": "feature_std",
                           "fgsm": {"avg": {"0": 0.7, "0.1": acc}}})
            rob.append(p)
    audit = audit_frame(paths, load_paper_tables(), "digits", [0.05])
    v = audit[audit.method == "vmtl"].set_index("statistic")["mean"]
    assert v["final"] == pytest.approx(70.4) and v["best_val"] == pytest.approx(71.4) and v["best_test"] == pytest.approx(74.4)
    assert set(audit.method) == {"vmtl", "vmtl_z0_w0", "stl"}
    frame = claims_frame(paths, "digits", [0.05], rob).set_index(["b", "eps"], drop=False)
    bm = frame[(frame.a == "vmtl") & (frame.b == "vmtl_z0_w0") & frame.eps.isna()].iloc[0]
    assert bm.verdict == "holds" and bm["diff"] == pytest.approx(1.8) and bm.n == 5
    assert bm.diff_final == pytest.approx(4.0) and bm.diff_best_test == pytest.approx(1.4)
    st = frame[(frame.a == "vmtl") & (frame.b == "stl")].iloc[0]
    assert st.verdict == "contradicted"
    assert frame[frame.b == "vmtl_ac"].verdict.iloc[0] == "no runs"
    fg = frame[(frame.b == "vmtl_z0_w0") & (frame.eps == 0.1)].iloc[0]
    assert fg.verdict == "holds" and fg["diff"] == pytest.approx(10.4)
    assert verdict(0.5, 1.0, 5) == "not shown" and verdict(1.0, math_nan(), 1) == "not shown"


def math_nan():
    return float("nan")


@pytest.mark.parametrize("name", list(FAST))
def test_task_without_validation_samples_has_no_validation_score(name):
    """One training sample per class (dslr at 5 %): carve_validation leaves that task no
    validation part; the run still trains, its history has no val score for the task and
    best_val chooses on the other tasks (VMTL crashed in torch.cat on the empty part)."""
    torch.set_num_threads(1)
    base = make_blobs_problem(n_tasks=3, n_classes=3, dim=6, n_train=40, n_test=60, shift=0.5, seed=1)
    t0 = base.tasks[0]
    d = base.data[t0]
    first = np.array([np.flatnonzero(d.y_train == c)[0] for c in np.unique(d.y_train)])
    base = dataclasses.replace(base, data={**base.data, t0: dataclasses.replace(
        d, x_train=d.x_train[first], y_train=d.y_train[first])})
    problem = carve_validation(base, 0.25, seed=0)
    assert len(problem.data[t0].y_val) == 0 and len(problem.data[base.tasks[1]].y_val) > 0
    cls = METHODS[name]
    res = cls(cls.Hparams(**FAST[name])).fit_predict(problem, seed=0, progress=False)
    vals = [h["val"] for h in res.history if h.get("val")]
    assert vals and all(t0 not in v and set(v) == set(base.tasks[1:]) for v in vals)
    rec = selection_record(res.history, problem, selection_config("best_val", "test"))
    assert rec["best_val"] is not None and np.isfinite(rec["best_val"]["val_average"])

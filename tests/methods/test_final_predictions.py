"""STL, bMTL, pooled and MRN return the test predictions of their last evaluation (made on the
final model, after the last step) instead of a second pass over the test sets."""

import numpy as np
import pytest
import torch
from conftest import make_blobs_problem

from mtlbench.methods import bmtl, pooled, stl
from mtlbench.methods.base import Evaluator
from mtlbench.methods.mrn import MRN, MRNHparams

FAST = dict(hidden=16, steps=20, batch_size=8, eval_every=10, dropout=0.1)


def recording(fn, calls):
    def wrapped(*args, **kwargs):
        out = fn(*args, **kwargs)
        calls.append(out)
        return out

    return wrapped


@pytest.mark.parametrize("module, cls, hp_cls", [(bmtl, bmtl.BMTL, bmtl.BMTLHparams), (stl, stl.STL, stl.STLHparams),
                                                 (pooled, pooled.Pooled, pooled.PooledHparams)])
def test_mlp_methods_predict_the_test_sets_once_per_evaluation(monkeypatch, module, cls, hp_cls):
    problem = make_blobs_problem(n_tasks=3, n_test=50)
    calls = []
    monkeypatch.setattr(module, "predict", recording(module.predict, calls))
    res = cls(hp_cls(**FAST)).fit_predict(problem, seed=0, progress=False)
    assert [h["step"] for h in res.history] == [10, 20]
    assert len(calls) == 2 * len(problem.tasks)  # two evaluations, no extra pass for the result
    # the evaluation after step 20: the last one of all tasks (STL: of each task, trained one by one)
    last = calls[1::2] if cls is stl.STL else calls[-len(problem.tasks):]
    assert {id(res.predictions[t]) for t in problem.tasks} == {id(p) for p in last}


def test_bmtl_result_is_the_final_models_prediction():
    problem = make_blobs_problem(n_tasks=3, n_test=50)
    res = bmtl.BMTL(bmtl.BMTLHparams(**FAST)).fit_predict(problem, seed=1, progress=False)
    for t in problem.tasks:
        with torch.no_grad():
            fresh = res.predictor(t, torch.as_tensor(problem.data[t].x_test)).argmax(1).numpy()
        np.testing.assert_array_equal(res.predictions[t], fresh)
        assert res.history[-1]["test"][t] == float(np.mean(fresh == problem.data[t].y_test))


def test_mrn_predicts_the_test_sets_once_per_evaluation(monkeypatch):
    problem = make_blobs_problem(n_tasks=3, n_test=50)
    calls = []
    monkeypatch.setattr(MRN, "_predict", staticmethod(recording(MRN._predict, calls)))
    res = MRN(MRNHparams(**FAST)).fit_predict(problem, seed=0, progress=False)
    assert [h["step"] for h in res.history] == [10, 20]
    assert len(calls) == 2 * len(problem.tasks)
    assert {id(res.predictions[t]) for t in problem.tasks} == {id(p) for p in calls[-len(problem.tasks):]}


def test_final_predictions_of_a_task_never_evaluated_is_an_error():
    problem = make_blobs_problem(n_tasks=2, n_test=10)
    ev = Evaluator(problem)
    ev.scores("t0", lambda t, x: np.zeros(len(x), dtype=np.int64))
    assert set(ev.final_predictions(["t0"])) == {"t0"}
    with pytest.raises(RuntimeError, match="t1"):
        ev.final_predictions(["t0", "t1"])

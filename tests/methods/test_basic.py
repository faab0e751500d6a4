import numpy as np
import pytest
from conftest import make_blobs_problem

from mtlbench.errors import ConfigError
from mtlbench.methods import METHODS, get_method
from mtlbench.methods.bmtl import BMTL, BMTLHparams
from mtlbench.methods.stl import STL, STLHparams

FAST = dict(hidden=32, steps=60, batch_size=16, eval_every=30, dropout=0.1)


@pytest.mark.parametrize("cls, hp", [(STL, STLHparams(**FAST)), (BMTL, BMTLHparams(**FAST))])
def test_beats_chance_and_reports_history(cls, hp):
    problem = make_blobs_problem(n_classes=4)
    res = cls(hp).fit_predict(problem, seed=0, progress=False)
    for t in problem.tasks:
        acc = np.mean(res.predictions[t] == problem.data[t].y_test)
        assert acc > 0.6, (t, acc)  # chance is 0.25
    assert [h["step"] for h in res.history] == [30, 60]
    assert set(res.history[-1]["test"]) == set(problem.tasks)


@pytest.mark.parametrize("cls, hp", [(STL, STLHparams(**FAST)), (BMTL, BMTLHparams(**FAST))])
def test_same_seed_same_numbers(cls, hp):
    problem = make_blobs_problem()
    a = cls(hp).fit_predict(problem, seed=4, progress=False)
    b = cls(hp).fit_predict(problem, seed=4, progress=False)
    assert a.history == b.history
    for t in problem.tasks:
        np.testing.assert_array_equal(a.predictions[t], b.predictions[t])


def test_bmtl_shares_the_extractor():
    """bMTL's tasks see one extractor: with one tiny task it borrows from the others."""
    problem = make_blobs_problem(n_tasks=3, n_train=200, seed=1)
    small = problem.data["t0"]
    small.x_train, small.y_train = small.x_train[:6], small.y_train[:6]
    hp = dict(FAST, steps=150)
    stl = STL(STLHparams(**hp)).fit_predict(problem, seed=0, progress=False)
    bmtl = BMTL(BMTLHparams(**hp)).fit_predict(problem, seed=0, progress=False)
    acc = lambda r: np.mean(r.predictions["t0"] == small.y_test)  # noqa: E731
    assert acc(bmtl) >= acc(stl)


def test_registry():
    assert {"stl", "bmtl"} <= set(METHODS)
    with pytest.raises(ConfigError, match="allowed"):
        get_method("nope")

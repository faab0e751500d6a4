"""linear_stl, pooled and pooled_linear: registered, configurable, and well above chance."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_blobs_problem

from mtlbench.config import build_dataclass, validate_params
from mtlbench.errors import ConfigError
from mtlbench.methods import METHODS, get_method

FAST = {"linear_stl": {"cs": [0.1, 1.0]}, "pooled_linear": {"cs": [0.1, 1.0]},
        "pooled": {"steps": 60, "eval_every": 30, "hidden": 32}}


@pytest.mark.parametrize("name", ["linear_stl", "pooled", "pooled_linear"])
def test_baseline_beats_chance_and_is_deterministic(name):
    problem = make_blobs_problem(n_tasks=3, n_classes=4, dim=8, n_train=40, n_test=100, seed=1, shift=0.3)
    cls = get_method(name)
    hp = build_dataclass(cls.Hparams, FAST[name], f"methods.{name}")
    r1 = cls(hp).fit_predict(problem, seed=0, progress=False)
    r2 = cls(hp).fit_predict(problem, seed=0, progress=False)
    for t in problem.tasks:
        acc = float(np.mean(r1.predictions[t] == problem.data[t].y_test))
        assert acc > 0.6, (name, t, acc)  # chance is 0.25
        np.testing.assert_array_equal(r1.predictions[t], r2.predictions[t])


def test_linear_stl_chooses_c_by_cv_inside_training():
    problem = make_blobs_problem(n_tasks=2, n_classes=3, dim=5, n_train=30, n_test=30, seed=2)
    hp = build_dataclass(METHODS["linear_stl"].Hparams, {"cs": [0.001, 1.0], "folds": 3}, "methods.linear_stl")
    res = METHODS["linear_stl"](hp).fit_predict(problem, seed=0, progress=False)
    for t in problem.tasks:
        chosen = res.extra["chosen"][t]
        assert set(chosen["cv_accuracy"]) == {0.001, 1.0}
        assert chosen["cv_accuracy"][chosen["C"]] == max(chosen["cv_accuracy"].values())


def test_pooled_uses_other_tasks_data():
    """With 1 training sample per class in task t0, pooling the other tasks' data must help."""
    problem = make_blobs_problem(n_tasks=3, n_classes=4, dim=8, n_train=60, n_test=200, seed=3)
    d = problem.data["t0"]
    keep = np.concatenate([np.flatnonzero(d.y_train == c)[:1] for c in range(4)])
    d.x_train, d.y_train = d.x_train[keep], d.y_train[keep]
    hp = build_dataclass(METHODS["pooled_linear"].Hparams, {"cs": [1.0]}, "m")
    pooled = METHODS["pooled_linear"](hp).fit_predict(problem, seed=0, progress=False).predictions["t0"]
    assert np.mean(pooled == d.y_test) > 0.9


def test_params_entries_and_bad_hparams():
    from pathlib import Path

    import yaml

    p = validate_params(yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text()))
    for name in ("linear_stl", "pooled", "pooled_linear"):
        assert p["methods"][name]["method"] == name and p["methods"][name]["enabled"]
    with pytest.raises(ConfigError, match=r"methods.linear_stl.cs"):
        build_dataclass(METHODS["linear_stl"].Hparams, {"cs": [0.0]}, "methods.linear_stl")
    with pytest.raises(ConfigError, match=r"methods.pooled_linear.folds: must be >= 2"):
        build_dataclass(METHODS["pooled_linear"].Hparams, {"folds": 1}, "methods.pooled_linear")

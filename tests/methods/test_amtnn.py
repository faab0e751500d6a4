"""AMTNN end to end on tiny blobs, its options, and the public code's defects behind code_compat."""

import math

import numpy as np
import pytest
import torch
from conftest import make_blobs_problem

from mtlbench.checks import build_dataclass
from mtlbench.errors import ConfigError
from mtlbench.methods import get_method
from mtlbench.methods.amtnn import LeNetExtractor, classification_losses, initial_alpha


@pytest.fixture(scope="module")
def problem():
    torch.set_num_threads(1)
    return make_blobs_problem(n_tasks=3, n_classes=4, dim=16, n_train=60, n_test=200, seed=0, shift=1.0)


def fit(name, problem, **hp):
    cls = get_method(name)
    return cls(build_dataclass(cls.Hparams, {"epochs": 8, **hp}, name)).fit_predict(problem, seed=0, progress=False)


def accuracy(result, problem):
    return np.mean([np.mean(result.predictions[t] == problem.data[t].y_test) for t in problem.tasks])


@pytest.mark.parametrize("name", ["amtnn_h", "amtnn_w"])
def test_runs_end_to_end_and_beats_chance(name, problem):
    r = fit(name, problem)
    assert accuracy(r, problem) > 0.6  # chance: 0.25
    alpha, div = r.relations["alpha"], r.relations["divergence"]
    assert alpha.shape == div.shape == (3, 3)
    assert np.all(alpha >= 0) and np.allclose(alpha.sum(1), 1)
    assert np.allclose(div, div.T) and np.all(np.diag(div) == 0)
    assert len(r.extra["alpha_history"]) == 8 + 1
    assert r.history[-1]["step"] == 8
    again = fit(name, problem)  # same seed, same numbers
    assert np.array_equal(again.relations["alpha"], alpha)
    assert all(np.array_equal(again.predictions[t], r.predictions[t]) for t in problem.tasks)


@pytest.mark.parametrize("mode, expected", [("uniform", np.full((3, 3), 1 / 3)), ("identity", np.eye(3))])
def test_fixed_alpha_baselines(mode, expected, problem):
    r = fit("amtnn_h", problem, alpha_mode=mode, epochs=2)
    assert np.allclose(r.relations["alpha"], expected)


def test_large_kappa_spreads_alpha(problem):
    # κ·sqrt(Σα²/m) with κ = 1e3 dominates the relation step: α is close to uniform
    r = fit("amtnn_h", problem, kappa=1e3, epochs=2)
    assert np.allclose(r.relations["alpha"], 1 / 3, atol=0.05)


def test_code_compat_softmax_twice_bounds_the_loss():
    logits = torch.tensor([[50.0, 0, 0, 0], [0, 50.0, 0, 0]])
    y = [torch.tensor([0]), torch.tensor([0])]
    right, wrong = classification_losses(logits, y, code_compat=True)
    K = 4
    assert math.isclose(float(right), math.log(math.e + K - 1) - 1, rel_tol=1e-5)
    assert math.isclose(float(wrong), math.log(math.e + K - 1), rel_tol=1e-5)
    fixed_right, fixed_wrong = classification_losses(logits, y, code_compat=False)
    assert float(fixed_right) < 1e-6 and float(fixed_wrong) > 40


def test_code_compat_changes_training(problem):
    fixed = fit("amtnn_w", problem)
    compat = fit("amtnn_w", problem, code_compat=True)
    low, high = math.log(math.e + 3) - 1, math.log(math.e + 3)
    R_compat, R_fixed = np.array(compat.extra["relation_losses"]), np.array(fixed.extra["relation_losses"])
    assert np.all((R_compat >= low - 1e-6) & (R_compat <= high + 1e-6))  # softmax twice: bounded losses
    assert np.all(np.diag(R_fixed) < low)  # a plain cross-entropy falls below that bound
    # without gradient reversal the extractor helps the critics: larger W1 estimates
    assert compat.relations["divergence"].sum() > fixed.relations["divergence"].sum()


def test_lenet_extractor_shapes():
    ext = LeNetExtractor((3, 28, 28), (32, 64))
    assert ext.out_dim == 64 * 6 * 6
    assert ext(torch.zeros(2, 3 * 28 * 28)).shape == (2, 2304)


def test_initial_alpha():
    a = initial_alpha(4, 0.9)
    assert np.allclose(np.diag(a), 0.9) and np.allclose(a.sum(1), 1)


def test_bad_config_names_the_key():
    cls = get_method("amtnn_w")
    with pytest.raises(ConfigError, match="alpha_mode"):
        build_dataclass(cls.Hparams, {"alpha_mode": "random"}, "methods.amtnn_w")
    with pytest.raises(ConfigError, match="critic_stepz"):
        build_dataclass(cls.Hparams, {"critic_stepz": 2}, "methods.amtnn_w")
    assert build_dataclass(cls.Hparams, {}, "m").lr_halving_epochs == 30
    assert build_dataclass(get_method("amtnn_h").Hparams, {}, "m").lr_halving_epochs == 50


def test_lenet_on_feature_rows_is_a_config_error(problem):
    with pytest.raises(ConfigError, match="extractor"):
        fit("amtnn_h", problem, extractor="lenet", epochs=1)


def test_extra_critic_steps_and_embedding(problem):
    r = fit("amtnn_w", problem, critic_steps=3, epochs=2, embedding_samples=20)
    emb = r.extra["embedding"]
    assert len(emb["task"]) == len(emb["features"]) == 60
    assert accuracy(r, problem) > 0.4

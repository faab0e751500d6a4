"""The relation step's closed form: simplex, KKT and agreement with a generic solver."""

import numpy as np
import pytest
from scipy.optimize import minimize

from mtlbench.errors import ConfigError
from mtlbench.methods.blocks.relation_step import (
    kkt_residual,
    relation_objective,
    relation_step,
    solve_relation_row,
)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kappa", [0.05, 1.0, 30.0])
def test_row_is_a_kkt_point_on_the_simplex(seed, kappa):
    rng = np.random.default_rng(seed)
    T = 6
    costs = rng.uniform(0, 2, T)
    m = rng.integers(20, 1000, T).astype(float)
    a = solve_relation_row(costs, m, kappa)
    res = kkt_residual(a, costs, m, kappa)
    assert a.min() >= 0 and abs(a.sum() - 1) < 1e-12
    assert res["simplex"] < 1e-12
    assert res["stationarity"] < 1e-9
    assert res["gap"] < 1e-9
    # no feasible point does better: a generic solver and random simplex points
    cons = ({"type": "eq", "fun": lambda x: x.sum() - 1},)
    sl = minimize(relation_objective, np.full(T, 1 / T), args=(costs, m, kappa), method="SLSQP",
                  bounds=[(0, 1)] * T, constraints=cons, options={"ftol": 1e-12, "maxiter": 500})
    f_opt = relation_objective(a, costs, m, kappa)
    assert f_opt <= sl.fun + 1e-8
    for x in rng.dirichlet(np.ones(T), size=200):
        assert f_opt <= relation_objective(x, costs, m, kappa) + 1e-12


def test_kkt_residual_detects_a_suboptimal_point():
    costs, m = np.array([0.1, 0.5, 0.9]), np.full(3, 100.0)
    assert kkt_residual(np.full(3, 1 / 3), costs, m, 1.0)["gap"] > 1e-3


def test_large_kappa_tends_to_uniform_small_kappa_to_the_cheapest():
    costs, m = np.array([0.3, 0.1, 0.2]), np.full(3, 50.0)
    assert np.allclose(solve_relation_row(costs, m, 1e6), 1 / 3, atol=1e-3)
    assert np.allclose(solve_relation_row(costs, m, 1e-6), [0, 1, 0], atol=1e-6)
    assert np.allclose(solve_relation_row(costs, m, 0.0), [0, 1, 0])
    # with κ = 0 and a tie, the mass is shared by the tied tasks
    assert np.allclose(solve_relation_row(np.array([0.1, 0.1, 0.5]), m, 0.0), [0.5, 0.5, 0])


def test_more_samples_attract_more_weight():
    # equal costs: α_i ∝ m_i (the sqrt(Σ α²/m) term prefers data-rich tasks)
    a = solve_relation_row(np.zeros(3), np.array([100.0, 200.0, 700.0]), 1.0)
    assert np.allclose(a, [0.1, 0.2, 0.7])


def test_relation_step_rows_and_ignores_the_diagonal_divergence():
    losses = np.array([[0.1, 0.5, 0.9], [0.5, 0.1, 0.9], [0.9, 0.9, 0.1]])
    div = np.array([[9.0, 0.2, 0.8], [0.2, 9.0, 0.8], [0.8, 0.8, 9.0]])
    alpha = relation_step(losses, div, np.full(3, 30.0), kappa=5.0, rho=0.5)
    assert alpha.shape == (3, 3) and np.allclose(alpha.sum(1), 1)
    assert alpha[0, 0] > alpha[0, 1] > alpha[0, 2] >= 0  # the diagonal's 9.0 was ignored
    assert alpha[0, 1] > 0.05 and alpha[1, 0] > 0.05


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        solve_relation_row(np.array([0.1, np.nan]), np.ones(2), 1.0)
    with pytest.raises(ValueError):
        solve_relation_row(np.array([0.1, 0.2]), np.array([1.0, 0.0]), 1.0)


def test_costs_of_identical_tasks_spread_alpha():
    # identical tasks: losses equal up to sampling noise, discriminators at chance; with the
    # default divergence estimate (proxy A-distance) and κ form (the public code's C₂‖α‖₂)
    # α spreads over all of them (issue 15: the old defaults put every row on a vertex)
    from mtlbench.methods.blocks.adversarial import proxy_a_distance

    rng = np.random.default_rng(0)
    losses = 0.3 + rng.uniform(-0.03, 0.03, size=(3, 3))
    acc = 0.5 + rng.uniform(-0.04, 0.04, size=(3, 3))
    acc = (acc + acc.T) / 2
    alpha = relation_step(losses, proxy_a_distance(acc), np.full(3, 250.0))
    assert np.allclose(alpha, 1 / 3, atol=0.1), alpha


def test_code_form_is_the_paper_form_with_kappa_times_sqrt_m():
    rng = np.random.default_rng(1)
    losses, div = rng.uniform(0, 1, (3, 3)), rng.uniform(0, 1, (3, 3))
    m = np.full(3, 250.0)
    code = relation_step(losses, div, m, kappa=1.0, kappa_form="code")
    paper = relation_step(losses, div, m, kappa=np.sqrt(250.0), kappa_form="paper")
    assert np.allclose(code, paper)
    with pytest.raises(ConfigError, match="kappa_form"):
        relation_step(losses, div, m, kappa_form="cvx")

"""VMTL, VMTL-AC, VSTL: objective terms per option, batched seeds, end to end on blobs."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import make_blobs_problem

from mtlbench.checks import build_dataclass
from mtlbench.errors import ConfigError
from mtlbench.methods import METHODS
from mtlbench.methods import vmtl as V
from mtlbench.methods.blocks.variational import gaussian_kl

SMALL = dict(hidden=16, latent=8, z_samples=3, w_samples=2, steps=80, eval_every=40, lr=5e-3,
             dropout=0.2, kl_step=1e-4, kl_every=1, prior_warmup=5)


def _hp(cls=V.VMTLHparams, **kw):
    return build_dataclass(cls, {**SMALL, **kw}, "test")


def _setup(hp, S=1, T=3, C=4, D=5, n=2, seed=0):
    """Parameters and one iteration's inputs and noise for ``objective``."""
    gens = [torch.Generator().manual_seed(seed + s) for s in range(S)]
    P = V._init_params(gens, hp, T, C, D, "cpu")
    g = torch.Generator().manual_seed(99)
    x = torch.randn(S, T, C * n, D, generator=g)
    y = (torch.arange(C * n) // n).view(1, 1, -1).expand(S, T, C * n)
    noise = V._draw_noise(gens, dataclasses.replace(hp, per_class=n), T, C * n, D, C, "cpu")
    centers = torch.randn(S, T, C, D, generator=g) if hp.amortized_classifier else None
    return P, x, y, noise, centers, C


def _terms(hp, standard=False, **kw):
    P, x, y, noise, centers, C = _setup(hp, **kw)
    return V.objective(P, hp, x, y, noise, 0.7, 1.0, 1.0, standard, centers, C), (P, x, noise, centers)


def test_mean_prior_kl_is_the_average_of_component_kls():
    hp = _hp(prior="mean")
    terms, (P, x, noise, _) = _terms(hp)
    A = terms["A_z"][0]
    assert torch.allclose(A, (1 - torch.eye(3)) / 2)
    # KL_w by hand: Σ_{i≠t} 1/(T-1) KL(q(w_t) || q(w_i)), summed over classes
    w_mu, w_var = P["w_mu"][0], torch.nn.functional.softplus(P["w_rho"][0]) ** 2
    for t in range(3):
        want = sum(gaussian_kl(w_mu[t], w_var[t], w_mu[i], w_var[i]).sum() / 2 for i in range(3) if i != t)
        assert float(terms["kl_w"][0, t].detach()) == pytest.approx(float(want.detach()), rel=1e-5)


def test_prior_options_change_the_objective_as_documented():
    base, _ = _terms(_hp())
    ws, _ = _terms(_hp(prior_kl="weighted_sum"))
    cat, _ = _terms(_hp(gumbel="categorical"))
    std, _ = _terms(_hp(), standard=True)
    # same parameters and noise: the cross-entropy is the same, the KL terms are not
    for other in (ws, cat, std):
        torch.testing.assert_close(other["ce"], base["ce"])
        assert not torch.allclose(other["kl_w"], base["kl_w"])
    # Gumbel weights: zero diagonal, rows on the simplex, strictly inside (0, 1) off the diagonal
    for terms in (base, cat):
        A = terms["A_w"][0]
        assert torch.all(A.diagonal() == 0) and torch.allclose(A.sum(-1), torch.ones(3))
    assert std["A_z"] is None  # standard normal prior: no mixture
    # learnable weights are a softmax: no noise, so two draws agree
    l1, _ = _terms(_hp(prior="learnable"), seed=0)
    assert torch.allclose(l1["A_z"][0], (1 - torch.eye(3)) / 2)  # logits start at 0
    # variational z / w off: the corresponding KL vanishes
    nz, _ = _terms(_hp(variational_z=False))
    nw, _ = _terms(_hp(variational_w=False))
    assert torch.all(nz["kl_z"] == 0) and torch.all(nz["kl_w"] > 0)
    assert torch.all(nw["kl_w"] == 0) and torch.all(nw["kl_z"] > 0)


def test_weighted_sum_kl_matches_its_definition():
    hp = _hp(prior="mean", prior_kl="weighted_sum")
    terms, (P, *_rest) = _terms(hp)
    w_mu, w_var = P["w_mu"][0], torch.nn.functional.softplus(P["w_rho"][0]) ** 2
    t, others = 0, [1, 2]
    mu_p = sum(w_mu[i] for i in others) / 2
    var_p = sum(w_var[i] for i in others) / 4
    want = gaussian_kl(w_mu[t], w_var[t], mu_p, var_p).sum().detach()
    assert float(terms["kl_w"][0, t].detach()) == pytest.approx(float(want), rel=1e-5)


def test_ac_code_mixup_changes_only_the_bias_prior():
    paper, _ = _terms(_hp(V.VMTLACHparams))
    code, _ = _terms(_hp(V.VMTLACHparams, ac_code_mixup=True))
    torch.testing.assert_close(paper["ce"], code["ce"])
    torch.testing.assert_close(paper["kl_z"], code["kl_z"])
    assert not torch.allclose(paper["kl_w"], code["kl_w"])


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="ac_code_mixup"):
        _hp(ac_code_mixup=True)
    with pytest.raises(ConfigError, match="gumbel.*allowed"):
        _hp(gumbel="hard")


@pytest.mark.parametrize("name", ["vmtl", "vmtl_ac", "vstl"])
def test_end_to_end_on_blobs_beats_chance(name):
    torch.set_num_threads(1)
    problem = make_blobs_problem(n_tasks=3, n_classes=4, dim=8, n_train=40, n_test=60, shift=0.5)
    cls = METHODS[name]
    res = cls(_hp(cls.Hparams)).fit_predict(problem, seed=0, progress=False)
    acc = np.mean([np.mean(res.predictions[t] == problem.data[t].y_test) for t in problem.tasks])
    assert acc > 0.6  # chance is 0.25
    assert [h["step"] for h in res.history] == [40, 80]
    if name == "vstl":
        assert res.relations == {}
    else:
        for key in ("A_z", "A_w"):
            A = res.relations[key]
            assert A.shape == (3, 3) and np.allclose(np.diag(A), 0) and np.allclose(A.sum(1), 1)


@pytest.mark.parametrize("amortized", [False, True])
def test_batched_seeds_equal_sequential_seeds(amortized):
    """Bit for bit: every trace value, prediction and relation of a seed is that of the seed alone
    (dim 300: a batched matmul's backward over 300 inputs rounds differently by seed count)."""
    torch.set_num_threads(1)
    problems = [make_blobs_problem(n_tasks=3, n_classes=3, dim=300, n_train=30, n_test=50, seed=s) for s in (0, 1, 2)]
    hp = _hp(steps=30, eval_every=15, amortized_classifier=amortized)
    seeds = [0, 5, 7]
    batched = V.fit_predict_many(hp, problems, seeds, progress=False)
    for p, s, b in zip(problems, seeds, batched):
        one = V.fit_predict_many(hp, [p], [s], progress=False)[0]
        for t in p.tasks:
            np.testing.assert_array_equal(one.predictions[t], b.predictions[t])
        assert one.history == b.history
        for k in one.relations:
            np.testing.assert_array_equal(one.relations[k], b.relations[k])
        assert one.extra["trace"] == b.extra["trace"]
    # different seeds give different models
    assert batched[0].extra["trace"][-1]["ce"] != batched[1].extra["trace"][-1]["ce"]


def test_softplus_is_torchs_and_independent_of_position():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 113, generator=g) * 8
    np.testing.assert_allclose(V.softplus(x), torch.nn.functional.softplus(x), rtol=1e-6, atol=1e-7)
    alone = torch.stack([V.softplus(x[i]) for i in range(3)])
    assert torch.equal(V.softplus(x), alone)


def test_detach_prior_stops_gradients_into_the_other_tasks():
    for detach in (False, True):
        hp = _hp(detach_prior=detach)
        P, x, y, noise, centers, C = _setup(hp)
        terms = V.objective(P, hp, x, y, noise, 0.7, 1.0, 1.0, False, centers, C)
        terms["kl_w"][0, 0].backward()  # task 0's KL to the prior built from tasks 1 and 2
        other = P["w_mu"].grad[0, 1:].abs().sum()
        assert (float(other) == 0.0) == detach

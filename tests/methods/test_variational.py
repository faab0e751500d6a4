"""The closed forms and samplers of mtlbench.methods.blocks.variational against Monte Carlo."""

import math

import pytest
import torch

from mtlbench.methods.blocks.variational import (
    binary_gumbel_softmax,
    categorical_gumbel_softmax,
    gaussian_kl,
    gumbel_temperature,
    kl_weight,
    local_reparam_logits,
    mixture_kl_bound,
    sample_gumbel,
    weighted_sum_prior,
)

N_MC = 50_000


def _log_normal(x, mu, var):
    return (-0.5 * (math.log(2 * math.pi) + torch.log(var) + (x - mu) ** 2 / var)).sum(-1)


def _gauss(gen, k=3):
    return torch.randn(k, generator=gen), 0.2 + torch.rand(k, generator=gen)


def test_gaussian_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    (mq, vq), (mp, vp) = _gauss(g), _gauss(g)
    x = mq + vq.sqrt() * torch.randn(N_MC, 3, generator=g)
    mc = (_log_normal(x, mq, vq) - _log_normal(x, mp, vp)).mean()
    assert float(gaussian_kl(mq, vq, mp, vp)) == pytest.approx(float(mc), abs=0.02)
    assert float(gaussian_kl(mq, vq, mq, vq)) == pytest.approx(0.0, abs=1e-5)


def test_mixture_kl_bound_bounds_the_true_kl():
    g = torch.Generator().manual_seed(1)
    mq, vq = _gauss(g)
    comps = [_gauss(g) for _ in range(3)]
    mu_c = torch.stack([c[0] for c in comps])
    var_c = torch.stack([c[1] for c in comps])
    a = torch.tensor([0.5, 0.3, 0.2])
    x = mq + vq.sqrt() * torch.randn(N_MC, 3, generator=g)
    log_mix = torch.logsumexp(torch.log(a) + _log_normal(x[:, None], mu_c, var_c), dim=1)
    true_kl = float((_log_normal(x, mq, vq) - log_mix).mean())
    bound = float(mixture_kl_bound(mq, vq, mu_c, var_c, a))
    assert bound >= true_kl - 0.02
    assert bound > true_kl + 0.1  # strict here: the components are far apart
    # one component with all the weight: the bound is the KL itself
    one = torch.tensor([1.0, 0.0, 0.0])
    assert float(mixture_kl_bound(mq, vq, mu_c, var_c, one)) == pytest.approx(float(gaussian_kl(mq, vq, mu_c[0], var_c[0])))


def test_weighted_sum_prior_is_the_law_of_the_weighted_sum():
    g = torch.Generator().manual_seed(2)
    mu_c, var_c = torch.randn(3, 2, generator=g), 0.5 + torch.rand(3, 2, generator=g)
    a = torch.tensor([0.6, 0.3, 0.1])
    mu, var = weighted_sum_prior(mu_c, var_c, a)
    s = (a[:, None] * (mu_c + var_c.sqrt() * torch.randn(N_MC, 3, 2, generator=g))).sum(1)
    torch.testing.assert_close(mu, s.mean(0), atol=0.01, rtol=0)
    torch.testing.assert_close(var, s.var(0), atol=0.01, rtol=0)


def test_binary_gumbel_softmax_in_unit_interval_and_bernoulli_pi():
    g = torch.Generator().manual_seed(3)
    logit = torch.tensor([-1.0, 0.0, 2.0]).expand(N_MC, 3)
    for tau in (1.0, 0.5):
        a = binary_gumbel_softmax(logit, tau, sample_gumbel(logit.shape, g), sample_gumbel(logit.shape, g))
        a64 = binary_gumbel_softmax(logit[:5000].double(), tau, sample_gumbel((5000, 3), g).double(),
                                    sample_gumbel((5000, 3), g).double())
        assert bool(((a64 > 0) & (a64 < 1)).all())  # open interval (float32 may round the extremes)
        # A > 1/2 exactly when the relaxed Bernoulli rounds to 1: probability π = sigmoid(ℓ)
        torch.testing.assert_close((a > 0.5).float().mean(0), torch.sigmoid(logit[0]), atol=0.01, rtol=0)
    lo = binary_gumbel_softmax(logit, 0.1, sample_gumbel(logit.shape, g), sample_gumbel(logit.shape, g))
    hi = binary_gumbel_softmax(logit, 5.0, sample_gumbel(logit.shape, g), sample_gumbel(logit.shape, g))
    assert float(((lo - 0.5).abs()).mean()) > float(((hi - 0.5).abs()).mean())  # low τ: nearly binary


def test_categorical_gumbel_softmax_respects_mask():
    g = torch.Generator().manual_seed(4)
    logits = torch.zeros(5, 3, 3)
    mask = ~torch.eye(3, dtype=torch.bool).expand(5, 3, 3)
    a = categorical_gumbel_softmax(logits, 1.0, sample_gumbel(logits.shape, g), mask)
    assert bool((a[~mask] == 0).all()) and bool((a[mask] > 0).all())
    torch.testing.assert_close(a.sum(-1), torch.ones(5, 3))


def test_temperature_and_kl_annealing_schedules():
    assert gumbel_temperature(0) == 1.0 and gumbel_temperature(999) == 1.0
    assert gumbel_temperature(1000) == pytest.approx(math.exp(-0.03))
    assert gumbel_temperature(2500) == pytest.approx(math.exp(-0.03) * math.exp(-0.06))
    assert gumbel_temperature(15000) == 0.5  # floor
    taus = [gumbel_temperature(i) for i in range(0, 15001, 500)]
    assert all(b <= a for a, b in zip(taus, taus[1:]))
    assert kl_weight(0) == 0.0 and kl_weight(9) == 0.0
    assert kl_weight(10) == pytest.approx(1e-6) and kl_weight(15000) == pytest.approx(1.5e-3)
    assert kl_weight(15000, maximum=1e-4) == 1e-4


def test_local_reparameterization_matches_naive_estimator():
    g = torch.Generator().manual_seed(5)
    z = torch.randn(4, 6, generator=g)  # (B, K)
    w_mu, w_var = torch.randn(3, 6, generator=g), 0.1 + torch.rand(3, 6, generator=g)  # (C, K)
    M = 50_000
    local = local_reparam_logits(z, w_mu, w_var, torch.randn(M, 4, 3, generator=g))  # (M, B, C)
    w = w_mu + w_var.sqrt() * torch.randn(M, 3, 6, generator=g)
    naive = z @ w.transpose(-1, -2)  # (M, B, C)
    torch.testing.assert_close(local.mean(0), naive.mean(0), atol=0.06, rtol=0)
    torch.testing.assert_close(local.var(0), naive.var(0), rtol=0.05, atol=0.01)
    torch.testing.assert_close(local_reparam_logits(z, w_mu, w_var, None), z @ w_mu.T)

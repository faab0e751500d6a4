"""Gradient reversal, the WGAN-GP penalty and the critic's W1 estimate."""

import numpy as np
import torch
from torch import nn

from mtlbench.methods.blocks.adversarial import (
    domain_loss_and_accuracy,
    fit_wasserstein_critic,
    grad_reverse,
    gradient_penalty,
)


def test_grad_reverse_is_identity_forward_and_flips_the_gradient():
    x = torch.randn(5, 3, requires_grad=True)
    w = torch.randn(5, 3)
    y = grad_reverse(x, coeff=1.0)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    assert torch.allclose(x.grad, -w)
    x.grad = None
    (grad_reverse(x, coeff=0.5) * w).sum().backward()
    assert torch.allclose(x.grad, -0.5 * w)


def _linear_critic(weight: torch.Tensor) -> nn.Linear:
    lin = nn.Linear(len(weight), 1)
    with torch.no_grad():
        lin.weight.copy_(weight[None])
        lin.bias.fill_(0.3)
    return lin


def test_gradient_penalty_zero_for_unit_norm_linear_critic():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, generator=g)
    a, b = torch.randn(32, 8, generator=g), torch.randn(40, 8, generator=g) + 2
    assert float(gradient_penalty(_linear_critic(w / w.norm()), a, b, g).detach()) < 1e-10
    # a 2-Lipschitz linear critic: ‖∇f‖ = 2 everywhere, penalty (2 - 1)² = 1
    assert abs(float(gradient_penalty(_linear_critic(2 * w / w.norm()), a, b, g).detach()) - 1.0) < 1e-6


def test_gradient_penalty_trains_the_critic():
    critic = _linear_critic(torch.tensor([3.0, 0.0]))
    gp = gradient_penalty(critic, torch.zeros(4, 2), torch.ones(4, 2))
    gp.backward()
    assert critic.weight.grad.abs().sum() > 0


def test_critic_orders_gaussian_pairs_by_true_w1():
    torch.set_num_threads(1)  # tiny networks: extra threads only add contention
    rng = np.random.default_rng(0)
    n, dim = 200, 2
    base = rng.normal(size=(n, dim))
    near = rng.normal(size=(n, dim)) + np.array([0.5, 0.0])  # W1 = 0.5 (a pure shift)
    far = rng.normal(size=(n, dim)) + np.array([2.0, 0.0])  # W1 = 2.0
    d_near = fit_wasserstein_critic(base, near, hidden=32, steps=80, lr=3e-3, seed=0)
    d_far = fit_wasserstein_critic(base, far, hidden=32, steps=80, lr=3e-3, seed=0)
    assert d_far > 2 * d_near > 0
    assert 1.5 < d_far < 2.5 and 0.15 < d_near < 0.8  # near the true W1 of 2.0 and 0.5


def test_domain_discriminator_accuracy_of_separable_domains():
    torch.manual_seed(0)
    disc = nn.Linear(2, 1)
    with torch.no_grad():
        disc.weight.copy_(torch.tensor([[1.0, 0.0]]))
        disc.bias.zero_()
    a = torch.randn(50, 2).abs() + 0.1  # x > 0: labelled 1
    b = -torch.randn(50, 2).abs() - 0.1
    loss, acc = domain_loss_and_accuracy(disc, a, b)
    assert acc == 1.0 and float(loss.detach()) < 0.7

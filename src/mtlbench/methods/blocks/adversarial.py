"""Adversarial divergence estimators between two samples of features.

- Gradient reversal (Ganin & Lempitsky, ICML 2015, Eq. (13)-(14)): identity forward,
  gradient multiplied by -λ backward, so one backward pass trains a discriminator to
  separate two domains and the feature extractor to confuse it.
- H-divergence (Ben-David et al. 2010): a binary domain discriminator's accuracy; the
  proxy A-distance is d_A = 2(1 - 2·err) = 2(2·acc - 1), taken as 0 below chance
  (:func:`proxy_a_distance`; 0 for two samples it cannot tell apart, 2 for separable ones).
  AMTNN's public code uses the accuracy itself (0.5 for indistinguishable samples).
- Wasserstein-1 (Kantorovich-Rubinstein duality, W1(P, Q) = sup_{‖f‖_L <= 1} E_P f - E_Q f)
  estimated by a critic with the gradient penalty of WGAN-GP (Gulrajani et al., NeurIPS
  2017, Eq. (3)): λ·E_{x̂}[(‖∇f(x̂)‖₂ - 1)²] on random interpolates x̂ = θx + (1-θ)y.

Shapes: features are (n, F) float tensors; a discriminator/critic maps (n, F) -> (n, 1).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .optim import Adam


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coeff):
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coeff * grad, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity in the forward pass; multiplies the incoming gradient by ``-coeff``."""
    return _GradReverse.apply(x, coeff)


def discriminator(in_dim: int, hidden: int, sigmoid: bool = False) -> nn.Module:
    """Pairwise domain discriminator / critic: Linear-ELU-Linear to one score (the public AMTNN
    code's fc(F,128)-ELU-fc(128,1)).  A discriminator's sigmoid lives in its loss; ``sigmoid``
    appends one to a critic, as the public code does for its Wasserstein critic: the score is
    bounded in [0, 1], which keeps the min-max through gradient reversal from running away."""
    layers = [nn.Linear(in_dim, hidden), nn.ELU(), nn.Linear(hidden, 1)]
    return nn.Sequential(*layers, nn.Sigmoid()) if sigmoid else nn.Sequential(*layers)


def domain_loss_and_accuracy(disc: nn.Module, z_a: torch.Tensor, z_b: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Binary cross-entropy of ``disc`` labelling z_a as 1 and z_b as 0, and its accuracy."""
    logits = disc(torch.cat([z_a, z_b])).squeeze(-1)
    target = torch.cat([torch.ones(len(z_a), device=logits.device), torch.zeros(len(z_b), device=logits.device)])
    loss = nn.functional.binary_cross_entropy_with_logits(logits, target)
    acc = float(((logits.detach() >= 0).float() == target).float().mean())
    return loss, acc


def proxy_a_distance(accuracy):
    """Ben-David et al.'s proxy A-distance 2·(2·acc − 1)₊ of a domain discriminator's accuracy
    (array or float): 0 at chance or below, 2 when the two samples are separated."""
    return 2.0 * np.clip(2.0 * np.asarray(accuracy, dtype=np.float64) - 1.0, 0.0, None)


def gradient_penalty(critic: nn.Module, z_a: torch.Tensor, z_b: torch.Tensor,
                     gen: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP penalty E[(‖∇_x̂ f(x̂)‖₂ - 1)²] on interpolates of z_a and z_b (first min(n_a, n_b)
    rows of each), θ ~ U(0, 1) per row.  Differentiable w.r.t. the critic's parameters."""
    n = min(len(z_a), len(z_b))
    a, b = z_a[:n], z_b[:n]
    theta = torch.rand(n, 1, generator=gen).to(a.device)
    x_hat = (theta * a + (1 - theta) * b).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norm = torch.sqrt((grad**2).sum(dim=1) + 1e-12)
    return ((norm - 1.0) ** 2).mean()


def critic_estimate(critic: nn.Module, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """The dual W1 estimate E_b f - E_a f (the critic is trained to make it large)."""
    return critic(z_b).mean() - critic(z_a).mean()


def critic_loss(critic: nn.Module, z_a: torch.Tensor, z_b: torch.Tensor, gp_weight: float,
                gen: torch.Generator | None = None) -> tuple[torch.Tensor, float]:
    """Loss the critic minimises: -(E_b f - E_a f) + λ·GP, with λ·GP on detached features
    (the penalty constrains the critic only).  Returns (loss, current W1 estimate)."""
    est = critic_estimate(critic, z_a, z_b)
    gp = gradient_penalty(critic, z_a.detach(), z_b.detach(), gen) if gp_weight > 0 else 0.0
    return -est + gp_weight * gp, float(est.detach())


def fit_wasserstein_critic(x_a: np.ndarray, x_b: np.ndarray, *, hidden: int = 64, gp_weight: float = 10.0,
                           steps: int = 300, lr: float = 1e-3, seed: int = 0) -> float:
    """Train a fresh critic between two fixed samples (n_a, F) and (n_b, F) with Adam and return
    its final W1 estimate on the full samples (a standalone divergence estimator)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    a = torch.as_tensor(x_a, dtype=torch.float32)
    b = torch.as_tensor(x_b, dtype=torch.float32)
    critic = discriminator(a.shape[1], hidden)
    opt = Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
    for _ in range(steps):
        loss, _ = critic_loss(critic, a, b, gp_weight, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(critic_estimate(critic, a, b))

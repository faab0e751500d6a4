"""Plain functions over tensors for variational multi-task learning (VMTL and relatives).

Shapes are stated per function; a leading ``...`` means any batch dimensions (seeds,
tasks, samples), broadcast as in torch.  Variances are passed, never log-variances, so
the same KL serves the paper's form and the public code's form.

References: "Variational Multi-Task Learning with Gumbel-Softmax Priors" (VMTL, the
equations numbered here are that paper's); Jang et al. 2016 (Gumbel-softmax and its
temperature schedule); Kingma et al. 2015 (local reparameterization); Bowman et al.
2015 (KL annealing).
"""

from __future__ import annotations

import math

import torch

VAR_EPS = 1e-6  # added to every variance inside a KL, so log and division stay finite


def gaussian_kl(mu_q: torch.Tensor, var_q: torch.Tensor, mu_p: torch.Tensor, var_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, diag var_q) || N(mu_p, diag var_p)), summed over the last dimension.

    ``(..., K)`` tensors (broadcast) -> ``(...)``.  Closed form
    ½ Σ_k [log(var_p/var_q) − 1 + var_q/var_p + (mu_q − mu_p)²/var_p].
    """
    var_q = var_q + VAR_EPS
    var_p = var_p + VAR_EPS
    return 0.5 * (torch.log(var_p) - torch.log(var_q) - 1.0 + var_q / var_p + (mu_q - mu_p) ** 2 / var_p).sum(-1)


def mixture_kl_bound(mu_q, var_q, mu_c, var_c, weights) -> torch.Tensor:
    """Upper bound of KL(q || Σ_i a_i p_i) by convexity: Σ_i a_i KL(q || p_i).

    ``mu_q, var_q``: ``(..., K)``; ``mu_c, var_c``: ``(..., I, K)`` the I mixture components;
    ``weights``: ``(..., I)``, non-negative and summing to one (zero weights drop a component).
    Returns ``(...)``.  Since KL(q||·) is convex in its second argument,
    KL(q || Σ a_i p_i) ≤ Σ a_i KL(q || p_i) for any weights on the simplex.
    """
    kl = gaussian_kl(mu_q.unsqueeze(-2), var_q.unsqueeze(-2), mu_c, var_c)  # (..., I)
    return (weights * kl).sum(-1)


def weighted_sum_prior(mu_c, var_c, weights) -> tuple[torch.Tensor, torch.Tensor]:
    """The public code's prior: one Gaussian N(Σ_i a_i mu_i, Σ_i a_i² var_i).

    ``mu_c, var_c``: ``(..., I, K)``; ``weights``: ``(..., I)`` -> two ``(..., K)`` tensors.
    (The distribution of Σ_i a_i z_i for independent z_i ~ p_i, not the mixture.)
    """
    w = weights.unsqueeze(-1)
    return (w * mu_c).sum(-2), (w**2 * var_c).sum(-2)


def sample_gumbel(shape, generator: torch.Generator | None = None, device="cpu", eps: float = 1e-20) -> torch.Tensor:
    """Standard Gumbel noise −log(−log U), U ~ Uniform(0, 1)."""
    u = torch.rand(shape, generator=generator, device=device)
    return -torch.log(-torch.log(u + eps) + eps)


def binary_gumbel_softmax(logit_pi: torch.Tensor, tau: float, g1: torch.Tensor, g2: torch.Tensor) -> torch.Tensor:
    """Eq. 10: a relaxed Bernoulli(π) sample in (0, 1), one per entry of ``logit_pi``.

    π = sigmoid(logit_pi); with Gumbel noise g1, g2 (same shape)
    A = exp((log π + g1)/τ) / [exp((log π + g1)/τ) + exp((log(1 − π) + g2)/τ)].
    """
    log_pi = torch.nn.functional.logsigmoid(logit_pi)
    log_not_pi = torch.nn.functional.logsigmoid(-logit_pi)
    both = torch.stack([(log_pi + g1) / tau, (log_not_pi + g2) / tau], dim=-1)
    return torch.softmax(both, dim=-1)[..., 0]


def categorical_gumbel_softmax(logits: torch.Tensor, tau: float, g: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The public code's weights: softmax((log softmax(logits) + g)/τ) over the last dimension.

    ``mask`` (bool, same shape) marks the entries that take part; the others get weight 0.
    """
    if mask is not None:
        logits = logits.masked_fill(~mask, -math.inf)
    y = (torch.log_softmax(logits, -1) + g) / tau
    if mask is not None:
        y = y.masked_fill(~mask, -math.inf)
    return torch.softmax(y, -1)


def gumbel_temperature(iteration: int, tau_start: float = 1.0, rate: float = 3e-5, every: int = 1000,
                       tau_min: float = 0.5, repeats: int = 1) -> float:
    """Temperature after ``iteration`` iterations (Jang et al. 2016, as in the public code).

    Every ``every`` iterations τ ← max(τ·exp(−rate·i), tau_min) with i the iteration count,
    applied ``repeats`` times (the public code's counter fires once per task call, so T times:
    model_vmtl.py:299-306); before the first update τ = tau_start.
    """
    tau = tau_start
    for i in range(every, iteration + 1, every):
        for _ in range(repeats):
            tau = max(tau * math.exp(-rate * i), tau_min)
    return tau


def kl_weight(iteration: int, step: float = 1e-6, every: int = 10, maximum: float | None = None,
              repeats: int = 1) -> float:
    """KL annealing (Bowman et al. 2015): 0 at the start, +``step`` every ``every`` iterations,
    ``repeats`` times each (the public code adds 1e-6 once per task call while the iteration
    count is a multiple of 10, model_vmtl.py:302-303: T times, so β_w ends at T·1.5e-3)."""
    w = step * repeats * (iteration // every)
    return w if maximum is None else min(w, maximum)


def local_reparam_logits(z: torch.Tensor, w_mu: torch.Tensor, w_var: torch.Tensor, eps: torch.Tensor | None,
                         b_mu: torch.Tensor | None = None, b_var: torch.Tensor | None = None) -> torch.Tensor:
    """Logits a = w z (+ b) under q(w) = N(w_mu, diag w_var), by local reparameterization.

    ``z``: ``(..., B, K)``; ``w_mu, w_var``: ``(..., C, K)``; optional bias ``b_mu, b_var``:
    ``(..., C)``; ``eps``: ``(M, ..., B, C)`` standard normal, or None for the mean logits.
    Each logit is Gaussian with mean z·w_mu + b_mu and variance z²·w_var + b_var
    (Kingma et al. 2015), so a = mean + sqrt(var)·eps: an independent weight draw per
    sample at the cost of one extra matmul.  Returns ``(M, ..., B, C)`` (``(..., B, C)``
    when eps is None).
    """
    mean = z @ w_mu.transpose(-1, -2)
    if b_mu is not None:
        mean = mean + b_mu.unsqueeze(-2)
    if eps is None:
        return mean
    var = (z**2) @ w_var.transpose(-1, -2)
    if b_var is not None:
        var = var + b_var.unsqueeze(-2)
    return mean + torch.sqrt(var + 1e-12) * eps

"""VMTL: variational multi-task learning with Gumbel-softmax priors (and VMTL-AC, VSTL).

The model of "Variational Multi-Task Learning with Gumbel-Softmax Priors" (section 2),
equations numbered as in the paper:

* Latent representation (Eq. 4, 9): q(z|x; φ) = N(μ_φ(x), diag σ²_φ(x)), an amortized
  inference network shared by all tasks (one ReLU hidden layer of ``hidden`` units, then a
  mean head and a softplus standard-deviation head, ``latent`` dimensions), dropout
  ``dropout`` on the input features.  L samples by the reparameterization trick.
* Classifier (Eq. 5, 11): q(w_t; θ_t) = N(M_t, diag S²_t) over the C×K weights of task t,
  sampled by local reparameterization (Kingma et al. 2015) with M samples per z sample.
* Gumbel-softmax priors (Eq. 9-11): the prior of task t over z for a sample of class c is
  the mixture Σ_{i≠t} A_ti q(z | m_ic; φ), where m_ic is the mean input feature of the
  class-c samples of task i in the current class-balanced batch; the prior over w_t is
  Σ_{i≠t} A^(w)_ti q(w_i; θ_i) with its own, separate weights A^(w).  Eq. 8 is one joint
  objective over all tasks, so gradients flow through the prior components too (φ is
  shared; θ_i is task i's).  ``detach_prior: true`` is the public code's choice: the other
  tasks' posteriors enter as constants.  (On digits, detached priors let the posterior
  variances shrink without bound under the cross-entropy while the prior's precision
  follows them, and KL_z exploded to ~1e7 within 100 iterations.)
* Mixing weights (Eq. 10, ``gumbel: binary``): A_ti is a relaxed Bernoulli sample
  exp((log π_ti + g1)/τ) / [exp((log π_ti + g1)/τ) + exp((log(1−π_ti) + g2)/τ)] with a
  learnable π_ti = sigmoid(ℓ_ti) (ℓ initialised to 0) and g1, g2 ~ Gumbel(0, 1), one draw
  per iteration.  Choice (documented, ``normalize_binary``): the per-pair samples are
  divided by their sum over i≠t, so the prior is a proper mixture.  ``gumbel:
  categorical`` (public code): one Gumbel-softmax over the T−1 other tasks.
  τ is annealed (Jang et al. 2016; code's schedule): τ=``tau_start``, every ``tau_every``
  iterations τ ← max(τ·exp(−``tau_rate``·iteration), ``tau_min``).
* KL to the mixture prior (``prior_kl: bound``, default): by convexity of KL in its second
  argument, KL(q || Σ_i A_ti q_i) ≤ Σ_i A_ti KL(q || q_i), each term in closed form; we
  minimise this upper bound (so the objective is a lower bound of Eq. 8's ELBO).  ``prior_kl:
  weighted_sum`` (public code): the single Gaussian N(Σ A_ti μ_i, Σ A_ti² σ²_i), closed-form KL.
* Objective (Eq. 8) and its Monte Carlo form (section 2.4), per task t and batch B_t:
  (1/|B_t|) Σ_{(x,y)} [ −(1/(LM)) Σ_l Σ_m log p(y | z^(l), w^(m)) + β_z KL(q(z|x) || p(z|x)) ]
  + β_w KL(q(w_t) || p(w_t | D_{1:T\\t})), summed over tasks and minimised jointly with Adam.
  β_z, β_w are annealed from 0 (Bowman et al. 2015): +``kl_step`` every ``kl_every``
  iterations (the code's schedule; the code keeps β_z at 1e-7, set ``kl_z_weight`` for that).
  During the first ``prior_warmup`` iterations the priors are standard normal (as the code).
* Prediction: p(y|x) ≈ (1/(LM)) Σ_l Σ_m softmax(w^(m) z^(l)), dropout off; the argmax.

The public code's further deviations, each an option (docs/methods.md cites the code
lines; ``vmtl_code`` / ``vmtl_ac_code`` switch them all on): ``encoder: bayes_linear``
(one Bayesian-linear layer, variance x²·softplus(φ_ρ)² + softplus(b_ρ)²) or
``elu_bayes_linear`` (two ELU layers, then that layer; VMTL-AC's encoder and generators);
``z_prior: attention`` (per sample, the attention-weighted same-class training features of
every other task, :meth:`_SeedData._attention_features`) with ``prior_input_dropout``;
``optimizer: per_task`` (:class:`TaskAdams`: one Adam per task, task by task;
``prior_warmup`` then counts task steps); ``anneal_per_task`` (the β / τ counters fire T
times per iteration); ``predict: mean`` (posterior means at test time); ``ac_centers:
running`` (VMTL-AC: a running mean of the batches' class means).  ``w_samples: 1`` is the
code's one weight sample per (z sample, row).  Diagnostics of the mechanism
(:func:`diagnostics`: classifier distances, mean z variance) and the final KL terms and
weights go to ``MethodResult.extra``.

Variants (``Hparams``): ``prior: mean`` (A_ti = 1/(T−1)) and ``learnable`` (A = softmax of
learnable logits, no noise) are the paper's Table 2; ``variational_z`` / ``variational_w``
off replace the Gaussian by its mean and drop the KL (Table 1); ``amortized_classifier``
is VMTL-AC (Eq. 12-13): the weights (and bias) of class c of task t are generated, as a
Gaussian, by a shared amortization network from the class-mean input feature of task t
(mean over the task's whole training set); ``ac_code_mixup`` reproduces the public code's
VMTL-AC, whose stored prior mean of the bias is the posterior variance (and its variance
stays 1); ``sharing: false`` is VSTL (appendix A.2): one inference network per task and
standard normal priors.

Seeds are trained as one batched model (a leading seed dimension on every parameter, one
optimiser, one backward pass): every random draw comes from the seed's own generator, so
each seed's numbers equal a run of that seed alone, bit for bit (``fit_predict_many``).
Two things keep them equal on the CPU: the network's matrix products run seed by seed
(``_bmm``: a batched product's blocking, and so its rounding, depends on the number of
seeds), and the variances use :func:`softplus` (``F.softplus`` rounds an element
differently depending on where it sits in the tensor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import ConfigError, DataError
from .base import Method, MethodResult, Problem
from .blocks.optim import Adam
from .blocks.variational import (
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

RELATION_SAMPLES = 2000  # Gumbel draws for the E[A] estimate written to the run JSON


@dataclass(frozen=True)
class VMTLHparams:
    """Defaults are the paper's / public code's settings for VGG16 fc7 features."""

    hidden: int = 512  # inference (and amortization) network hidden units
    latent: int = 512  # dimension of z
    z_samples: int = 10  # L
    w_samples: int = 10  # M
    dropout: float = 0.7  # on the input features
    lr: float = 1e-4  # Adam
    weight_decay: float = 5e-4
    lr_decay: float = 0.5  # lr multiplied by this every lr_decay_every iterations
    lr_decay_every: int = 3000
    steps: int = 15000  # iterations (each one class-balanced batch of every task)
    per_class: int = 4  # samples per class per task in a batch
    eval_every: int = 500  # test accuracy logged every N iterations (history)
    tau_start: float = 1.0
    tau_rate: float = 3e-5
    tau_every: int = 1000
    tau_min: float = 0.5
    kl_step: float = 1e-6  # KL weight increment ...
    kl_every: int = 10  # ... every this many iterations
    kl_max: float | None = None  # cap on the annealed KL weight (None: no cap)
    kl_z_weight: float | None = None  # fixed β_z (public code: 1e-7); None: annealed like β_w
    prior_warmup: int = 1  # iterations with standard normal priors
    rho_init: float = -3.0  # initial pre-softplus standard deviation of q(w)
    gumbel: Literal["binary", "categorical"] = "binary"
    normalize_binary: bool = True
    prior_kl: Literal["bound", "weighted_sum"] = "bound"
    prior: Literal["gumbel", "mean", "learnable"] = "gumbel"
    variational_z: bool = True
    variational_w: bool = True
    amortized_classifier: bool = False
    ac_code_mixup: bool = False
    sharing: bool = True
    detach_prior: bool = False  # public code: true (the other tasks' posteriors enter as constants)
    # --- the public code's further deviations (docs/methods.md, "Public-code variants")
    encoder: Literal["mlp", "bayes_linear", "elu_bayes_linear"] = "mlp"  # code: bayes_linear (VMTL), elu_* (AC)
    z_prior: Literal["batch_means", "attention"] = "batch_means"  # code: attention (per-sample, dataset.py)
    prior_input_dropout: bool = False  # code: the prior's inputs pass the input dropout too
    optimizer: Literal["joint", "per_task"] = "joint"  # code: per_task (one Adam per task, task by task)
    anneal_per_task: bool = False  # code: true (the β / τ counters fire once per task call, T times)
    predict: Literal["average", "mean"] = "average"  # code: mean (posterior means at test time)
    ac_centers: Literal["train_mean", "running"] = "train_mean"  # code: running mean of batch class means

    def check(self, where: str) -> None:
        for key in ("hidden", "latent", "z_samples", "w_samples", "lr_decay_every", "steps", "per_class",
                    "eval_every", "tau_every", "kl_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"{where}.dropout: must be in [0, 1), got {self.dropout}")
        for key in ("lr", "tau_start", "tau_min"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{where}.{key}: must be > 0, got {getattr(self, key)}")
        if self.ac_code_mixup and not self.amortized_classifier:
            raise ConfigError(f"{where}.ac_code_mixup: needs amortized_classifier: true")
        if self.ac_centers == "running" and not self.amortized_classifier:
            raise ConfigError(f"{where}.ac_centers: 'running' needs amortized_classifier: true")
        if self.prior_input_dropout and self.z_prior != "attention":
            raise ConfigError(f"{where}.prior_input_dropout: needs z_prior: attention (the batch means are not dropped out)")


@dataclass(frozen=True)
class VMTLACHparams(VMTLHparams):
    amortized_classifier: bool = True


@dataclass(frozen=True)
class VSTLHparams(VMTLHparams):
    sharing: bool = False


# ----------------------------------------------------------------------------- data


class _SeedData:
    """One seed's problem as tensors: training rows sorted by (task, class), per-class
    offsets and counts for class-balanced batches, class-mean features, test sets."""

    def __init__(self, problem: Problem, device: str, attention: bool = False):
        C = problem.n_classes
        xs, counts = [], np.zeros((len(problem.tasks), C), dtype=np.int64)
        for ti, t in enumerate(problem.tasks):
            if problem.task_type(t) != "classification":
                raise DataError(f"VMTL handles classification tasks only (its priors and batches are per class; "
                                f"docs/methods.md, Regression tasks); task {t!r} is {problem.task_type(t)}")
            d = problem.data[t]
            y = np.asarray(d.y_train, dtype=np.int64)
            for c in range(C):
                rows = d.x_train[y == c]
                if len(rows) == 0:
                    raise DataError(f"task {t!r} has no training sample of class {c}; class-balanced batches need one")
                xs.append(rows)
                counts[ti, c] = len(rows)
        x = np.concatenate(xs).astype(np.float32)
        self.x = torch.as_tensor(x, device=device)
        self.counts = torch.as_tensor(counts, device=device)
        self.offsets = torch.as_tensor(np.cumsum(counts.ravel()) - counts.ravel(), device=device).view(counts.shape)
        centers = [self.x[o: o + n].mean(0) for o, n in zip(self.offsets.ravel().tolist(), self.counts.ravel().tolist())]
        self.centers = torch.stack(centers).view(len(problem.tasks), C, -1)  # (T, C, D)
        self.x_test = [torch.as_tensor(problem.data[t].x_test, dtype=torch.float32, device=device) for t in problem.tasks]
        self.y_test = [np.asarray(problem.data[t].y_test) for t in problem.tasks]
        self.x_val = [torch.as_tensor(problem.data[t].x_val, dtype=torch.float32, device=device)
                      for t in problem.tasks] if problem.has_validation else None
        self.y_val = [np.asarray(problem.data[t].y_val) for t in problem.tasks] if problem.has_validation else None
        self.related = self._attention_features(len(problem.tasks), C) if attention else None

    def _attention_features(self, T: int, C: int) -> torch.Tensor:
        """The public code's prior inputs (dataset.py:83-106): for every training row x of task
        t and class c, and every other task i, the attention-weighted mix softmax(a/(max a − min a))·X_ic
        of task i's class-c training rows X_ic, with a = x·X_icᵀ.  (N, T, D); zeros at i = t."""
        out = torch.zeros(self.x.shape[0], T, self.x.shape[1], dtype=self.x.dtype, device=self.x.device)
        for t in range(T):
            for c in range(C):
                o, n = int(self.offsets[t, c]), int(self.counts[t, c])
                xt = self.x[o: o + n]
                for i in range(T):
                    if i == t:
                        continue
                    oi, ni = int(self.offsets[i, c]), int(self.counts[i, c])
                    xi = self.x[oi: oi + ni]
                    a = xt @ xi.T
                    a = a / ((a.max(1).values - a.min(1).values).unsqueeze(1) + 1e-9)
                    out[o: o + n, i] = torch.softmax(a, 1) @ xi
        return out

    def batch_index(self, u: torch.Tensor) -> torch.Tensor:
        """``u``: (T, C, n) uniforms -> (T, C*n) row indices, class-major (sampled with replacement)."""
        idx = self.offsets.unsqueeze(-1) + (u * self.counts.unsqueeze(-1)).long().clamp_max(self.counts.unsqueeze(-1) - 1)
        return idx.reshape(idx.shape[0], -1)

    def batch_rows(self, u: torch.Tensor) -> torch.Tensor:
        """``u``: (T, C, n) uniforms -> (T, C*n, D) rows, class-major (sampled with replacement)."""
        idx = self.batch_index(u)
        return self.x[idx.reshape(-1)].view(*idx.shape, self.x.shape[1])


# ----------------------------------------------------------------------------- model


def _bmm(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x: (S, T, ..., D) @ w: (S, E, D, H) with E in {1, T} -> (S, T, ..., H).

    One product per seed, then stacked: one batched product over the seeds would round
    differently for different numbers of seeds (its backward pass, a reduction over the
    2,352 input pixels of digits, showed it), breaking "batched = one seed alone"."""
    S, T = x.shape[:2]
    if w.shape[1] == 1:
        out = torch.stack([x[s].reshape(-1, x.shape[-1]) @ w[s, 0] for s in range(S)])
    else:
        out = torch.stack([x[s].reshape(T, -1, x.shape[-1]) @ w[s] for s in range(S)])
    return out.view(*x.shape[:-1], w.shape[-1])


def _bias(b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """b: (S, E, H) broadcast onto x: (S, T, ..., H)."""
    return b.view(b.shape[0], b.shape[1], *([1] * (x.dim() - 3)), b.shape[-1])


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x) (x above 20: x, as F.softplus), the same bits wherever an element sits.

    ``F.softplus`` on the CPU computes the vectorised body and the tail of a tensor with
    different code, so an element's last bit depends on its position; the seeds stacked
    in one tensor would then not give the numbers of one seed alone.  exp and log1p have
    no such dependence (tests/methods/test_vmtl.py checks it).

    The clamp and the select run for every tensor, also one with no element above 20:
    skipping them there gives the same bits for the tensor on its own (forward and
    backward), yet changed a whole run (digits ``vmtl_ac`` at 5 %, seed 1): the autograd
    graph is another one, and the choice would depend on the other seeds stacked with it.
    """
    return torch.where(x > 20, x, torch.log1p(torch.exp(x.clamp(max=20))))


def elu(x: torch.Tensor) -> torch.Tensor:
    """ELU (α = 1) from exp, position-independent like :func:`softplus`."""
    return torch.where(x > 0, x, torch.exp(x.clamp(max=0)) - 1)


def bayes_linear(P: dict, prefix: str, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A Bayesian linear layer by local reparameterization (the public code's encoder,
    model_vmtl.py:39-42): mean h·φ_μ + b_μ, variance h²·softplus(φ_ρ)² + softplus(b_ρ)²,
    so the noise grows with ‖h‖²."""
    mu = _bmm(h, P[prefix + "Wmu"])
    mu = mu + _bias(P[prefix + "bmu"], mu)
    var = _bmm(h ** 2, softplus(P[prefix + "Wrho"]) ** 2)
    return mu, var + _bias(softplus(P[prefix + "brho"]) ** 2, var)


def gaussian_mlp(P: dict, prefix: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The amortized Gaussian: x (S, T, ..., D) -> mean, variance (S, T, ..., K).

    ``encoder: mlp``: a ReLU layer, then a mean head and a softplus standard-deviation head;
    ``bayes_linear``: one Bayesian linear layer (:func:`bayes_linear`); ``elu_bayes_linear``:
    two ELU layers, then a Bayesian linear layer (model_vmtl_ac.py:41-47).  The kind is read
    from the parameters present."""
    if prefix + "W1" not in P:
        return bayes_linear(P, prefix, x)
    h = _bmm(x, P[prefix + "W1"])
    if prefix + "W2" in P:
        h = elu(h + _bias(P[prefix + "b1"], h))
        h = _bmm(h, P[prefix + "W2"])
        h = elu(h + _bias(P[prefix + "b2"], h))
        return bayes_linear(P, prefix, h)
    h = torch.relu(h + _bias(P[prefix + "b1"], h))
    mu = _bmm(h, P[prefix + "Wmu"])
    mu = mu + _bias(P[prefix + "bmu"], mu)
    rho = _bmm(h, P[prefix + "Wrho"])
    rho = rho + _bias(P[prefix + "brho"], rho)
    return mu, softplus(rho) ** 2


def _init_params(gens: list[torch.Generator], hp: VMTLHparams, T: int, C: int, D: int, device: str) -> dict:
    """Every parameter with a leading seed dimension, each seed drawn from its own generator."""
    H, K = hp.hidden, hp.latent
    E = 1 if hp.sharing else T

    def uni(g, shape, fan_in):
        return (torch.rand(shape, generator=g) * 2 - 1) / math.sqrt(fan_in)

    def bayes(g, prefix, e, d_in, d_out):  # the public code's init: N(0, 0.1²), ρ = rho_init + N(0, 0.1²)
        return {prefix + "Wmu": 0.1 * torch.randn((e, d_in, d_out), generator=g),
                prefix + "Wrho": hp.rho_init + 0.1 * torch.randn((e, d_in, d_out), generator=g),
                prefix + "bmu": 0.1 * torch.randn((e, d_out), generator=g),
                prefix + "brho": hp.rho_init + 0.1 * torch.randn((e, d_out), generator=g)}

    def net(g, prefix, e, d_in, d_out):
        if hp.encoder == "bayes_linear":
            return bayes(g, prefix, e, d_in, d_out)
        if hp.encoder == "elu_bayes_linear":  # torch.nn.Linear's init for the two ELU layers
            return {prefix + "W1": uni(g, (e, d_in, H), d_in), prefix + "b1": uni(g, (e, H), d_in),
                    prefix + "W2": uni(g, (e, H, H), H), prefix + "b2": uni(g, (e, H), H),
                    **bayes(g, prefix, e, H, d_out)}
        return {prefix + "W1": uni(g, (e, d_in, H), d_in), prefix + "b1": torch.zeros(e, H),
                prefix + "Wmu": uni(g, (e, H, d_out), H), prefix + "bmu": torch.zeros(e, d_out),
                prefix + "Wrho": 0.1 * uni(g, (e, H, d_out), H), prefix + "brho": torch.full((e, d_out), hp.rho_init)}

    per_seed = []
    for g in gens:
        p = net(g, "enc_", E, D, K)
        if hp.amortized_classifier:
            p |= net(g, "genw_", 1, D, K)
            p |= net(g, "genb_", 1, D, 1)
        else:
            p["w_mu"] = uni(g, (T, C, K), K)
            p["w_rho"] = hp.rho_init + 0.1 * torch.randn((T, C, K), generator=g)
        p["logit_z"] = torch.zeros(T, T)
        p["logit_w"] = torch.zeros(T, T)
        per_seed.append(p)
    return {k: torch.stack([p[k] for p in per_seed]).to(device).requires_grad_(True) for k in per_seed[0]}


def classifier(P: dict, hp: VMTLHparams, centers: torch.Tensor | None):
    """q(w_t) for every task: (w_mu, w_var, b_mu, b_var) each (S, T, C, K) / (S, T, C) or None.

    VMTL: free parameters (Eq. 11).  VMTL-AC (Eq. 12-13): generated from ``centers``
    (S, T, C, D), the class-mean features, by the shared amortization network.
    """
    if hp.amortized_classifier:
        w_mu, w_var = gaussian_mlp(P, "genw_", centers)
        b_mu, b_var = gaussian_mlp(P, "genb_", centers)
        return w_mu, w_var, b_mu.squeeze(-1), b_var.squeeze(-1)
    return P["w_mu"], softplus(P["w_rho"]) ** 2, None, None


def mixing_weights(logits: torch.Tensor, hp: VMTLHparams, tau: float, g1: torch.Tensor, g2: torch.Tensor) -> torch.Tensor:
    """Prior mixing weights A (S, T, T), zero on the diagonal, rows summing to one (Eq. 9-10).

    ``logits``: (S, T, T) learnable ℓ; ``g1, g2``: Gumbel noise of the same shape.
    """
    T = logits.shape[-1]
    off = ~torch.eye(T, dtype=torch.bool, device=logits.device)
    if hp.prior == "mean":
        return off.float().expand_as(logits) / (T - 1)
    if hp.prior == "learnable":
        return torch.softmax(logits.masked_fill(~off, -math.inf), -1)
    if hp.gumbel == "categorical":
        return categorical_gumbel_softmax(logits, tau, g1, off.expand_as(logits))
    a = binary_gumbel_softmax(logits, tau, g1, g2) * off
    return a / a.sum(-1, keepdim=True) if hp.normalize_binary else a


def _kl_to_prior(mu_q, var_q, mu_c, var_c, A, hp: VMTLHparams) -> torch.Tensor:
    """KL of q (..., K) to the prior built from components (..., I, K) with weights (..., I)."""
    if hp.prior_kl == "bound":
        return mixture_kl_bound(mu_q, var_q, mu_c, var_c, A)
    mu_p, var_p = weighted_sum_prior(mu_c, var_c, A)
    return gaussian_kl(mu_q, var_q, mu_p, var_p)


def objective(P: dict, hp: VMTLHparams, x: torch.Tensor, y: torch.Tensor, noise: dict, tau: float,
              beta_z: float, beta_w: float, standard_prior: bool, centers: torch.Tensor | None,
              n_classes: int, related: torch.Tensor | None = None, only: int | None = None) -> dict:
    """Eq. 8 in Monte Carlo form for every seed: returns per-seed loss terms (S, T).

    ``x``: (S, T, B, D) class-major batches (B = C·n), ``y``: (S, T, B); ``noise``: the
    step's random draws (dropout ``keep`` (S,T,B,D), ``eps_z`` (S,T,L,B,K), ``eps_a``
    (M,S,T,L,B,C), Gumbel ``gz1, gz2, gw1, gw2`` (S,T,T), and with ``prior_input_dropout``
    ``keep_rel`` (S,T,B,T,D)); ``related`` (S, T, B, T, D): the rows' attention-weighted
    prior inputs (``z_prior: attention``).  ``only``: the loss of that task alone, (S, 1)
    (``optimizer: per_task``); the priors still see every task.
    """
    S, T, B, _ = x.shape
    C = n_classes
    n = B // C
    sel = slice(None) if only is None else slice(only, only + 1)
    keep = 1.0 - hp.dropout
    xq = x[:, sel]
    xd = xq * noise["keep"][:, sel] / keep if hp.dropout > 0 else xq
    enc = P if hp.sharing or only is None else {**P, **{k: v[:, sel] for k, v in P.items() if k.startswith("enc_")}}
    mu_z, var_z = gaussian_mlp(enc, "enc_", xd)  # (S, T', B, K)
    z = mu_z.unsqueeze(2) + torch.sqrt(var_z).unsqueeze(2) * noise["eps_z"][:, sel] if hp.variational_z \
        else mu_z.unsqueeze(2)
    w_mu, w_var, b_mu, b_var = classifier(P, hp, centers)  # every task's: the prior over w_t needs them
    wq, vq = w_mu[:, sel], w_var[:, sel]
    bq = b_mu[:, sel] if b_mu is not None else None
    bvq = b_var[:, sel] if b_var is not None else None
    wm, wv = wq.unsqueeze(2), vq.unsqueeze(2)  # (S, T', 1, C, K): broadcast over the L samples
    bm = bq.unsqueeze(2) if bq is not None else None
    bv = bvq.unsqueeze(2) if bvq is not None else None
    eps = noise["eps_a"][:, :, sel] if hp.variational_w else None
    if eps is not None and not hp.variational_z:
        eps = eps[:, :, :, :1]
    logits = local_reparam_logits(z, wm, wv, eps, bm, bv)
    if eps is None:
        logits = logits.unsqueeze(0)  # (1, S, T', L, B, C)
    logp = torch.log_softmax(logits, -1)
    Tq = xq.shape[1]
    target = y[:, sel].reshape(1, S, Tq, 1, B, 1).expand(*logp.shape[:-1], 1)
    ce = -logp.gather(-1, target).squeeze(-1).mean(dim=(0, 3, 4))  # (S, T')

    zeros = torch.zeros(S, Tq, device=x.device)
    use_standard = standard_prior or not hp.sharing or T < 2
    A_z = A_w = None
    if not use_standard:
        A_z = mixing_weights(P["logit_z"], hp, tau, noise["gz1"], noise["gz2"])[:, sel]  # (S, T', T)
        A_w = mixing_weights(P["logit_w"], hp, tau, noise["gw1"], noise["gw2"])[:, sel]

    kl_z = zeros
    if hp.variational_z:
        if use_standard:
            kl_z = gaussian_kl(mu_z, var_z, torch.zeros_like(mu_z), torch.ones_like(var_z)).mean(-1)
        else:
            if related is not None:  # per row: the other tasks' attention-mixed same-class features
                r = related[:, sel]  # (S, T', B, I, D)
                if hp.prior_input_dropout:
                    r = r * noise["keep_rel"][:, sel] / keep
                mu_c, var_c = gaussian_mlp(P, "enc_", r)  # (S, T', B, I, K)
            else:
                m = x.view(S, T, C, n, x.shape[-1]).mean(3)  # (S, T_i, C, D) class means
                mu_m, var_m = gaussian_mlp(P, "enc_", m)  # (S, T_i, C, K)
                cls = torch.arange(B, device=x.device) // n
                mu_c = mu_m[:, :, cls].transpose(1, 2).unsqueeze(1)  # (S, 1, B, I, K)
                var_c = var_m[:, :, cls].transpose(1, 2).unsqueeze(1)
            if hp.detach_prior:
                mu_c, var_c = mu_c.detach(), var_c.detach()
            kl_z = _kl_to_prior(mu_z, var_z, mu_c, var_c, A_z.unsqueeze(2), hp).mean(-1)  # (S, T')

    kl_w = zeros
    if hp.variational_w:
        if use_standard:
            kl_w = gaussian_kl(wq, vq, torch.zeros_like(wq), torch.ones_like(vq)).sum(-1)
        else:
            Aw = A_w.unsqueeze(2)  # (S, T', 1, I)
            mu_c, var_c = (w_mu.detach(), w_var.detach()) if hp.detach_prior else (w_mu, w_var)
            mu_c = mu_c.transpose(1, 2).unsqueeze(1)  # (S, 1, C, I, K)
            var_c = var_c.transpose(1, 2).unsqueeze(1)
            kl_w = _kl_to_prior(wq, vq, mu_c, var_c, Aw, hp).sum(-1)  # (S, T')
        if b_mu is not None:
            kl_w = kl_w + _bias_kl(bq, bvq, b_mu, b_var, A_w, hp, use_standard)
    return {"ce": ce, "kl_z": kl_z, "kl_w": kl_w, "var_z": var_z.detach().mean(dim=(2, 3)),
            "loss": ce + beta_z * kl_z + beta_w * kl_w, "A_z": A_z, "A_w": A_w}


def _bias_kl(bq, bvq, b_mu, b_var, A_w, hp: VMTLHparams, use_standard: bool) -> torch.Tensor:
    """KL of the VMTL-AC bias q(b_t) (``bq, bvq`` (S, T', C)) to its prior built from every
    task's (``b_mu, b_var`` (S, T, C)), summed over classes -> (S, T')."""
    mu, var = bq.unsqueeze(-1), bvq.unsqueeze(-1)  # one-dimensional Gaussians
    if use_standard:
        return gaussian_kl(mu, var, torch.zeros_like(mu), torch.ones_like(var)).sum(-1)
    if hp.ac_code_mixup:  # public code: the stored prior "mean" is the posterior variance, variance 1
        mu_c, var_c = b_var, torch.ones_like(b_var)
    else:
        mu_c, var_c = b_mu, b_var
    if hp.detach_prior:
        mu_c, var_c = mu_c.detach(), var_c.detach()
    mu_c = mu_c.transpose(1, 2).unsqueeze(1).unsqueeze(-1)  # (S, 1, C, I, 1)
    var_c = var_c.transpose(1, 2).unsqueeze(1).unsqueeze(-1)
    return _kl_to_prior(mu, var, mu_c, var_c, A_w.unsqueeze(2), hp).sum(-1)


# ----------------------------------------------------------------------------- training


def _draw_noise(gens: list[torch.Generator], hp: VMTLHparams, T: int, B: int, D: int, C: int, device: str) -> dict:
    """One iteration's random draws, each seed from its own generator, stacked on dim 0
    (dim 1 for ``eps_a``, whose leading dimension is the M samples)."""
    L, M, K = hp.z_samples, hp.w_samples, hp.latent
    parts = {k: [] for k in ("keep", "eps_z", "eps_a", "gz1", "gz2", "gw1", "gw2")}
    if hp.prior_input_dropout:
        parts["keep_rel"] = []
    for g in gens:
        parts["keep"].append((torch.rand((T, B, D), generator=g) >= hp.dropout).float() if hp.dropout > 0
                             else torch.ones(1))
        parts["eps_z"].append(torch.randn((T, L, B, K), generator=g))
        parts["eps_a"].append(torch.randn((M, T, L, B, C), generator=g))
        for k in ("gz1", "gz2", "gw1", "gw2"):
            parts[k].append(sample_gumbel((T, T), generator=g))
        if hp.prior_input_dropout:
            parts["keep_rel"].append((torch.rand((T, B, T, D), generator=g) >= hp.dropout).float())
    out = {k: torch.stack(v).to(device) for k, v in parts.items()}
    out["eps_a"] = out["eps_a"].transpose(0, 1)  # (M, S, T, L, B, C)
    return out


class TaskAdams:
    """One Adam optimiser per task, stepped task by task (``optimizer: per_task``): the public
    code's (model_vmtl.py:176-181, model_vmtl_ac.py:135-139).  Task t's optimiser holds the
    shared networks (encoder; VMTL-AC's generators), task t's classifier and its mixing
    logits (row t of ``logit_z`` / ``logit_w``), each with its own moments and step count, so
    the shared networks get T updates per iteration from T moment estimates.  The update is
    torch.optim.Adam's (betas 0.9 / 0.999, eps 1e-8, L2 weight decay added to the gradient);
    a parameter without gradient counts as a zero gradient (the code's zero_grad keeps zeros).
    """

    TASK_KEYS = ("w_mu", "w_rho", "logit_z", "logit_w")

    def __init__(self, P: dict, T: int, weight_decay: float, sharing: bool, betas=(0.9, 0.999), eps: float = 1e-8):
        self.per_task = {k for k in P if k in self.TASK_KEYS or (not sharing and k.startswith("enc_"))}
        self.wd, self.betas, self.eps = weight_decay, betas, eps
        self.count = [0] * T
        self.m = [{k: torch.zeros_like(self._view(v, k, t)) for k, v in P.items()} for t in range(T)]
        self.v = [{k: torch.zeros_like(self._view(v, k, t)) for k, v in P.items()} for t in range(T)]

    def _view(self, tensor: torch.Tensor, key: str, t: int) -> torch.Tensor:
        return tensor[:, t] if key in self.per_task else tensor

    @torch.no_grad()
    def step(self, P: dict, t: int, lr: float) -> None:
        b1, b2 = self.betas
        self.count[t] += 1
        bc1, bc2 = 1 - b1 ** self.count[t], 1 - b2 ** self.count[t]
        for k, p in P.items():
            view = self._view(p, k, t)
            g = self._view(p.grad, k, t) if p.grad is not None else torch.zeros_like(view)
            g = g + self.wd * view
            m, v = self.m[t][k], self.v[t][k]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            view.addcdiv_(m, v.sqrt() / math.sqrt(bc2) + self.eps, value=-lr / bc1)


def _seed_params(P: dict, s: int) -> dict:
    return {k: v[s: s + 1] for k, v in P.items()}


@torch.no_grad()
def predictive_log_proba(P1: dict, hp: VMTLHparams, task: int, x: torch.Tensor, centers: torch.Tensor | None,
                         gen: torch.Generator | None, chunk: int = 1024) -> torch.Tensor:
    """log (1/(LM)) Σ_l Σ_m softmax(w^(m) z^(l)) for one seed's parameters ``P1`` (leading
    dimension 1) and ``x`` (N, D) of task index ``task`` -> (N, C).  ``gen`` None: means only."""
    return torch.cat([_predictive(P1, hp, task, x[i: i + chunk], centers, gen) for i in range(0, len(x), chunk)])


def _encode(P1, hp, task, x):
    """q(z|x) of one seed for task index ``task``: mean, variance (1, 1, N, K)."""
    e = 0 if hp.sharing else task
    enc = {k: (v[:, e: e + 1] if k.startswith("enc_") else v) for k, v in P1.items()}
    return gaussian_mlp(enc, "enc_", x.view(1, 1, *x.shape))


def _predictive(P1, hp, task, x, centers, gen):
    """Differentiable in ``x``; see :func:`predictive_log_proba`."""
    mu_z, var_z = _encode(P1, hp, task, x)  # (1, 1, N, K)
    L = hp.z_samples if (hp.variational_z and gen is not None) else 1
    M = hp.w_samples if (hp.variational_w and gen is not None) else 1
    z = mu_z.unsqueeze(2)
    if L > 1:
        z = z + torch.sqrt(var_z).unsqueeze(2) * torch.randn((1, 1, L, *mu_z.shape[2:]), generator=gen).to(x.device)
    ctr = centers[task: task + 1].unsqueeze(0) if centers is not None else None
    w_mu, w_var, b_mu, b_var = classifier(P1, hp, ctr)
    if not hp.amortized_classifier:
        w_mu, w_var = w_mu[:, task: task + 1], w_var[:, task: task + 1]
    wm, wv = w_mu.unsqueeze(2), w_var.unsqueeze(2)
    bm = b_mu.unsqueeze(2) if b_mu is not None else None
    bv = b_var.unsqueeze(2) if b_var is not None else None
    C = wm.shape[-2]
    eps = None
    if M > 1:
        eps = torch.randn((M, 1, 1, L, x.shape[0], C), generator=gen).to(x.device)
    logits = local_reparam_logits(z, wm, wv, eps, bm, bv)
    if eps is None:
        logits = logits.unsqueeze(0)
    probs = torch.softmax(logits, -1).mean(dim=(0, 3))  # (1, 1, N, C)
    return torch.log(probs[0, 0] + 1e-12)


def expected_relations(P1: dict, hp: VMTLHparams, tau: float, T: int, seed: int) -> dict[str, np.ndarray]:
    """E[A] and E[A^(w)] (T, T), rows = task t, columns = the tasks i whose posterior enters
    t's prior; estimated with RELATION_SAMPLES Gumbel draws at temperature ``tau``
    (exact for ``prior: mean`` and ``learnable``)."""
    if T < 2 or not hp.sharing:
        return {}
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, key in (("A_z", "logit_z"), ("A_w", "logit_w")):
        logits = P1[key].detach().cpu().expand(RELATION_SAMPLES, T, T)
        A = mixing_weights(logits, hp, tau, sample_gumbel(logits.shape, generator=g), sample_gumbel(logits.shape, generator=g))
        out[name] = A.mean(0).numpy().astype(float)
    return out


@torch.no_grad()
def diagnostics(P1: dict, hp: VMTLHparams, data: _SeedData, centers: torch.Tensor | None) -> dict:
    """The mechanism's observables for one seed (written to the run JSON's ``extra``):

    ``classifier_distance`` (T, T): ‖μ_t − μ_i‖ / ((‖μ_t‖ + ‖μ_i‖)/2) between the tasks'
    classifier means (VMTL-AC: the generated weights; Frobenius norms over the C×K matrix);
    ``z_var_mean`` {task: mean over test inputs and latent dimensions of the variance of q(z|x)}
    (0 when ``variational_z`` is off)."""
    T = len(data.x_test)
    w_mu = classifier(P1, hp, centers.unsqueeze(0) if centers is not None else None)[0][0]  # (T, C, K)
    flat = w_mu.reshape(T, -1)
    norms = flat.norm(dim=1)
    dist = torch.cdist(flat.unsqueeze(0), flat.unsqueeze(0))[0] / ((norms[:, None] + norms[None, :]) / 2)
    z_var = [float(_encode(P1, hp, t, xt)[1].mean()) if hp.variational_z else 0.0 for t, xt in enumerate(data.x_test)]
    return {"classifier_distance": dist.cpu().numpy().astype(float).tolist(), "z_var_mean": z_var}


def fit_predict_many(hp: VMTLHparams, problems: list[Problem], seeds: list[int], device: str = "cpu",
                     progress: bool = True, keep_model: bool = False) -> list[MethodResult]:
    """Train one model per (problem, seed) pair as one batched model; one result each.

    Every problem must have the same tasks, classes and feature dimension (each seed
    has its own split, so the arrays differ).  Seed s's numbers do not depend on the
    other seeds: its initialisation, batches, dropout masks and Monte Carlo noise come
    from its own generator.
    """
    if len(problems) != len(seeds) or not problems:
        raise ValueError("fit_predict_many: one problem per seed, at least one")
    tasks, C, D = problems[0].tasks, problems[0].n_classes, problems[0].in_dim
    for p in problems[1:]:
        if p.tasks != tasks or p.n_classes != C or p.in_dim != D:
            raise DataError("fit_predict_many: the problems differ in tasks, classes or feature dimension")
    T, S, B = len(tasks), len(seeds), problems[0].n_classes * hp.per_class
    attention = hp.z_prior == "attention" and hp.sharing and T > 1
    datas = [_SeedData(p, device, attention) for p in problems]
    gens = []
    for s in seeds:
        g = torch.Generator()
        g.manual_seed(int(s))
        gens.append(g)
    P = _init_params(gens, hp, T, C, D, device)
    per_task = hp.optimizer == "per_task"
    opt = None if per_task else Adam(list(P.values()), lr=hp.lr, weight_decay=hp.weight_decay)
    adams = TaskAdams(P, T, hp.weight_decay, hp.sharing) if per_task else None
    repeats = T if hp.anneal_per_task else 1
    centers = None
    if hp.amortized_classifier:
        centers = torch.stack([d.centers for d in datas]) if hp.ac_centers == "train_mean" else \
            torch.zeros(S, T, C, D, device=device)
    y = (torch.arange(B, device=device) // hp.per_class).view(1, 1, B).expand(S, T, B)
    history: list[list[dict]] = [[] for _ in seeds]
    trace = []
    tau = hp.tau_start
    final_preds: dict[int, list[np.ndarray]] = {}
    for it in tqdm(range(1, hp.steps + 1), desc="vmtl", unit="it", disable=not progress, leave=False):
        lr = hp.lr * hp.lr_decay ** ((it - 1) // hp.lr_decay_every)
        tau = gumbel_temperature(it - 1, hp.tau_start, hp.tau_rate, hp.tau_every, hp.tau_min, repeats)
        beta_w = kl_weight(it - 1, hp.kl_step, hp.kl_every, hp.kl_max, repeats)
        beta_z = beta_w if hp.kl_z_weight is None else hp.kl_z_weight
        u = [torch.rand((T, C, hp.per_class), generator=g) for g in gens]
        idx = [d.batch_index(ui.to(device)) for d, ui in zip(datas, u)]
        x = torch.stack([d.x[i.reshape(-1)].view(*i.shape, D) for d, i in zip(datas, idx)])  # (S, T, B, D)
        related = torch.stack([d.related[i] for d, i in zip(datas, idx)]) if attention else None  # (S, T, B, T, D)
        noise = _draw_noise(gens, hp, T, B, D, C, device)
        if hp.amortized_classifier and hp.ac_centers == "running":  # running mean of the batches' class means
            means = x.view(S, T, C, hp.per_class, D).mean(3)
            centers = means if it == 1 else (centers * (it - 1) + means) / it
        if not per_task:
            for group in opt.param_groups:
                group["lr"] = lr
            terms = objective(P, hp, x, y, noise, tau, beta_z, beta_w, it <= hp.prior_warmup, centers, C, related)
            opt.zero_grad(set_to_none=True)
            terms["loss"].sum().backward()
            opt.step()
        else:  # the code: task by task, each its own Adam; prior_warmup counts task steps
            parts = []
            for t in range(T):
                warm = (it - 1) * T + t < hp.prior_warmup
                part = objective(P, hp, x, y, noise, tau, beta_z, beta_w, warm, centers, C, related, only=t)
                for v in P.values():
                    v.grad = None
                part["loss"].sum().backward()
                adams.step(P, t, lr)
                parts.append(part)
            terms = {k: torch.cat([q[k] for q in parts], 1) for k in ("ce", "kl_z", "kl_w", "var_z")}
        if it % hp.eval_every == 0 or it == hp.steps:
            trace.append({"step": it, "tau": tau, "beta_w": beta_w, "beta_z": beta_z,
                          "ce": terms["ce"].detach().mean(1).tolist(), "kl_z": terms["kl_z"].detach().mean(1).tolist(),
                          "kl_w": terms["kl_w"].detach().mean(1).tolist(),
                          "var_z": terms["var_z"].mean(1).tolist()})
            for si in range(S):
                preds = _predict_seed(P, hp, si, datas[si], centers, seeds[si], it)
                if it == hp.steps:
                    final_preds[si] = preds  # same generator as the final prediction: reuse
                entry = {"step": it, "test": {t: float(np.mean(preds[ti] == datas[si].y_test[ti]))
                                              for ti, t in enumerate(tasks)}}
                if datas[si].x_val is not None:
                    vp = _predict_seed(P, hp, si, datas[si], centers, seeds[si], it, part="val")
                    entry["val"] = {t: float(np.mean(vp[ti] == datas[si].y_val[ti])) for ti, t in enumerate(tasks)
                                    if len(datas[si].y_val[ti])}
                history[si].append(entry)
    results = []
    final_beta = kl_weight(hp.steps, hp.kl_step, hp.kl_every, hp.kl_max, repeats)  # after the last iteration
    for si, s in enumerate(seeds):
        preds = final_preds.get(si) or _predict_seed(P, hp, si, datas[si], centers, s, hp.steps)
        P1 = {k: v.detach() for k, v in _seed_params(P, si).items()}
        ctr = centers[si] if centers is not None else None
        rel = expected_relations(P1, hp, tau, T, s)
        last = trace[-1]
        extra = {"final_tau": tau, "final_beta_w": final_beta,
                 "final_beta_z": final_beta if hp.kl_z_weight is None else hp.kl_z_weight,
                 "final_kl": {"kl_z": last["kl_z"][si], "kl_w": last["kl_w"][si], "ce": last["ce"][si]},
                 **diagnostics(P1, hp, datas[si], ctr),
                 "trace": [{**r, **{k: r[k][si] for k in ("ce", "kl_z", "kl_w", "var_z")}} for r in trace]}
        res = MethodResult(predictions={t: preds[ti] for ti, t in enumerate(tasks)}, relations=rel,
                           history=history[si], extra=extra)
        res.predictor = _make_predictor(P1, hp, tasks, ctr, s)
        results.append(res)
    return results


def _eval_generator(seed: int, step: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(seed) * 1_000_003 + int(step))
    return g


def _predict_seed(P, hp, si, data: _SeedData, centers, seed, step, part: str = "test") -> list[np.ndarray]:
    """Class ids of every task's test (or validation) inputs; ``predict: mean`` uses the
    posterior means, as the public code's test (model_vmtl.py:50 and 104, eval mode)."""
    P1 = {k: v.detach() for k, v in _seed_params(P, si).items()}
    ctr = centers[si] if centers is not None else None
    gen = None if hp.predict == "mean" else _eval_generator(seed, step if part == "test" else -2 - step)
    xs = data.x_test if part == "test" else data.x_val
    # a task without validation samples (one training sample per class) predicts nothing
    return [predictive_log_proba(P1, hp, ti, xt, ctr, gen).argmax(1).cpu().numpy() if len(xt)
            else np.zeros(0, dtype=np.int64) for ti, xt in enumerate(xs)]


def _make_predictor(P1, hp, tasks, centers, seed):
    """A differentiable ``(task, x (N, D)) -> log p(y|x) (N, C)`` with fixed Monte Carlo noise
    (the posterior means with ``predict: mean``)."""
    index = {t: i for i, t in enumerate(tasks)}

    def predictor(task: str, x: torch.Tensor) -> torch.Tensor:
        gen = None if hp.predict == "mean" else _eval_generator(seed, -1)
        return _predictive(P1, hp, index[task], x, centers, gen)

    return predictor


class VMTL(Method):
    """VMTL (paper section 2): see the module docstring for every equation and option."""

    name = "vmtl"
    batches_seeds = True
    has_predictor = True
    paper_tables = True
    Hparams = VMTLHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        return fit_predict_many(self.hp, [problem], [seed], device, progress)[0]

    def fit_predict_many(self, problems: list[Problem], seeds: list[int], device: str = "cpu",
                         progress: bool = True) -> list[MethodResult]:
        """All seeds as one batched model; each result equals ``fit_predict`` of that seed."""
        return fit_predict_many(self.hp, problems, seeds, device, progress)


class VMTLAC(VMTL):
    """VMTL-AC (Eq. 12-13): classifiers generated from class means by an amortization network."""

    name = "vmtl_ac"
    Hparams = VMTLACHparams


class VSTL(VMTL):
    """VSTL (appendix A.2): the variational model per task, no sharing, standard normal priors."""

    name = "vstl"
    Hparams = VSTLHparams

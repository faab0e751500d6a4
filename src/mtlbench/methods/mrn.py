"""MRN: Multilinear Relationship Networks (Long, Cao, Wang & Yu, NeurIPS 2017).

A shared feature extractor f and task-specific top layers whose weights, stacked into the
tensor W ∈ R^{T×C×D} (tasks × classes × features; the paper's D×C×T up to the order of the
modes), get a tensor normal prior  vec(W) ~ N(0, Σ_T ⊗ Σ_C ⊗ Σ_D)  (paper Eq. (3)-(4)).
The MAP objective (Eq. (6)) is

    min_{f, W}  Σ_t (1/|B_t|) Σ_{(x,y)∈B_t} L(W_t f(x) + b_t, y)  +  λ · vec(W)ᵀ (Σ_T ⊗ Σ_C ⊗ Σ_D)⁻¹ vec(W),

with the prior term computed by mode products, never a Kronecker matrix:
vec(W)ᵀ(Ω_T ⊗ Ω_C ⊗ Ω_D)vec(W) = ⟨W, W ×₁ Ω_T ×₂ Ω_C ×₃ Ω_D⟩ for the precisions Ω = Σ⁻¹.
Between gradient steps the covariances get the flip-flop closed-form update of the tensor
normal MLE (Eq. (8)-(10)), e.g. for the task mode

    Σ_T ← W_(1) (Ω_C ⊗ Ω_D) W_(1)ᵀ + ε I,      Ω_T ← Σ_T⁻¹ / tr(Σ_T⁻¹),

all three modes from the previous precisions.  As in the authors' code (thuml/MTlearn,
``tensor_op.UpdateCov``) the precisions are the stored quantities, the MLE's 1/(C·D) factor is
left out (the trace normalisation removes the scale), ε = 1e-5 and each precision is rescaled to
unit trace; the prior sits on the top (classifier) layer, the code's default (``cov_fc7=False``).
One difference: MTlearn forms M Mᵀ with M = W ×₂ Ω_C ×₃ Ω_D (the other precisions squared);
this module uses the paper's W_(1)(Ω_C ⊗ Ω_D)W_(1)ᵀ = M W_(1)ᵀ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import ConfigError
from .base import Evaluator, Method, MethodResult, Problem
from .blocks.nets import MLPHparams, TaskTensors, mlp_extractor, seeded_generator
from .blocks.optim import Adam


@dataclass(frozen=True)
class MRNHparams(MLPHparams):
    prior_weight: float = 1000.0  # λ on the tensor normal prior term (MTlearn: 1, nearly inert; docs/methods.md)
    cov_jitter: float = 1e-5  # ε added to each covariance before inverting (MTlearn: 1e-5)
    cov_update_every: int = 1  # gradient steps between flip-flop covariance updates (MTlearn: 1)

    def check(self, where: str) -> None:
        super().check(where)
        if self.prior_weight < 0:
            raise ConfigError(f"{where}.prior_weight: must be >= 0, got {self.prior_weight}")
        if self.cov_jitter <= 0:
            raise ConfigError(f"{where}.cov_jitter: must be > 0, got {self.cov_jitter}")
        if self.cov_update_every < 1:
            raise ConfigError(f"{where}.cov_update_every: must be >= 1, got {self.cov_update_every}")


def mode_products(W: torch.Tensor, omega_t: torch.Tensor, omega_c: torch.Tensor, omega_d: torch.Tensor) -> torch.Tensor:
    """W ×₁ Ω_T ×₂ Ω_C ×₃ Ω_D for W (T, C, D) and symmetric Ω's (T,T), (C,C), (D,D)."""
    out = torch.einsum("tcd,de->tce", W, omega_d)
    out = torch.einsum("tce,cf->tfe", out, omega_c)
    return torch.einsum("tfe,ts->sfe", out, omega_t)


def tensor_normal_prior(W: torch.Tensor, omega_t: torch.Tensor, omega_c: torch.Tensor, omega_d: torch.Tensor) -> torch.Tensor:
    """vec(W)ᵀ (Ω_T ⊗ Ω_C ⊗ Ω_D) vec(W) (Eq. (6)'s regulariser), a scalar."""
    return (W * mode_products(W, omega_t, omega_c, omega_d)).sum()


def flip_flop_precision(W: torch.Tensor, mode: int, omegas: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                        jitter: float) -> torch.Tensor:
    """The closed-form update (Eq. (8)-(10)) of mode ``mode``'s precision from the other two.

    W: (T, C, D); omegas: the current precisions (Ω_T, Ω_C, Ω_D).  Returns the new precision
    (n_mode, n_mode) = (W_(k)(⊗ other Ω)W_(k)ᵀ + εI)⁻¹, symmetrised, rescaled to unit trace.
    """
    ones = [torch.eye(n, dtype=W.dtype, device=W.device) for n in W.shape]
    ws = list(omegas)
    ws[mode] = ones[mode]  # the mode being updated is not multiplied
    M = mode_products(W, *ws)
    Wk = torch.movedim(W, mode, 0).reshape(W.shape[mode], -1)
    Mk = torch.movedim(M, mode, 0).reshape(W.shape[mode], -1)
    cov = Mk @ Wk.T
    cov = 0.5 * (cov + cov.T) + jitter * ones[mode]
    prec = torch.linalg.inv(cov)
    prec = 0.5 * (prec + prec.T)
    return prec / torch.trace(prec)


RECORD_TAIL_STEPS = 50  # the run record's loss terms: means over the last this many steps


def task_weight_spread(W: torch.Tensor) -> dict[str, float]:
    """Mean pairwise Frobenius distance ‖W_t − W_s‖ between the task classifiers (t < s) and
    their mean norm ‖W_t‖, for W (T, C, D): how far the prior pulled the tasks together."""
    T = W.shape[0]
    flat = W.reshape(T, -1).double()
    dist = [float(torch.linalg.norm(flat[t] - flat[s])) for t in range(T) for s in range(t + 1, T)]
    return {"task_weight_distance": float(np.mean(dist)) if dist else 0.0,
            "task_weight_norm": float(torch.linalg.norm(flat, dim=1).mean())}


class MRN(Method):
    """Shared MLP extractor + per-task linear classifiers with a tensor normal prior."""

    name = "mrn"
    Hparams = MRNHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        hp: MRNHparams = self.hp
        for t in problem.tasks:
            if problem.task_type(t) != "classification":
                raise ConfigError(f"methods.{self.name}: MRN needs classification tasks; {t!r} is {problem.task_type(t)}")
        gen = seeded_generator(seed)
        T, C, D = len(problem.tasks), problem.n_classes, hp.hidden
        data = {t: TaskTensors(problem.data[t], device) for t in problem.tasks}
        extractor = mlp_extractor(problem.in_dim, D, hp.dropout).to(device)
        W = nn.Parameter(torch.randn(T, C, D, generator=gen).mul_(0.01).to(device))  # MTlearn: N(0, 0.01²)
        bias = nn.Parameter(torch.zeros(T, C, device=device))
        opt = Adam([*extractor.parameters(), W, bias], lr=hp.lr, weight_decay=hp.weight_decay)
        # precisions in float64 (small matrices; the inverse of a rank-deficient + εI covariance)
        omegas = tuple(torch.eye(n, dtype=torch.float64, device=device) for n in (T, C, D))

        def logits(t_idx: int, x: torch.Tensor) -> torch.Tensor:
            return extractor(x) @ W[t_idx].T + bias[t_idx]

        history, evaluator = [], Evaluator(problem, device)
        tail = max(1, min(RECORD_TAIL_STEPS, hp.steps))  # steps averaged for the recorded loss terms
        ce_tail = prior_tail = 0.0
        for step in tqdm(range(1, hp.steps + 1), desc="mrn", unit="step", disable=not progress, leave=False):
            ce = W.new_zeros(())
            for i, t in enumerate(problem.tasks):
                x, y = data[t].batch(hp.batch_size, gen)
                ce = ce + nn.functional.cross_entropy(logits(i, x), y)
            om = tuple(o.to(W.dtype) for o in omegas)
            prior = hp.prior_weight * tensor_normal_prior(W, *om)
            loss = ce + prior
            if step > hp.steps - tail:
                ce_tail += float(ce.detach()) / tail
                prior_tail += float(prior.detach()) / tail
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % hp.cov_update_every == 0:
                with torch.no_grad():
                    W64 = W.detach().double()
                    omegas = tuple(flip_flop_precision(W64, k, omegas, hp.cov_jitter) for k in range(3))
            if step % hp.eval_every == 0 or step == hp.steps:
                history.append(evaluator(step, lambda t, x: self._predict(extractor, logits, problem.tasks.index(t), x)))
        preds = evaluator.final_predictions(problem.tasks)  # the evaluation after the last step, of the final model
        task_cov = torch.linalg.inv(omegas[0])
        task_cov = (task_cov / torch.trace(task_cov)).cpu().numpy()
        return MethodResult(predictions=preds, relations={"task_covariance": 0.5 * (task_cov + task_cov.T)},
                            history=history, extra={"task_precision": omegas[0].cpu().numpy().tolist(),
                                                    "cross_entropy": ce_tail, "prior_term": prior_tail,
                                                    **task_weight_spread(W.detach())})

    @staticmethod
    @torch.no_grad()
    def _predict(extractor: nn.Module, logits, t_idx: int, x: torch.Tensor, batch: int = 4096) -> np.ndarray:
        extractor.eval()
        out = torch.cat([logits(t_idx, x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)])
        extractor.train()
        return out.cpu().numpy()

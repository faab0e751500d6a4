"""bMTL: basic multi-task learning, hard parameter sharing.

One shared feature extractor f and one head g_t per task (θ = (f, g_1..g_T)), trained
on the joint multi-task objective

    min_θ  Σ_t w_t Σ_{j=1..m_t} L_t(g_t(f(x_tj)), y_tj)  +  λ R(θ)                  (1)

with L_t the cross-entropy for a classification task and the squared error for a
regression task, m_t the number of training samples of task t, and

* task weighting w_t (``task_weighting``): ``mean`` w_t = 1/m_t (each task's mean loss,
  the default), or ``sum`` w_t = 1 (every sample counts once, so larger tasks weigh more);
* penalty R (``penalty``) with weight λ (``weight_decay``): ``l2`` R(θ) = ½||θ||²₂ (the
  default; applied as Adam's coupled weight decay, whose gradient λθ is exactly that of
  λ·½||θ||², so the default equals the former bMTL), ``l1`` R(θ) = ||θ||₁ (added to the
  loss, subgradient λ·sign θ), or ``none``.  R covers every parameter (extractor and
  heads, weights and biases).

Each Adam step estimates (1) without bias from one batch B_t of every task: the data term
is Σ_t w_t (m_t/|B_t|) Σ_{(x,y)∈B_t} L_t, i.e. Σ_t (1/|B_t|) Σ_{B_t} L_t for ``mean`` and
Σ_t (m_t/|B_t|) Σ_{B_t} L_t for ``sum``.

Tasks with inputs of their own (a tabular table with per-task columns,
``Problem.input_masks``) get the usual hard-sharing design for heterogeneous inputs:
f_t = b ∘ e_t, a task-specific input layer e_t (Linear(d_t, hidden), ReLU, dropout) over
the task's own d_t columns only, into a shared body b (Linear(hidden, hidden), ReLU,
dropout), then the head g_t (:func:`~mtlbench.methods.blocks.nets.task_input_extractors`).
Tasks that read the same columns keep the one shared extractor f.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .base import Evaluator, Method, MethodResult, Problem
from .blocks.nets import (
    MLPHparams,
    TaskTensors,
    mlp_extractor,
    predict,
    seeded_generator,
    task_input_extractors,
    task_loss,
    train_steps,
)


@dataclass(frozen=True)
class BMTLHparams(MLPHparams):
    task_weighting: Literal["mean", "sum"] = "mean"  # w_t of Eq. (1): 1/m_t (mean) or 1 (sum)
    penalty: Literal["l2", "l1", "none"] = "l2"  # R of Eq. (1); its weight λ is weight_decay

    def check(self, where: str) -> None:
        from ..errors import ConfigError

        super().check(where)
        if self.weight_decay < 0:
            raise ConfigError(f"{where}.weight_decay: λ must be >= 0, got {self.weight_decay}")


def task_weights(problem: Problem, weighting: str) -> dict[str, float]:
    """Multiplier of each task's batch-mean loss in the step's estimate of Eq. (1):
    1 for ``mean`` (w_t = 1/m_t), m_t for ``sum`` (w_t = 1)."""
    if weighting == "mean":
        return {t: 1.0 for t in problem.tasks}
    if weighting == "sum":
        return {t: float(len(problem.data[t].y_train)) for t in problem.tasks}
    raise ValueError(f"task_weighting must be 'mean' or 'sum', got {weighting!r}")


def penalty_term(params, penalty: str, weight: float) -> torch.Tensor | float:
    """λ R(θ) of Eq. (1) for the penalties added to the loss (``l1``); 0 for ``none`` and for
    ``l2``, which Adam applies as coupled weight decay (same gradient λθ)."""
    if penalty == "l1" and weight > 0:
        return weight * sum(p.abs().sum() for p in params)
    return 0.0


class BMTL(Method):
    """Eq. (1) of the module docstring, hard sharing with one head per task."""

    name = "bmtl"
    has_predictor = True
    task_types = ("classification", "regression")
    Hparams = BMTLHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        hp: BMTLHparams = self.hp
        gen = seeded_generator(seed)
        reg = {t: problem.task_type(t) == "regression" for t in problem.tasks}
        data = {t: TaskTensors(problem.data[t], device, reg[t]) for t in problem.tasks}
        weight = task_weights(problem, hp.task_weighting)
        if problem.input_masks:  # inputs of their own: f_t = b ∘ e_t (module docstring)
            body = task_input_extractors(problem.input_masks, hp.hidden, hp.dropout).to(device)
            extract = dict(body.items())
        else:
            body = mlp_extractor(problem.in_dim, hp.hidden, hp.dropout).to(device)
            extract = {t: body for t in problem.tasks}
        heads = nn.ModuleDict({t: nn.Linear(hp.hidden, 1 if reg[t] else problem.n_classes) for t in problem.tasks}).to(device)
        params = list(body.parameters()) + list(heads.parameters())
        history = []

        def step_loss():
            loss = 0.0
            for t in problem.tasks:
                x, y = data[t].batch(hp.batch_size, gen)
                term = task_loss(heads[t](extract[t](x)), y, reg[t])
                loss = loss + (term if weight[t] == 1.0 else weight[t] * term)
            return loss + penalty_term(params, hp.penalty, hp.weight_decay)

        evaluator = Evaluator(problem, device)

        def evaluate(step):
            history.append(evaluator(step, lambda t, x: predict(extract[t], heads[t], x, reg[t])))

        # l2 is Adam's coupled weight decay; l1 and none are added to the loss (or absent)
        train_steps(params, hp, step_loss, evaluate, "bmtl", progress,
                    weight_decay=hp.weight_decay if hp.penalty == "l2" else 0.0)
        preds = evaluator.final_predictions(problem.tasks)  # the last evaluation's, of the final model
        return MethodResult(predictions=preds, history=history, predictor=_predictor(body, extract, heads))


def _predictor(body: nn.Module, extract: dict, heads: nn.ModuleDict):
    """Differentiable (task, x (N, D)) -> logits (N, C), dropout off (for FGSM)."""
    body.eval()
    heads.eval()

    def predictor(task: str, x: torch.Tensor) -> torch.Tensor:
        return heads[task](extract[task](x))

    return predictor

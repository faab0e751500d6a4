"""bMTL: basic multi-task learning, hard parameter sharing.

One shared feature extractor f and one head g_t per task, trained jointly on
    min_{f, g_1..g_T}  Σ_t (1/|B_t|) Σ_{(x,y)∈B_t} L_t(g_t(f(x)), y)
(the sum of per-task losses; cross-entropy for classification, squared error for
regression), one batch of every task per Adam step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from .base import Method, MethodResult, Problem
from .nets import (
    MLPHparams,
    TaskTensors,
    mlp_extractor,
    predict,
    seeded_generator,
    task_loss,
    test_score,
)


@dataclass(frozen=True)
class BMTLHparams(MLPHparams):
    pass


class BMTL(Method):
    name = "bmtl"
    Hparams = BMTLHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        hp: BMTLHparams = self.hp
        gen = seeded_generator(seed)
        reg = {t: problem.task_type(t) == "regression" for t in problem.tasks}
        data = {t: TaskTensors(problem.data[t], device, reg[t]) for t in problem.tasks}
        extractor = mlp_extractor(problem.in_dim, hp.hidden, hp.dropout).to(device)
        heads = nn.ModuleDict({t: nn.Linear(hp.hidden, 1 if reg[t] else problem.n_classes) for t in problem.tasks}).to(device)
        opt = torch.optim.Adam(list(extractor.parameters()) + list(heads.parameters()), lr=hp.lr, weight_decay=hp.weight_decay)
        history = []
        for step in tqdm(range(1, hp.steps + 1), desc="bmtl", unit="step", disable=not progress, leave=False):
            loss = 0.0
            for t in problem.tasks:
                x, y = data[t].batch(hp.batch_size, gen)
                loss = loss + task_loss(heads[t](extractor(x)), y, reg[t])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % hp.eval_every == 0 or step == hp.steps:
                history.append({"step": step, "test": {
                    t: test_score(predict(extractor, heads[t], data[t].x_test, reg[t]), data[t].y_test, reg[t])
                    for t in problem.tasks}})
        preds = {t: predict(extractor, heads[t], data[t].x_test, reg[t]) for t in problem.tasks}
        return MethodResult(predictions=preds, history=history, predictor=_predictor(extractor, heads))


def _predictor(extractor: nn.Module, heads: nn.ModuleDict):
    """Differentiable (task, x (N, D)) -> logits (N, C), dropout off (for FGSM)."""
    extractor.eval()
    heads.eval()

    def predictor(task: str, x: torch.Tensor) -> torch.Tensor:
        return heads[task](extractor(x))

    return predictor

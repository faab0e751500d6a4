"""STL: single-task learning, one independent network per task (the no-sharing baseline).

For each task t: minimise (1/|B_t|) Σ_{(x,y)∈B_t} L_t(g_t(f_t(x)), y) over its own
extractor f_t and head g_t with Adam; no parameter is shared between tasks.
"""

from __future__ import annotations

import zlib
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
class STLHparams(MLPHparams):
    pass


class STL(Method):
    name = "stl"
    Hparams = STLHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        hp: STLHparams = self.hp
        preds, steps_hist = {}, {}
        for task in problem.tasks:
            regression = problem.task_type(task) == "regression"
            gen = seeded_generator(seed * 1_000_003 + zlib.crc32(task.encode()) % 1_000_003)
            tt = TaskTensors(problem.data[task], device, regression)
            extractor = mlp_extractor(problem.in_dim, hp.hidden, hp.dropout).to(device)
            head = nn.Linear(hp.hidden, 1 if regression else problem.n_classes).to(device)
            params = list(extractor.parameters()) + list(head.parameters())
            opt = torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay)
            for step in tqdm(range(1, hp.steps + 1), desc=f"stl {task}", unit="step", disable=not progress, leave=False):
                x, y = tt.batch(hp.batch_size, gen)
                loss = task_loss(head(extractor(x)), y, regression)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if step % hp.eval_every == 0 or step == hp.steps:
                    pred = predict(extractor, head, tt.x_test, regression)
                    steps_hist.setdefault(step, {})[task] = test_score(pred, tt.y_test, regression)
            preds[task] = predict(extractor, head, tt.x_test, regression)
        history = [{"step": s, "test": steps_hist[s]} for s in sorted(steps_hist)]
        return MethodResult(predictions=preds, history=history)

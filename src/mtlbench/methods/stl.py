"""STL: single-task learning, one independent network per task (the no-sharing baseline).

For each task t: minimise (1/|B_t|) Σ_{(x,y)∈B_t} L_t(g_t(f_t(x)), y) over its own
extractor f_t and head g_t with Adam; no parameter is shared between tasks.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from torch import nn

from .base import Evaluator, Method, MethodResult, Problem
from .blocks.nets import (
    MLPHparams,
    TaskTensors,
    mlp_extractor,
    predict,
    seeded_generator,
    task_loss,
    train_steps,
)


@dataclass(frozen=True)
class STLHparams(MLPHparams):
    pass


class STL(Method):
    name = "stl"
    task_types = ("classification", "regression")
    Hparams = STLHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        preds, steps_hist = {}, {}
        evaluator = Evaluator(problem, device)
        for task in problem.tasks:
            preds[task] = self._fit_task(problem, task, seed, device, progress, steps_hist, evaluator)
        history = [{"step": s, **steps_hist[s]} for s in sorted(steps_hist)]
        return MethodResult(predictions=preds, history=history)

    def _fit_task(self, problem: Problem, task: str, seed: int, device: str, progress: bool, steps_hist: dict,
                  evaluator: Evaluator):
        """Train task's own network; record its test (and validation) score per step in ``steps_hist``; predict."""
        hp: STLHparams = self.hp
        regression = problem.task_type(task) == "regression"
        gen = seeded_generator(seed * 1_000_003 + zlib.crc32(task.encode()) % 1_000_003)
        tt = TaskTensors(problem.data[task], device, regression)
        extractor = mlp_extractor(problem.in_dim, hp.hidden, hp.dropout).to(device)
        head = nn.Linear(hp.hidden, 1 if regression else problem.n_classes).to(device)

        def step_loss():
            x, y = tt.batch(hp.batch_size, gen)
            return task_loss(head(extractor(x)), y, regression)

        def evaluate(step):
            for part, v in evaluator.scores(task, lambda t, x: predict(extractor, head, x, regression)).items():
                steps_hist.setdefault(step, {}).setdefault(part, {})[task] = v

        train_steps(list(extractor.parameters()) + list(head.parameters()), hp, step_loss, evaluate, f"stl {task}",
                    progress)
        return evaluator.final_predictions([task])[task]  # the last evaluation's, of the final model

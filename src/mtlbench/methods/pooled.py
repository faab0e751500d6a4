"""pooled: one network trained on the union of all tasks' training data, one shared head.

The tasks share one label space (all classification over the same classes, or all
regression of one target), so the simplest form of sharing treats them as one task: one
extractor f and one head g (the STL/bMTL MLP), trained on

    min_{f, g}  (1/|B|) Σ_{(x,y)∈B} L(g(f(x)), y),   B drawn from ∪_t D_t^train       (1)

with L the cross-entropy (classification; g has C outputs) or the squared error
(regression; g is one regressor with a single output), and Adam; a step draws
``batch_size × T`` samples from the pooled training set, so a step sees as many samples
as a bMTL step and larger tasks are sampled in proportion to their size (unlike bMTL's
equal batch per task).  A mix of classification and regression tasks is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from .base import Evaluator, Method, MethodResult, Problem, TaskData
from .blocks.nets import (
    MLPHparams,
    TaskTensors,
    mlp_extractor,
    predict,
    seeded_generator,
    task_loss,
    train_steps,
)
from .pooled_linear import pool_training, pooled_task_type


@dataclass(frozen=True)
class PooledHparams(MLPHparams):
    pass


class Pooled(Method):
    name = "pooled"
    task_types = ("classification", "regression")
    Hparams = PooledHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        hp: PooledHparams = self.hp
        gen = seeded_generator(seed)
        x, y = pool_training(problem)
        regression = pooled_task_type(problem) == "regression"
        empty = np.empty((0, x.shape[1]), dtype=np.float32)
        pooled = TaskTensors(TaskData(x, y, empty, np.empty(0)), device, regression)
        extractor = mlp_extractor(problem.in_dim, hp.hidden, hp.dropout).to(device)
        head = nn.Linear(hp.hidden, 1 if regression else problem.n_classes).to(device)
        history = []

        def step_loss():
            xb, yb = pooled.batch(hp.batch_size * len(problem.tasks), gen)
            return task_loss(head(extractor(xb)), yb, regression)

        evaluator = Evaluator(problem, device)

        def evaluate(step):
            history.append(evaluator(step, lambda t, xt: predict(extractor, head, xt, regression)))

        train_steps(list(extractor.parameters()) + list(head.parameters()), hp, step_loss, evaluate, "pooled", progress)
        preds = evaluator.final_predictions(problem.tasks)  # the last evaluation's, of the final model
        return MethodResult(predictions=preds, history=history)

"""Building blocks shared by the neural methods: the MLP extractor, batching, training."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .optim import Adam


@dataclass(frozen=True)
class MLPHparams:
    """Hyper-parameters common to the MLP-based methods (STL, bMTL)."""

    hidden: int = 256  # width of the feature extractor's hidden layer
    dropout: float = 0.5
    lr: float = 1e-3  # Adam
    weight_decay: float = 5e-4
    steps: int = 300  # optimiser steps (each sees one batch of every task being trained)
    batch_size: int = 32  # samples per task per step
    eval_every: int = 100  # record test accuracy every this many steps (history)

    def check(self, where: str) -> None:
        from ...errors import ConfigError

        for key in ("hidden", "steps", "batch_size", "eval_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"{where}.dropout: must be in [0, 1), got {self.dropout}")
        if self.lr <= 0:
            raise ConfigError(f"{where}.lr: must be > 0, got {self.lr}")


def mlp_extractor(in_dim: int, hidden: int, dropout: float) -> nn.Module:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout))


class TakeSlots(nn.Module):
    """The input slots of one task (its columns of a masked union layout)."""

    def __init__(self, mask):
        super().__init__()
        self.register_buffer("idx", torch.as_tensor(np.flatnonzero(mask), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(1, self.idx)


def task_input_extractors(masks: dict, hidden: int, dropout: float) -> nn.ModuleDict:
    """Hard sharing for tasks with inputs of their own: task t's input layer reads only its
    slots, Linear(d_t, hidden) → ReLU → dropout, into one shared body, Linear(hidden,
    hidden) → ReLU → dropout (the same module in every task's extractor)."""
    body = mlp_extractor(hidden, hidden, dropout)
    return nn.ModuleDict({t: nn.Sequential(TakeSlots(m), mlp_extractor(int(np.sum(m)), hidden, dropout), body)
                          for t, m in masks.items()})


class TaskTensors:
    """One task's arrays as tensors on ``device``, with seeded batch sampling."""

    def __init__(self, data, device: str, regression: bool = False):
        self.x_train = torch.as_tensor(data.x_train, dtype=torch.float32, device=device)
        self.x_test = torch.as_tensor(data.x_test, dtype=torch.float32, device=device)
        ydtype = torch.float32 if regression else torch.long
        self.y_train = torch.as_tensor(data.y_train, dtype=ydtype, device=device)
        self.y_test = np.asarray(data.y_test)
        self.regression = regression

    def batch(self, size: int, gen: torch.Generator):
        """A batch of ``min(size, n)`` training samples drawn without replacement."""
        n = len(self.x_train)
        idx = torch.randperm(n, generator=gen)[: min(size, n)].to(self.x_train.device)
        return self.x_train[idx], self.y_train[idx]


def task_loss(out: torch.Tensor, y: torch.Tensor, regression: bool) -> torch.Tensor:
    """Cross-entropy for a classification task, squared error for a regression task."""
    if regression:
        return nn.functional.mse_loss(out.squeeze(-1), y)
    return nn.functional.cross_entropy(out, y)


@torch.no_grad()
def predict(extractor: nn.Module, head: nn.Module, x: torch.Tensor, regression: bool, batch: int = 4096) -> np.ndarray:
    extractor.eval()
    head.eval()
    outs = [head(extractor(x[i : i + batch])) for i in range(0, len(x), batch)]
    extractor.train()
    head.train()
    out = torch.cat(outs)
    return out.squeeze(-1).cpu().numpy() if regression else out.argmax(1).cpu().numpy()


def joint_mlp(problem, hp: MLPHparams, device: str):
    """The joint network of the lookahead estimators (TAG, lookahead_pair): per task its
    regression flag and tensors, a shared MLP extractor and one linear head per task
    (built in this order, so a seed gives the same weights)."""
    reg = {t: problem.task_type(t) == "regression" for t in problem.tasks}
    data = {t: TaskTensors(problem.data[t], device, reg[t]) for t in problem.tasks}
    extractor = mlp_extractor(problem.in_dim, hp.hidden, hp.dropout).to(device)
    heads = nn.ModuleDict({t: nn.Linear(hp.hidden, 1 if reg[t] else problem.n_classes)
                           for t in problem.tasks}).to(device)
    return reg, data, extractor, heads


def seeded_generator(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def train_steps(params, hp: MLPHparams, step_loss: Callable[[], torch.Tensor], evaluate: Callable[[int], None],
                desc: str, progress: bool, weight_decay: float | None = None) -> None:
    """The Adam loop of STL, bMTL and pooled: ``hp.steps`` steps of ``step_loss()`` (which
    draws its own batches), ``evaluate(step)`` every ``hp.eval_every`` steps and after the
    last.  ``weight_decay`` overrides ``hp.weight_decay`` (bMTL's non-l2 penalties)."""
    decay = hp.weight_decay if weight_decay is None else weight_decay
    opt = Adam(params, lr=hp.lr, weight_decay=decay)
    for step in tqdm(range(1, hp.steps + 1), desc=desc, unit="step", disable=not progress, leave=False):
        loss = step_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % hp.eval_every == 0 or step == hp.steps:
            evaluate(step)

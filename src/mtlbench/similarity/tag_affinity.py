"""TAG's lookahead inter-task affinity (Fifty et al. 2021, "Efficiently Identifying Task
Groupings for Multi-Task Learning", Eqs. 1-3).

One shared-bottom network (shared extractor θ_s, one head θ_t per task) is trained on
all tasks jointly, exactly as bMTL.  Every ``affinity_every`` steps, on the step's
batches X^k, for every source task i the shared parameters take a lookahead step on
i's loss alone

    θ_{s|i}^{k+1} = θ_s^k − η ∇_{θ_s} L_i(X^k, θ_s^k, θ_i^k)                         (1)

and the affinity of i onto every task t is the relative change of t's loss

    Z^k_{i→t} = 1 − L_t(X^k, θ_{s|i}^{k+1}, θ_t^k) / L_t(X^k, θ_s^k, θ_t^k)            (2)

(> 0: a step on i lowers t's loss, i helps t).  L is the cross-entropy for a
classification task and the squared error for a regression task, so for regression Eq. (2)
is the relative loss reduction, in the same direction as the transfer gain.  The returned matrix averages Eq. (2)
over the K lookahead steps of the run, Ẑ_{i→t} = (1/K) Σ_k Z^k_{i→t} (Eq. 3), in the
gain convention ``affinity[i, t]`` = affinity of i onto t.  The lookahead uses plain
SGD with rate η = ``lookahead_lr`` and dropout off; the training itself uses Adam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call

from ..errors import ConfigError
from ..methods.base import Problem
from ..methods.blocks.nets import MLPHparams, joint_mlp, seeded_generator, task_loss
from ..methods.blocks.optim import Adam


@dataclass(frozen=True)
class TagAffinityHparams(MLPHparams):
    affinity_every: int = 10  # compute Eq. (2) every this many training steps
    lookahead_lr: float = 0.1  # η of the SGD lookahead step, Eq. (1)

    def check(self, where: str) -> None:
        super().check(where)
        if self.affinity_every < 1:
            raise ConfigError(f"{where}.affinity_every: must be >= 1, got {self.affinity_every}")
        if self.lookahead_lr <= 0:
            raise ConfigError(f"{where}.lookahead_lr: must be > 0, got {self.lookahead_lr}")


def tag_affinity(problem: Problem, hp: TagAffinityHparams, seed: int = 0, device: str = "cpu") -> np.ndarray:
    """(T, T) averaged lookahead affinities Ẑ[i, t] (Eq. 3) over one joint training run;
    rows and columns in ``problem.tasks`` order; the diagonal holds Ẑ_{t→t}."""
    gen = seeded_generator(seed)
    tasks = problem.tasks
    reg, data, extractor, heads = joint_mlp(problem, hp, device)
    opt = Adam(list(extractor.parameters()) + list(heads.parameters()), lr=hp.lr,
                           weight_decay=hp.weight_decay)
    shared = dict(extractor.named_parameters())
    total = np.zeros((len(tasks), len(tasks)))
    count = 0
    for step in range(1, hp.steps + 1):
        batches = {t: data[t].batch(hp.batch_size, gen) for t in tasks}
        if step % hp.affinity_every == 0 or step == 1:
            total += _lookahead(extractor, heads, shared, batches, tasks, reg, hp.lookahead_lr)
            count += 1
        loss = sum(task_loss(heads[t](extractor(x)), y, reg[t]) for t, (x, y) in batches.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return total / count


def _lookahead(extractor, heads, shared, batches, tasks, reg, lr) -> np.ndarray:
    """Eq. (2) for every (i, t) on one step's batches."""
    extractor.eval()
    heads.eval()
    try:
        names = list(shared)
        params = [shared[k] for k in names]
        with torch.no_grad():
            base = {t: task_loss(heads[t](extractor(x)), y, reg[t]).item() for t, (x, y) in batches.items()}
        z = np.zeros((len(tasks), len(tasks)))
        for a, i in enumerate(tasks):
            xi, yi = batches[i]
            grads = torch.autograd.grad(task_loss(heads[i](extractor(xi)), yi, reg[i]), params)
            with torch.no_grad():
                moved = {k: p - lr * g for k, p, g in zip(names, params, grads)}  # Eq. (1)
                for b, t in enumerate(tasks):
                    xt, yt = batches[t]
                    after = task_loss(heads[t](functional_call(extractor, moved, (xt,))), yt, reg[t]).item()
                    z[a, b] = 1.0 - after / base[t] if base[t] > 0 else 0.0
        return z
    finally:
        extractor.train()
        heads.train()

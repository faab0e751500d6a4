"""The task-grouping paper's transfer gains from lookahead steps of the real optimiser
(``lookahead_pair``): Wang, Pan & Yu, "Towards Principled Task Grouping for Multi-Task
Learning" (arXiv:2402.15328), Sec. 3, the definition of the transfer gain

    S^t_{i→j} = 1 − L_j(Φ^{t+1}_{{i,j}}, θ^{t+1}_j) / L_j(Φ^{t+1}_{{j}}, θ^{t+1}_j)          (L1)

where Φ^{t+1}_A are the shared parameters after one training step at step t on the tasks
of A only, and θ^{t+1}_j task j's own parameters after that step (> 0: training j together
with i lowers j's loss more than training j alone).  The matrix returned is the mean of
(L1) over the K lookahead steps of one run, Ŝ_{i→j} = (1/K) Σ_t S^t_{i→j} (the paper's
gains are averaged over the collection steps), in the gain convention
``gain[i, j]`` = gain of j from i; the diagonal is 0.

Procedure (the public collectors: LOGO-CUHKSZ/Principled-Task-Grouping,
``ettm1/exp/exp_long_term_forecasting_comb_collect.py``, ``Exp_Long_Term_Forecast.train``,
and ``celeba/ours_code/celeba-ours-collect.py``): one shared-bottom network (as bMTL and
TAG: a shared MLP extractor, one head per task) is trained with Adam on the mean of all
tasks' losses.  At every ``lookahead_every``-th step, on the step's batches, for each
singleton {j} and each pair {i, j} (T(T+1)/2 groups): the model and the optimiser state
are copied (``backup_model.load_state_dict`` / ``backup_optim.load_state_dict`` there),
one real optimiser step is taken on the group's mean loss (``group_loss = loss.mean()``;
``model_optim.step()``), each member task's loss on its batch is recorded, and the model
and optimiser are restored; then the ordinary training step follows.  Choices, each an
option or documented in docs/methods.md:

- the collector also runs the duplicate groups (i, i) of ``combinations_with_replacement``
  (the same step as {i}); we run each distinct group once;
- the collector records every task's loss after each group's step; (L1) needs only the
  members', which is what we record (the same values);
- the collector measures in training mode (dropout on); we measure with dropout off
  (``measure_train_mode=True`` reproduces the code), so that (L1) compares the two steps
  and not two dropout masks;
- heads of tasks outside the group get no gradient, so Adam leaves them unchanged (as
  there: their ``grad`` is None after ``zero_grad``).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..methods.base import Problem
from ..methods.blocks.nets import MLPHparams, joint_mlp, seeded_generator, task_loss
from ..methods.blocks.optim import Adam


@dataclass(frozen=True)
class LookaheadPairHparams(MLPHparams):
    lookahead_every: int = 10  # take the T(T+1)/2 lookaheads every this many training steps
    measure_train_mode: bool = False  # True: record the losses with dropout on, as the public collector

    def check(self, where: str) -> None:
        super().check(where)
        if self.lookahead_every < 1:
            raise ConfigError(f"{where}.lookahead_every: must be >= 1, got {self.lookahead_every}")


def lookahead_groups(n_tasks: int) -> list[tuple[int, ...]]:
    """The singletons and the pairs: T(T+1)/2 groups."""
    return [(t,) for t in range(n_tasks)] + list(itertools.combinations(range(n_tasks), 2))


def lookahead_pair(problem: Problem, hp: LookaheadPairHparams, seed: int = 0, device: str = "cpu",
                   return_counts: bool = False):
    """(T, T) mean transfer gains Ŝ[i, j] of Eq. (L1) over one joint training run; rows and
    columns in ``problem.tasks`` order.  ``return_counts``: also the number of lookahead
    steps, of optimiser steps taken (lookaheads + training) and the last training loss."""
    gen = seeded_generator(seed)
    tasks = problem.tasks
    n = len(tasks)
    reg, data, extractor, heads = joint_mlp(problem, hp, device)
    model = nn.ModuleDict({"extractor": extractor, "heads": heads})
    opt = Adam(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    groups = lookahead_groups(n)
    total = np.zeros((n, n))
    looks = 0
    steps = 0

    def losses(batches, members):
        return [task_loss(heads[tasks[t]](extractor(batches[tasks[t]][0])), batches[tasks[t]][1], reg[tasks[t]])
                for t in members]

    for step in range(1, hp.steps + 1):
        batches = {t: data[t].batch(hp.batch_size, gen) for t in tasks}
        if step % hp.lookahead_every == 0 or step == 1:
            saved_model = copy.deepcopy(model.state_dict())
            saved_opt = copy.deepcopy(opt.state_dict())
            after: dict[tuple[int, ...], list[float]] = {}
            for grp in groups:
                opt.zero_grad(set_to_none=True)
                torch.stack(losses(batches, grp)).mean().backward()
                opt.step()  # the real optimiser, its state included
                steps += 1
                if not hp.measure_train_mode:
                    model.eval()
                with torch.no_grad():
                    after[grp] = [v.item() for v in losses(batches, grp)]
                model.train()
                model.load_state_dict(saved_model)
                opt.load_state_dict(copy.deepcopy(saved_opt))  # load_state_dict may alias the tensors
            for i, j in itertools.combinations(range(n), 2):
                li_pair, lj_pair = after[(i, j)]
                li_alone, lj_alone = after[(i,)][0], after[(j,)][0]
                total[j, i] += 1.0 - li_pair / li_alone if li_alone > 0 else 0.0  # gain of i from j
                total[i, j] += 1.0 - lj_pair / lj_alone if lj_alone > 0 else 0.0  # gain of j from i
            looks += 1
        opt.zero_grad(set_to_none=True)
        loss = torch.stack(losses(batches, range(n))).mean()
        loss.backward()
        opt.step()
        steps += 1
    gain = total / looks
    if return_counts:
        return gain, {"lookahead_steps": looks, "optimizer_steps": steps, "groups_per_lookahead": len(groups),
                      "final_train_loss": float(loss.item())}
    return gain

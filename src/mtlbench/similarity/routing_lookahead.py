"""Lookahead estimators on routing tasks: the grouping paper's transfer gains
(``routing_lookahead_pair``) and TAG's affinities (``routing_tag_affinity``) from one-step
lookaheads of the POMO model of ``routing_bmtl``.

The feature-task estimators (:mod:`.lookahead_pair`, :mod:`.tag_affinity`) compare losses.
On a routing task the loss is POMO's REINFORCE surrogate, −(advantage · log p), whose
advantages are centred per instance, so its value says nothing about how good the policy
is and a ratio of two such values means nothing.  The grouping paper's public collector for
its routing tasks (LOGO-CUHKSZ/Principled-Task-Grouping ``cop/Trainer.py``, the lookahead
block of ``_train_one_epoch``, lines 519-564) measures the *score* instead: after each
lookahead step it decodes a fixed validation set (``valiad_and_save_model(...,
lookahead=True)``, lines 1041-1094, and ``valiadate``, lines 935-1039: the model in eval
mode on the stored validation data, the best of the multi-start rollouts, no
augmentation) and records each task's mean objective.  Both estimators here do that.

Procedure: ``routing_bmtl`` is trained on all the tasks (:func:`~mtlbench.methods.blocks.
pomo_train.train_routing`, the settings of the estimator, which are routing_bmtl's keys plus
those below).  Before step 1 and every ``lookahead_every``-th step, on that step's batches,
for every group of the estimator the model and the Adam state are copied, one real Adam
step is taken on the group's joint loss (``task_loss_reduction`` as routing_bmtl), each
task's score s_t on its validation set is recorded, and the model and optimiser are
restored (the code: ``setup_backup_model_opt``, lines 1107-1122, and the backup's step in
``_train_one_batch_lookahead``, lines 587-654); then the ordinary step follows.  The
lookahead's sampled rollouts draw from their own generator, restored before each group, so
the groups see the same samples and the training run is the one routing_bmtl takes.

With ``rel(a, b)`` the relative improvement of a score a over a score b -- 1 − a/b for a
tour length, a/b − 1 for a prize (> 0: a is better) -- the estimators are

- ``routing_lookahead_pair``, the paper's transfer gain (Sec. 3, Eq. L1 of
  :mod:`.lookahead_pair` with the score in place of the loss): groups are every task alone
  and every pair (the code's ``combinations(selected_subset, 1)`` and ``(.., 2)``, lines
  528-530), and S_{i→j} = rel(s_j after the step on {i, j}, s_j after the step on {j});
- ``routing_tag_affinity``, TAG (Fifty et al. 2021, Eqs. 1-3 with the score in place of the
  loss, and the real optimiser step in place of the SGD step on the shared parameters, as the
  code's ``tag`` mode, lines 522-525, and its ``no_lookahead`` score, lines 536-542): groups are the tasks alone, and
  Z_{i→t} = rel(s_t after the step on {i}, s_t before any step).

The matrix is the mean over the lookahead steps, ``gain[i, j]`` = the gain of j from i
(the convention of every gain matrix here).  Options, each the code's where it differs:

- ``lookahead_fresh_batches``: each group's step draws fresh training instances (the code,
  ``env.load_problems(batch_size)`` per group, line 605) instead of the step's batches,
  which makes the pair and the single step differ by their instances as well;
- the code also runs the duplicate groups (i, i) (lines 531-534); they repeat {i} and are
  not run;
- the code takes its lookaheads when its batch counter is a multiple of ``lookahead_freq``
  (line 520); here before step 1 and every ``lookahead_every``-th step, as
  :mod:`.lookahead_pair`.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np
import torch

from ..data.routing.instances import draw, generate, get_task, instance_rng
from ..errors import ConfigError
from ..methods.blocks.pomo import solve_greedy, to_tensors
from ..methods.blocks.pomo_train import joint_loss, train_routing
from ..methods.routing_bmtl import RoutingBMTLHparams


@dataclass(frozen=True)
class RoutingLookaheadHparams(RoutingBMTLHparams):
    lookahead_every: int = 10  # take the lookaheads before step 1 and every this many steps
    lookahead_eval_size: int = 64  # validation instances per task (seeded, apart from the evaluation set)
    lookahead_fresh_batches: bool = False  # True: fresh instances for each group's step, as the public code

    def check(self, where: str) -> None:
        super().check(where)
        if self.lookahead_every < 1:
            raise ConfigError(f"{where}.lookahead_every: must be >= 1, got {self.lookahead_every}")
        if self.lookahead_eval_size < 1:
            raise ConfigError(f"{where}.lookahead_eval_size: must be >= 1, got {self.lookahead_eval_size}")


def relative_improvement(task: str, after: float, before: float) -> float:
    """rel(after, before): 1 − after/before for a tour length, after/before − 1 for a prize."""
    if before == 0:
        return 0.0
    return after / before - 1.0 if get_task(task).maximise else 1.0 - after / before


def routing_lookahead(tasks: list[str], hp: RoutingLookaheadHparams, mode: str, seed: int = 0,
                      device: str = "cpu", return_counts: bool = False):
    """(T, T) mean gains of ``mode`` ``pair`` (the paper's transfer gains) or ``tag`` (TAG's
    affinities) over one routing_bmtl run on ``tasks`` (module docstring)."""
    if mode not in ("pair", "tag"):
        raise ValueError(f"mode must be 'pair' or 'tag', got {mode!r}")
    hp.check("similarity.routing_lookahead")
    n = len(tasks)
    groups = [(i,) for i in range(n)] + (list(itertools.combinations(range(n), 2)) if mode == "pair" else [])
    val = {t: generate(t, hp.lookahead_eval_size, seed, "lookahead") for t in tasks}
    val_hp = dataclasses.replace(hp, augment=1)  # the code's lookahead validation: no augmentation
    look_gen = torch.Generator(device=device)
    look_gen.manual_seed(seed + 7_919)  # the lookahead's rollouts, apart from the training's
    fresh = {t: instance_rng(t, seed, "lookahead_train") for t in tasks}
    total = np.zeros((n, n))
    looks = 0

    def score(model, k: int) -> float:
        obj, _ = solve_greedy(model, tasks[k], val[tasks[k]], val_hp, device)
        return float(obj.mean())

    def hook(step, model, opt, batches):
        nonlocal looks
        if not (step == 1 or step % hp.lookahead_every == 0):
            return
        saved_model = copy.deepcopy(model.state_dict())
        saved_opt = copy.deepcopy(opt.state_dict())
        gen_state = look_gen.get_state()
        before = [score(model, k) for k in range(n)] if mode == "tag" else None
        after: dict[tuple[int, ...], dict[int, float]] = {}
        for grp in groups:
            look_gen.set_state(gen_state)
            members = [tasks[k] for k in grp]
            step_batches = {t: to_tensors(get_task(t), draw(t, hp.batch_size, fresh[t]), device)
                            for t in members} if hp.lookahead_fresh_batches else {t: batches[t] for t in members}
            loss = joint_loss(model, step_batches, look_gen, hp.task_loss_reduction)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            measured = range(n) if mode == "tag" else grp
            after[grp] = {k: score(model, k) for k in measured}
            model.load_state_dict(saved_model)
            opt.load_state_dict(copy.deepcopy(saved_opt))  # load_state_dict may alias the tensors
        opt.zero_grad(set_to_none=True)
        look_gen.set_state(gen_state)
        if mode == "tag":
            for i in range(n):
                for t in range(n):
                    total[i, t] += relative_improvement(tasks[t], after[(i,)][t], before[t])
        else:
            for i, j in itertools.combinations(range(n), 2):
                total[i, j] += relative_improvement(tasks[j], after[(i, j)][j], after[(j,)][j])  # j from i
                total[j, i] += relative_improvement(tasks[i], after[(i, j)][i], after[(i,)][i])  # i from j
        looks += 1

    model = train_routing(list(tasks), hp, seed, device, lambda step, model: None, f"routing_lookahead_{mode}",
                          False, reduction=hp.task_loss_reduction, before_step=hook)
    gain = total / max(looks, 1)
    if return_counts:  # and the trained model: the lookaheads leave routing_bmtl's run unchanged
        return gain, {"lookahead_steps": looks, "groups_per_lookahead": len(groups), "model": model}
    return gain

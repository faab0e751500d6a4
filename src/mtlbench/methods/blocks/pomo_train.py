"""The training loop of the routing methods (``routing_stl``, ``routing_bmtl``): every
step draws a fresh batch of every task being trained (from the seeded training stream of
:mod:`mtlbench.data.routing.instances`), rolls out P = n starts per instance by sampling,
and takes one Adam step on the sum over tasks of POMO's loss (:func:`.pomo.pomo_loss`):
the joint loss Σ_t L_t of hard parameter sharing (one task: single-task training), or with
``reduction="mean"`` on (1/T) Σ_t L_t, as the public code's ``naive`` algorithm
(LOGO-CUHKSZ/Principled-Task-Grouping ``cop/Trainer.py`` line 872,
``total_loss.mean().backward()`` in ``_train_one_batch``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from ...data.routing.instances import draw, get_task, instance_rng
from .optim import Adam
from .pomo import POMOHparams, RoutingModel, pomo_loss, rollout, to_tensors


def seeded_torch(seed: int, device) -> torch.Generator:
    torch.manual_seed(seed)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def joint_loss(model: RoutingModel, batches: dict[str, dict[str, torch.Tensor]], gen: torch.Generator,
               reduction: str = "sum") -> torch.Tensor:
    """One step's joint loss over ``batches`` ({task: tensors}, rolled out in that order,
    sampling from ``gen``): Σ_t L_t of POMO's losses, or with ``reduction="mean"`` their
    mean.  The training step here and the lookahead steps of
    :mod:`mtlbench.similarity.routing_lookahead` both take it."""
    loss = 0.0
    for task, batch in batches.items():
        spec = get_task(task)
        obj, logp, _ = rollout(model, spec, batch, greedy=False, gen=gen)
        loss = loss + pomo_loss(spec, obj, logp)
    return loss / len(batches) if reduction == "mean" else loss


def train_routing(tasks: list[str], hp: POMOHparams, seed: int, device,
                  evaluate: Callable[[int, RoutingModel], None],
                  desc: str, progress: bool, reduction: str = "sum",
                  before_step: Callable[[int, RoutingModel, Adam, dict], None] | None = None
                  ) -> RoutingModel:
    """Train one model on ``tasks`` jointly; ``evaluate(step, model)`` every
    ``hp.eval_every`` epochs and after the last.  ``reduction``: ``sum`` or ``mean`` of the
    tasks' losses.  ``before_step(step, model, optimizer, batches)``, when given, runs before
    each step (1, 2, ...) on that step's batches ({task: tensors}) and must leave the model
    and the optimiser as it found them (the lookahead estimators,
    :mod:`mtlbench.similarity.routing_lookahead`).  Returns the trained model."""
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    gen = seeded_torch(seed, device)
    model = RoutingModel(tasks, hp).to(device)
    opt = Adam(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    streams = {t: instance_rng(t, seed, "train") for t in tasks}
    specs = {t: get_task(t) for t in tasks}
    step = 0
    for epoch in tqdm(range(1, hp.epochs + 1), desc=desc, unit="epoch", disable=not progress, leave=False):
        for _ in range(hp.steps_per_epoch):
            batches = {t: to_tensors(specs[t], draw(t, hp.batch_size, streams[t]), device) for t in tasks}
            if before_step is not None:
                before_step(step + 1, model, opt, batches)
            loss = joint_loss(model, batches, gen, reduction)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if epoch % hp.eval_every == 0 or epoch == hp.epochs:
            evaluate(step, model)
    return model

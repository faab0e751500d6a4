"""routing_bmtl: basic multi-task learning on routing tasks, hard parameter sharing --
one POMO model (:mod:`mtlbench.methods.blocks.pomo`) whose attention encoder is shared by
every task, with one input embedding and one decoder per problem type, trained on the
joint loss Σ_t L_t (L_t POMO's loss of task t, one fresh batch of every task per Adam
step; one Adam optimiser over all parameters, as the public code's ``naive`` algorithm in
LOGO-CUHKSZ/Principled-Task-Grouping ``cop/Trainer.py``, ``Trainer.__init__`` lines 154-158).

The public code's deviation, an option (``routing_bmtl_code`` in params.yaml sets it):

- ``task_loss_reduction: mean`` -- the step is on the mean (1/T) Σ_t L_t of the tasks'
  losses, as ``total_loss.mean().backward()`` of the ``naive`` algorithm
  (``cop/Trainer.py`` line 872 in ``_train_one_batch``; line 626 in its lookahead step).
  With Adam this changes only the weight decay's and ε's share of each step.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Method, MethodResult, Problem
from .blocks.pomo import POMOHparams
from .blocks.pomo_train import train_routing
from .blocks.routing_task import ROUTING_TASK_TYPES, RoutingEvaluation


@dataclass(frozen=True)
class RoutingBMTLHparams(POMOHparams):
    task_loss_reduction: str = "sum"  # sum | mean (the public code: cop/Trainer.py line 872)

    def check(self, where: str) -> None:
        from ..errors import ConfigError

        super().check(where)
        if self.task_loss_reduction not in ("sum", "mean"):
            raise ConfigError(f"{where}.task_loss_reduction: must be one of ['sum', 'mean'], "
                              f"got {self.task_loss_reduction!r}")


class RoutingBMTL(Method):
    name = "routing_bmtl"
    task_types = ROUTING_TASK_TYPES
    Hparams = RoutingBMTLHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        ev = RoutingEvaluation(problem, self.hp, device)
        train_routing(list(problem.tasks), self.hp, seed, device, lambda step, model: ev(step, model, problem.tasks),
                      "routing_bmtl", progress, reduction=self.hp.task_loss_reduction)
        return ev.result()

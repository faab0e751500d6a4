"""routing_bmtl: basic multi-task learning on routing tasks, hard parameter sharing --
one POMO model (:mod:`mtlbench.methods.blocks.pomo`) whose attention encoder is shared by
every task, with one input embedding and one decoder per problem type, trained on the
joint loss Σ_t L_t (L_t POMO's loss of task t, one fresh batch of every task per Adam
step; one Adam optimiser over all parameters, as the public code's ``naive`` algorithm in
LOGO-CUHKSZ/Principled-Task-Grouping ``cop/Trainer.py``, ``Trainer.__init__``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Method, MethodResult, Problem
from .blocks.pomo import POMOHparams
from .blocks.pomo_train import train_routing
from .blocks.routing_task import ROUTING_TASK_TYPES, RoutingEvaluation


@dataclass(frozen=True)
class RoutingBMTLHparams(POMOHparams):
    pass


class RoutingBMTL(Method):
    name = "routing_bmtl"
    task_types = ROUTING_TASK_TYPES
    Hparams = RoutingBMTLHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        ev = RoutingEvaluation(problem, self.hp, device)
        train_routing(list(problem.tasks), self.hp, seed, device, lambda step, model: ev(step, model, problem.tasks),
                      "routing_bmtl", progress)
        return ev.result()

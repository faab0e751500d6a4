"""routing_stl: single-task learning on routing tasks -- one POMO model
(:mod:`mtlbench.methods.blocks.pomo`) per task, nothing shared: for each task t,
minimise POMO's loss L_t (REINFORCE with the shared baseline) over its own embedding,
encoder and decoder.  Each task's model sees the same training stream of instances as
in ``routing_bmtl`` (the stream is seeded by the run seed and the task).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Method, MethodResult, Problem
from .blocks.pomo import POMOHparams
from .blocks.pomo_train import train_routing
from .blocks.routing_task import ROUTING_TASK_TYPES, RoutingEvaluation


@dataclass(frozen=True)
class RoutingSTLHparams(POMOHparams):
    pass


class RoutingSTL(Method):
    name = "routing_stl"
    task_types = ROUTING_TASK_TYPES
    Hparams = RoutingSTLHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        ev = RoutingEvaluation(problem, self.hp, device)
        for task in problem.tasks:
            train_routing([task], self.hp, seed, device, lambda step, model, t=task: ev(step, model, [t]),
                          f"routing_stl {task}", progress)
        return ev.result()

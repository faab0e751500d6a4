"""Routing tasks behind the Method interface: the :class:`~mtlbench.methods.base.Problem`
of a set of routing tasks and the evaluation both routing methods share.

A routing Problem has no training arrays (training instances are drawn fresh each step
from the seeded stream, :mod:`.pomo_train`): each task's ``x_test`` holds its evaluation
instances as rows (:func:`mtlbench.data.routing.instances.rows`) and ``y_test`` the
reference objective per instance (NaN: no reference); the task type is
``routing_length`` (TSP, CVRP) or ``routing_prize`` (OP), which :mod:`mtlbench.metrics`
turns into the mean tour length or prize and the gap.  A method's predictions are its
objective per evaluation instance, computed in float64 from the decoded solutions
(:func:`mtlbench.data.routing.solutions.objective`), every one of which is checked for
feasibility.
"""

from __future__ import annotations

import numpy as np

from ...data.routing.instances import arrays, rows
from ...data.routing.instances import task_type as routing_task_type
from ...data.routing.solutions import objective, violations
from ...metrics import ROUTING_TYPES
from ..base import MethodResult, Problem, TaskData
from .pomo import POMOHparams, RoutingModel, solve_greedy


def routing_problem(eval_sets: dict[str, dict[str, np.ndarray]],
                    references: dict[str, np.ndarray] | None = None) -> Problem:
    """The Problem of ``eval_sets`` (task -> instance arrays), with the reference
    objectives where given."""
    data = {}
    for task, inst in eval_sets.items():
        x = rows(task, inst)
        ref = np.full(len(x), np.nan) if references is None or task not in references else \
            np.asarray(references[task], dtype=np.float64)
        if len(ref) != len(x):
            raise ValueError(f"{task}: {len(ref)} reference values for {len(x)} instances")
        empty = np.zeros((0, x.shape[1]), dtype=np.float32)
        data[task] = TaskData(empty, np.zeros(0), x, ref)
    tasks = list(eval_sets)
    return Problem(tasks=tasks, n_classes=0, data=data, task_types={t: routing_task_type(t) for t in tasks})


def evaluate_task(model: RoutingModel, problem: Problem, task: str, hp: POMOHparams, device) -> tuple[np.ndarray, int]:
    """(objective per evaluation instance, float64 from the solutions; number of infeasible
    solutions -- the masks make it 0, and a run reports it)."""
    inst = arrays(task, problem.data[task].x_test)
    _, sols = solve_greedy(model, task, inst, hp, device)
    obj = np.array([objective(task, inst, i, s) for i, s in enumerate(sols)])
    bad = sum(bool(violations(task, inst, i, s)) for i, s in enumerate(sols))
    return obj, bad


class RoutingEvaluation:
    """Collects the history ({"step", "test": {task: mean objective}}), the final
    predictions and the infeasible counts of one run."""

    def __init__(self, problem: Problem, hp: POMOHparams, device):
        self.problem, self.hp, self.device = problem, hp, device
        self.history: dict[int, dict] = {}
        self.predictions: dict[str, np.ndarray] = {}
        self.infeasible: dict[str, int] = {}

    def __call__(self, step: int, model: RoutingModel, tasks: list[str]) -> None:
        for t in tasks:
            obj, bad = evaluate_task(model, self.problem, t, self.hp, self.device)
            self.history.setdefault(step, {"step": step, "test": {}})["test"][t] = float(obj.mean())
            self.predictions[t], self.infeasible[t] = obj, bad

    def history_list(self) -> list[dict]:
        return [self.history[s] for s in sorted(self.history)]

    def result(self) -> MethodResult:
        """The run's MethodResult: the final predictions, the history and the infeasible counts."""
        return MethodResult(predictions=dict(self.predictions), history=self.history_list(),
                            extra={"infeasible": dict(self.infeasible)})


# the task types a routing method handles (mtlbench.metrics: mean tour length / prize, and the gap)
ROUTING_TASK_TYPES = tuple(ROUTING_TYPES)

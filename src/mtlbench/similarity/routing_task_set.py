"""A task-set record of routing tasks (the transfer-gain and oracle trainings of a routing
dataset): ``tasks`` trained together by ``routing_bmtl`` (shared encoder, joint loss) once
per seed, on fresh seeded instances, each task scored by its ``gap`` to the reference on
its fixed evaluation set (lower is better; comparable across TSP, CVRP and OP).  The
record has the layout of :mod:`.transfer_gain` (``tasks``, ``seeds``, ``metric``, one
list per metric), so the gains, the grouping evaluation and the oracle read it as they
read the others."""

from __future__ import annotations

import numpy as np

from ..checks import build_dataclass
from ..errors import DataError
from ..methods.routing_bmtl import RoutingBMTL, RoutingBMTLHparams
from ..metrics import task_metrics

RECORD_METRIC = "gap"


def routing_task_set(data_dir, tasks: list[str], hparams: dict, seeds: list[int], device: str = "cpu") -> dict:
    """What ``mtlbench train-task-set --routing-data`` writes (module docstring)."""
    from ..data.routing.build import load_routing_data
    from ..methods.blocks.routing_task import routing_problem

    hp = build_dataclass(RoutingBMTLHparams, hparams, "similarity.routing_transfer_gain")
    sets, refs, settings = load_routing_data(data_dir, list(tasks))
    for t in tasks:  # the gap needs every reference (a solver that found none in its time limit: NaN)
        missing = int(np.isnan(refs[t]).sum())
        if missing:
            raise DataError(f"{t}: {missing} of {len(refs[t])} evaluation instances in {data_dir} have no reference "
                            "solution, so the task has no gap; raise the dataset's reference_time_limit_s")
    problem = routing_problem(sets, refs)
    gaps: dict[str, list[float]] = {t: [] for t in tasks}
    for seed in seeds:
        result = RoutingBMTL(hp).fit_predict(problem, seed=seed, device=device, progress=False)
        for t in tasks:
            gaps[t].append(float(task_metrics(problem.data[t].y_test, result.predictions[t],
                                              problem.task_type(t))[RECORD_METRIC]))
    return {"tasks": list(tasks), "seeds": list(seeds), "metric": {t: RECORD_METRIC for t in tasks},
            RECORD_METRIC: gaps, "hparams": hparams, "reference_settings": settings,
            "inputs": {"routing_data": str(data_dir)}}

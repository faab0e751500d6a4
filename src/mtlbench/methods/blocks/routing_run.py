"""One routing run -> its run record, in the train stage's run-JSON layout
(:mod:`mtlbench.train`): dataset, method, algorithm, seed, tasks, task_types,
metrics {per_task: {task: {tour_length | prize, gap}}, average}, history, extra
(infeasible solutions per task, always 0 by the masks), hparams, the reference settings,
config_hash, n_test, wall_time_s, device, versions.  (Routing runs have no split; their ratio is 1,
the one protocol: the evaluation sets are fixed, the training instances generated.)"""

from __future__ import annotations

import dataclasses
import time

from ...checks import build_dataclass
from ...io import config_hash
from ...metrics import average_metrics, task_metrics
from ...runinfo import device_info, library_versions
from ..base import Problem


def routing_run(problem: Problem, method: str, hparams: dict, seed: int, device: str = "cpu", *,
                dataset: str = "routing", label: str | None = None, reference_settings: dict | None = None,
                progress: bool = False) -> dict:
    """Train ``method`` (a routing method's registry name) on ``problem`` and return the record."""
    from .. import get_method

    cls = get_method(method)
    hp = build_dataclass(cls.Hparams, hparams, f"methods.{label or method}")
    hp.check(f"methods.{label or method}")
    t0 = time.perf_counter()
    result = cls(hp).fit_predict(problem, seed=seed, device=device, progress=progress)
    wall = time.perf_counter() - t0
    tasks = list(problem.tasks)
    per_task = {t: task_metrics(problem.data[t].y_test, result.predictions[t], problem.task_type(t)) for t in tasks}
    # ratio 1: the one protocol of a routing dataset (the tables key their runs by ratio)
    resolved = {"dataset": dataset, "method": label or method, "algorithm": method, "ratio": 1.0, "seed": seed,
                "tasks": tasks,
                "hparams": dataclasses.asdict(hp)}
    return {
        **resolved,
        "task_types": {t: problem.task_type(t) for t in tasks},
        "metrics": {"per_task": per_task, "average": average_metrics(per_task)},
        "history": result.history,
        "extra": result.extra,
        "reference_settings": reference_settings or {},
        "config_hash": config_hash({**resolved, "reference_settings": reference_settings or {}}),
        "n_test": {t: len(problem.data[t].y_test) for t in tasks},
        "wall_time_s": wall,
        "wall_time_scope": "run",
        "device": device_info(device),
        "versions": library_versions(),
    }


def write_routing_run(data_dir, out_path, tasks: list[str], method: str, hparams: dict, seed: int,
                      device: str = "cpu", **kwargs) -> dict:
    """:func:`routing_run` on the evaluation sets and references of ``data_dir`` (written by
    :func:`mtlbench.data.routing.build.build_routing_data`); the record is written to
    ``out_path`` (atomically) and returned."""
    from ...data.routing.build import load_routing_data
    from ...io import write_json
    from .routing_task import routing_problem

    sets, refs, settings = load_routing_data(data_dir, tasks)
    rec = routing_run(routing_problem(sets, refs), method, hparams, seed, device, reference_settings=settings,
                      **kwargs)
    rec["inputs"] = {"routing_data": str(data_dir)}
    write_json(out_path, rec)
    return rec

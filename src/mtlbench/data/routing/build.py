"""The routing data stage: for each task, its fixed evaluation set and its reference
solutions, written once (``{out}/{task}.npz`` and ``{out}/{task}.reference.json``, the
files of :mod:`.store`) and read back by :func:`load_routing_data`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .instances import EVAL_SEED, EVAL_SIZE, eval_set
from .reference import OP_EXACT_TIME_LIMIT_S, default_settings, solve
from .store import read_instances, read_reference, write_instances, write_reference


def build_routing_data(out_dir: str | Path, tasks: list[str], eval_size: int = EVAL_SIZE, seed: int = EVAL_SEED,
                       time_limit_s: float = 1.0, op_exact_time_limit_s: float = OP_EXACT_TIME_LIMIT_S
                       ) -> dict[str, dict]:
    """Write every task's evaluation set and reference; returns {task: reference settings}."""
    out_dir = Path(out_dir)
    settings = {}
    for task in tasks:
        inst = eval_set(task, eval_size, seed)
        meta = {"seed": seed, "purpose": "eval", "size": eval_size}
        write_instances(out_dir / f"{task}.npz", task, inst, meta)
        ref = solve(task, inst, default_settings(task, time_limit_s, op_exact_time_limit_s))
        write_reference(out_dir / f"{task}.reference.json", task, ref, {"instances": f"{task}.npz", **meta})
        settings[task] = ref["settings"]
    return settings


def load_routing_data(data_dir: str | Path, tasks: list[str]) -> tuple[dict, dict[str, np.ndarray], dict[str, dict]]:
    """(eval sets {task: arrays}, references {task: objective}, settings {task: ...}) of a
    folder written by :func:`build_routing_data`."""
    data_dir = Path(data_dir)
    sets, refs, settings = {}, {}, {}
    for task in tasks:
        sets[task], _ = read_instances(data_dir / f"{task}.npz")
        ref = read_reference(data_dir / f"{task}.reference.json")
        refs[task], settings[task] = ref["objective"], ref["settings"]
    return sets, refs, settings

"""The similarity file contract (DESIGN.md): ``results/similarity/{dataset}/{estimator}.json``.

    {"estimator": str, "dataset": str, "task_order": [T names],
     "matrix": T x T (row = source i, column = target t where the estimator is directed),
     "orientation": "similarity" | "distance",  (larger = more alike | less alike)
     "settings": {...}, "inputs": {...}}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import read_json, write_json

ORIENTATIONS = ("similarity", "distance")  # larger = more related, or larger = less related


def write_similarity(path: str | Path, matrix, tasks: list[str], estimator: str, settings: dict, *,
                     orientation: str, dataset: str = "", inputs: dict | None = None,
                     extra: dict | None = None) -> dict:
    """The similarity file of one estimator (``estimator``: its label).  ``orientation``
    is the estimator's own (:attr:`mtlbench.similarity.estimate.Estimator.orientation`;
    ``similarity`` for the measured gains)."""
    if orientation not in ORIENTATIONS:
        raise DataError(f"{estimator}: orientation must be one of {', '.join(ORIENTATIONS)}; got {orientation!r}")
    m = np.asarray(matrix, dtype=float)
    if m.shape != (len(tasks), len(tasks)):
        raise DataError(f"{estimator}: matrix shape {m.shape} does not match {len(tasks)} tasks")
    record = {"estimator": estimator, "dataset": dataset, "task_order": list(tasks), "matrix": m.tolist(),
              "orientation": orientation,
              "settings": settings, "inputs": inputs or {}, **(extra or {})}
    write_json(path, record)
    return record


def read_similarity(path: str | Path, tasks: list[str] | None = None) -> tuple[np.ndarray, dict]:
    """The matrix (reordered to ``tasks`` when given) and the whole record."""
    rec = read_json(path)
    m = np.asarray(rec["matrix"], dtype=float)
    if tasks is not None and list(tasks) != rec["task_order"]:
        missing = [t for t in tasks if t not in rec["task_order"]]
        if missing:
            raise DataError(f"{path}: tasks {missing} not in its task order {rec['task_order']}")
        idx = [rec["task_order"].index(t) for t in tasks]
        m = m[np.ix_(idx, idx)]
    return m, rec


def learned_relations(run_paths, relation: str, tasks: list[str]) -> np.ndarray:
    """Mean over run JSONs of ``relations[relation]`` (e.g. VMTL mixing weights, AMTNN α),
    reordered to ``tasks``.  Raises DataError when no run holds that relation."""
    mats = []
    for p in run_paths:
        rel = read_json(p).get("relations", {}).get(relation)
        if rel is None:
            continue
        order = rel["task_order"]
        idx = [order.index(t) for t in tasks]
        mats.append(np.asarray(rel["matrix"], dtype=float)[np.ix_(idx, idx)])
    if not mats:
        raise DataError(f"no run among {len(list(run_paths))} holds the relation {relation!r}")
    return np.mean(mats, axis=0)

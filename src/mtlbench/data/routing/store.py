"""The routing stage files: a task's instances (one ``.npz`` of rows plus their
generation settings) and its reference solutions (one JSON: objective per instance,
solutions, solver settings).  Written atomically (:func:`mtlbench.io.atomic_path`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...io import atomic_path, read_json, write_json
from .instances import arrays, get_task, rows


def write_instances(path: str | Path, task: str, inst: dict[str, np.ndarray], meta: dict) -> None:
    """``inst`` as rows (:func:`~.instances.rows`) with ``meta`` (task, seed, purpose, ...)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, rows=rows(task, inst), meta=np.array(json.dumps({"task": task, **meta})))


def read_instances(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """(instances as arrays, meta) of a file of :func:`write_instances`."""
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        return arrays(meta["task"], z["rows"]), meta


def _floats(values) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values]


def write_reference(path: str | Path, task: str, result: dict, meta: dict) -> None:
    """A :func:`~.reference.solve` result as JSON, with ``meta`` (the instances' file, ...);
    an OP result with the CP-SAT stage also keeps ``exact_status`` and ``exact_bound``."""
    exact = {"exact_status": list(result["exact_status"]), "exact_bound": _floats(result["exact_bound"])} \
        if "exact_status" in result else {}
    write_json(path, {"task": task, "maximise": get_task(task).maximise, **meta,
                      "objective": _floats(result["objective"]),
                      "feasible": [bool(v) for v in result["feasible"]],
                      "seconds": [float(v) for v in result["seconds"]],
                      "solutions": [None if s is None else [int(v) for v in s] for s in result["solutions"]],
                      **exact, "settings": result["settings"]})


def read_reference(path: str | Path) -> dict:
    """The reference JSON with ``objective`` as a float64 array (NaN: no solution)."""
    out = read_json(path)
    out["objective"] = np.array([np.nan if v is None else v for v in out["objective"]], dtype=np.float64)
    return out

"""Objectives and feasibility of routing solutions, in float64 from the stored float32
instances (:mod:`.instances`).

A solution of one instance is a sequence of node indices:

- TSP: a permutation of 0..n-1, the tour closing back to its first node;
- CVRP and OP: indices into (depot, node_1, ..., node_n), so 0 is the depot and 1..n the
  customers; the tour starts and ends at the depot (implied), and a 0 inside a CVRP
  sequence starts a new route.  Repeated zeros are allowed (an OP tour that stays home is
  ``[]`` or ``[0, ...]``).
"""

from __future__ import annotations

import numpy as np

from .instances import get_task


def points(task: str, inst: dict[str, np.ndarray], i: int) -> np.ndarray:
    """Instance i's coordinates in solution-index order, float64: (n, 2) for TSP,
    (n + 1, 2) with the depot first for CVRP and OP."""
    xy = inst["xy"][i].astype(np.float64)
    if get_task(task).problem == "tsp":
        return xy
    return np.concatenate([inst["depot"][i][None].astype(np.float64), xy])


def closed_length(pts: np.ndarray, seq) -> float:
    """Length of the closed walk through ``pts[seq]`` (back to its first point)."""
    seq = np.asarray(seq, dtype=np.int64)
    if len(seq) < 2:
        return 0.0
    p = pts[seq]
    return float(np.linalg.norm(p - np.roll(p, -1, axis=0), axis=1).sum())


def depot_walk(seq) -> np.ndarray:
    """A CVRP/OP sequence with the depot put at both ends."""
    return np.concatenate([[0], np.asarray(seq, dtype=np.int64), [0]])


def objective(task: str, inst: dict[str, np.ndarray], i: int, seq) -> float:
    """Tour length (TSP, CVRP: the total over routes) or collected prize (OP)."""
    spec = get_task(task)
    pts = points(task, inst, i)
    if spec.problem == "tsp":
        return closed_length(pts, seq)
    if spec.problem == "cvrp":
        return closed_length(pts, depot_walk(seq)[:-1])
    seq = np.asarray(seq, dtype=np.int64)
    return float(inst["prize"][i][seq[seq > 0] - 1].astype(np.float64).sum())


def violations(task: str, inst: dict[str, np.ndarray], i: int, seq) -> list[str]:
    """Why the solution ``seq`` of instance i is infeasible; [] when it is feasible.

    TSP: every node exactly once.  CVRP: every customer exactly once, each route's demand
    at most the capacity.  OP: each node at most once, the closed tour's length (from the
    depot and back) at most the cap."""
    spec = get_task(task)
    seq = np.asarray(seq, dtype=np.int64)
    out = []
    if spec.problem == "tsp":
        if sorted(seq.tolist()) != list(range(spec.n)):
            out.append("not a permutation of the nodes")
        return out
    if seq.size and (seq.min() < 0 or seq.max() > spec.n):
        return ["index out of range"]
    visits = np.bincount(seq[seq > 0], minlength=spec.n + 1)[1:]
    if spec.problem == "cvrp":
        if (visits != 1).any():
            out.append(f"customers not served exactly once: {np.flatnonzero(visits != 1) + 1}")
        demand = inst["demand"][i]
        load = 0.0
        for v in depot_walk(seq):
            load = 0.0 if v == 0 else load + float(demand[v - 1])
            if load > spec.capacity:
                out.append(f"route load {load} over capacity {spec.capacity}")
                break
        return out
    if (visits > 1).any():
        out.append(f"nodes visited more than once: {np.flatnonzero(visits > 1) + 1}")
    nodes = seq[seq > 0]
    length = closed_length(points(task, inst, i), depot_walk(nodes)[:-1])
    if length > spec.max_length:
        out.append(f"tour length {length:.6f} over the cap {spec.max_length}")
    return out

"""Seeded instance generators of the six routing tasks, with the distributions of
Kool et al. 2019 ("Attention, learn to solve routing problems!", Sec. 5 and App. C-D),
which POMO (Kwon et al. 2020) uses:

- TSP: n nodes uniform in the unit square.
- CVRP: a depot and n customers uniform in the unit square; integer demands uniform in
  {1, ..., 9}; vehicle capacity 30 (n = 20) and 40 (n = 50).
- OP (distance-based prizes, Kool et al. App. D / Fischetti et al. 1998): a depot and n
  nodes uniform in the unit square; node i's prize is (1 + floor(99 · d_0i / max_j d_0j)) / 100,
  d_0i its distance to the depot (computed as (d_0i / max_j d_0j) · 99, in that order, as
  Kool et al.'s generator does, so that the farthest node gets exactly 1); maximum tour
  length 2 (n = 20) and 3 (n = 50).

The grouping paper's public code draws the same (LOGO-CUHKSZ/Principled-Task-Grouping
``cop/Env/CVRProblemDef.py`` lines 14-23: demands ``randint(1, 10)`` over a capacity of 30
or 40; ``cop/Env/OPProblemDef.py`` lines 6-15 and 25-28: the length caps and the distance
prizes); this module draws with numpy and keeps the demands as integers.

Every instance is stored as one float32 row (:func:`rows` / :func:`arrays`):

- TSP: x_1, y_1, ..., x_n, y_n  (2n values);
- CVRP: depot x, y, customers' x_1, y_1, ..., x_n, y_n, demands d_1..d_n  (2 + 3n);
- OP: depot x, y, nodes' x_1, y_1, ..., x_n, y_n, prizes p_1..p_n  (2 + 3n).

Coordinates are drawn in float64 and rounded to float32 once, so that every consumer (the
reference solver, the model, the feasibility checks) reads the same numbers.  A draw is
determined by (task, seed, purpose): ``purpose`` separates the fixed evaluation set from
the training stream.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

EVAL_SIZE = 512  # instances in a task's fixed evaluation set
EVAL_SEED = 1234  # seed of the fixed evaluation sets


@dataclass(frozen=True)
class RoutingTask:
    name: str
    problem: str  # tsp | cvrp | op
    n: int  # customers / nodes (the depot not counted)
    capacity: int = 0  # CVRP vehicle capacity
    max_length: float = 0.0  # OP tour length cap

    @property
    def maximise(self) -> bool:
        """OP maximises the prize; TSP and CVRP minimise the tour length."""
        return self.problem == "op"

    @property
    def row_size(self) -> int:
        return 2 * self.n if self.problem == "tsp" else 2 + 3 * self.n


TASKS: dict[str, RoutingTask] = {
    "tsp20": RoutingTask("tsp20", "tsp", 20),
    "tsp50": RoutingTask("tsp50", "tsp", 50),
    "cvrp20": RoutingTask("cvrp20", "cvrp", 20, capacity=30),
    "cvrp50": RoutingTask("cvrp50", "cvrp", 50, capacity=40),
    "op20": RoutingTask("op20", "op", 20, max_length=2.0),
    "op50": RoutingTask("op50", "op", 50, max_length=3.0),
}


def get_task(name: str) -> RoutingTask:
    if name not in TASKS:
        raise KeyError(f"unknown routing task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


def task_type(name: str) -> str:
    """The task type of a routing task: ``routing_prize`` (OP, maximised) or
    ``routing_length`` (TSP, CVRP), which :mod:`mtlbench.metrics` reports."""
    return "routing_prize" if get_task(name).maximise else "routing_length"


def instance_rng(task: str, seed: int, purpose: str) -> np.random.Generator:
    """The generator of one (task, seed, purpose) stream (purpose: ``eval`` or ``train``)."""
    return np.random.default_rng([int(seed), zlib.crc32(task.encode()), zlib.crc32(purpose.encode())])


def op_prizes(depot: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Distance-based prizes (Kool et al. 2019, App. D): (1 + floor(99 d_0i / max_j d_0j)) / 100.
    depot (B, 2), xy (B, n, 2) -> (B, n) float32."""
    d = np.linalg.norm(xy.astype(np.float64) - depot[:, None, :].astype(np.float64), axis=-1)
    return ((1 + np.floor(d / d.max(axis=1, keepdims=True) * 99)) / 100).astype(np.float32)


def draw(task: str, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``size`` instances of ``task`` as arrays: ``xy`` (B, n, 2) and, for CVRP and OP,
    ``depot`` (B, 2); CVRP ``demand`` (B, n) integers 1-9; OP ``prize`` (B, n)."""
    spec = get_task(task)
    if spec.problem == "tsp":
        return {"xy": rng.random((size, spec.n, 2)).astype(np.float32)}
    depot = rng.random((size, 2)).astype(np.float32)
    xy = rng.random((size, spec.n, 2)).astype(np.float32)
    if spec.problem == "cvrp":
        return {"depot": depot, "xy": xy, "demand": rng.integers(1, 10, (size, spec.n)).astype(np.float32)}
    return {"depot": depot, "xy": xy, "prize": op_prizes(depot, xy)}


def generate(task: str, size: int, seed: int, purpose: str = "train") -> dict[str, np.ndarray]:
    """``size`` instances of ``task``, determined by (task, seed, purpose)."""
    return draw(task, size, instance_rng(task, seed, purpose))


def eval_set(task: str, size: int = EVAL_SIZE, seed: int = EVAL_SEED) -> dict[str, np.ndarray]:
    """The fixed evaluation set of ``task`` (the same for every method and seed)."""
    return generate(task, size, seed, "eval")


def rows(task: str, inst: dict[str, np.ndarray]) -> np.ndarray:
    """Instances as arrays -> one float32 row each (the layout of the module docstring)."""
    spec = get_task(task)
    b = len(inst["xy"])
    flat = inst["xy"].reshape(b, -1)
    if spec.problem == "tsp":
        return flat.astype(np.float32)
    extra = inst["demand"] if spec.problem == "cvrp" else inst["prize"]
    return np.concatenate([inst["depot"], flat, extra], axis=1).astype(np.float32)


def arrays(task: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """Rows -> instances as arrays (the inverse of :func:`rows`)."""
    spec = get_task(task)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != spec.row_size:
        raise ValueError(f"{task}: expected rows of {spec.row_size} values, got shape {x.shape}")
    n = spec.n
    if spec.problem == "tsp":
        return {"xy": x.reshape(len(x), n, 2)}
    out = {"depot": x[:, :2], "xy": x[:, 2:2 + 2 * n].reshape(len(x), n, 2)}
    out["demand" if spec.problem == "cvrp" else "prize"] = x[:, 2 + 2 * n:]
    return out

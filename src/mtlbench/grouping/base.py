"""What every grouping solver shares: the gain convention, the constraints, the result.

Gain convention (used by every module of :mod:`mtlbench.grouping` and
:mod:`mtlbench.similarity`): ``gain`` is a (T, T) float array with ``gain[i, t]`` the
gain *of task t from task i* (row = source, column = target), e.g. the accuracy of t
trained together with i minus the accuracy of t trained alone.  The diagonal is
ignored.  The value of a partition into groups G_1..G_K is the total gain of every
task from its group-mates::

    F(G) = Σ_k Σ_{t ∈ G_k} Σ_{i ∈ G_k, i ≠ t} gain[i, t]                         (1)

Constraints (all optional except the budget):

- ``budget``: at most B groups (B networks are trained);
- ``max_group_size``: at most S tasks per group;
- ``task_cost`` (T,) with ``max_group_cost``: Σ_{t ∈ G_k} c_t ≤ C for every group
  (e.g. training time grows with the number of samples a network sees);
- ``network_cost`` with ``total_cost``: Σ_k (network_cost + Σ_{t ∈ G_k} c_t) ≤ total_cost;
  in a partition Σ_k Σ_t c_t is the constant Σ_t c_t, so this bounds the number of
  networks through ``network_cost``; with overlapping groups (TAG) it bounds the
  total work;
- ``must_link`` / ``cannot_link``: pairs (i, j) of task indices that must / must not
  share a group.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import ConfigError, MtlbenchError
from ..io import write_json


class InfeasibleError(MtlbenchError):
    """No grouping satisfies the constraints; the message names the conflicting ones."""


@dataclass(frozen=True)
class GroupingConstraints:
    budget: int
    max_group_size: int | None = None
    task_cost: tuple[float, ...] | None = None  # (T,) compute cost of each task
    max_group_cost: float | None = None
    network_cost: float = 0.0  # fixed cost of training one network
    total_cost: float | None = None
    must_link: tuple[tuple[int, int], ...] = ()
    cannot_link: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["must_link"] = [list(p) for p in self.must_link]
        d["cannot_link"] = [list(p) for p in self.cannot_link]
        d["task_cost"] = list(self.task_cost) if self.task_cost is not None else None
        return d


def make_constraints(n_tasks: int, budget: int, max_group_size=None, task_cost=None,
                     max_group_cost=None, network_cost=0.0, total_cost=None,
                     must_link=(), cannot_link=()) -> GroupingConstraints:
    """Check the constraint arguments (ConfigError naming the argument) and bundle them."""
    if int(budget) != budget or budget < 1:
        raise ConfigError(f"budget: must be an integer >= 1, got {budget!r}")
    if max_group_size is not None and (int(max_group_size) != max_group_size or max_group_size < 1):
        raise ConfigError(f"max_group_size: must be an integer >= 1 or None, got {max_group_size!r}")
    if task_cost is not None:
        task_cost = tuple(float(c) for c in np.asarray(task_cost, dtype=float).reshape(-1))
        if len(task_cost) != n_tasks:
            raise ConfigError(f"task_cost: needs one cost per task ({n_tasks}), got {len(task_cost)}")
        if min(task_cost) < 0:
            raise ConfigError("task_cost: costs must be >= 0")
    if max_group_cost is not None and task_cost is None:
        raise ConfigError("max_group_cost: needs task_cost (the cost of each task)")
    if network_cost < 0:
        raise ConfigError(f"network_cost: must be >= 0, got {network_cost}")

    def pairs(name, values):
        out = []
        for p in values:
            p = tuple(int(v) for v in p)
            if len(p) != 2 or p[0] == p[1] or not all(0 <= v < n_tasks for v in p):
                raise ConfigError(f"{name}: each entry must be a pair of two different task indices in "
                                  f"[0, {n_tasks}), got {p}")
            out.append((min(p), max(p)))
        return tuple(sorted(set(out)))

    return GroupingConstraints(
        budget=int(budget), max_group_size=None if max_group_size is None else int(max_group_size),
        task_cost=task_cost, max_group_cost=None if max_group_cost is None else float(max_group_cost),
        network_cost=float(network_cost), total_cost=None if total_cost is None else float(total_cost),
        must_link=pairs("must_link", must_link), cannot_link=pairs("cannot_link", cannot_link))


def check_gain(gain) -> np.ndarray:
    g = np.asarray(gain, dtype=float)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ConfigError(f"gain: must be a square (T, T) matrix, got shape {g.shape}")
    if not np.isfinite(g[~np.eye(len(g), dtype=bool)]).all():
        raise ConfigError("gain: off-diagonal entries must be finite")
    g = g.copy()
    np.fill_diagonal(g, 0.0)
    return g


def group_cost(group, c: GroupingConstraints) -> float:
    return c.network_cost + (sum(c.task_cost[t] for t in group) if c.task_cost is not None else 0.0)


def partition_value(gain: np.ndarray, groups) -> float:
    """Eq. (1): Σ over groups of the gain of every member from every other member."""
    g = np.asarray(gain, dtype=float)
    total = 0.0
    for grp in groups:
        idx = np.asarray(sorted(grp), dtype=int)
        if len(idx) > 1:
            sub = g[np.ix_(idx, idx)]
            total += float(sub.sum() - np.trace(sub))
    return total


def violated_constraints(groups, c: GroupingConstraints) -> list[str]:
    """Names of the constraints a partition (list of lists of task indices) breaks."""
    bad = []
    where = {t: k for k, grp in enumerate(groups) for t in grp}
    if len(groups) > c.budget:
        bad.append("budget")
    if c.max_group_size is not None and any(len(g) > c.max_group_size for g in groups):
        bad.append("max_group_size")
    if c.max_group_cost is not None and any(group_cost(g, c) - c.network_cost > c.max_group_cost + 1e-9 for g in groups):
        bad.append("max_group_cost")
    if c.total_cost is not None and sum(group_cost(g, c) for g in groups) > c.total_cost + 1e-9:
        bad.append("total_cost")
    if any(where[i] != where[j] for i, j in c.must_link):
        bad.append("must_link")
    if any(where[i] == where[j] for i, j in c.cannot_link):
        bad.append("cannot_link")
    return bad


@dataclass
class GroupingResult:
    """A grouping and how it was found.

    ``groups``: lists of task indices (sorted, groups ordered by their first task).
    ``served_by``: for each task the index of the group whose network serves it
    (a partition: the group containing it; overlapping groups: its best group).
    ``status``: optimal | feasible | heuristic (no optimality claim).
    """

    solver: str
    groups: list[list[int]]
    objective: float  # Eq. (1) in the units of the gain matrix (or the solver's own score)
    status: str
    bound: float | None = None  # best proven upper bound on the objective
    wall_time_s: float = 0.0
    constraints: dict = field(default_factory=dict)
    served_by: list[int] | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self, tasks: list[str] | None = None) -> dict:
        names = (lambda grp: [tasks[t] for t in grp]) if tasks else (lambda grp: list(grp))
        return {
            "solver": self.solver,
            "groups": [names(g) for g in self.groups],
            "group_indices": [list(g) for g in self.groups],
            "served_by": self.served_by,
            "objective": self.objective,
            "bound": self.bound,
            "status": self.status,
            "wall_time_s": self.wall_time_s,
            "constraints": self.constraints,
            "task_order": list(tasks) if tasks else None,
            "extra": self.extra,
        }


def canonical_groups(groups) -> list[list[int]]:
    out = [sorted(int(t) for t in g) for g in groups if len(g)]
    return sorted(out, key=lambda g: g[0])


def partition_result(solver, gain, groups, status, constraints: GroupingConstraints, **kw) -> GroupingResult:
    groups = canonical_groups(groups)
    served = [0] * sum(len(g) for g in groups)
    for k, grp in enumerate(groups):
        for t in grp:
            served[t] = k
    return GroupingResult(solver=solver, groups=groups, objective=partition_value(gain, groups),
                          status=status, constraints=constraints.to_dict(), served_by=served, **kw)


def write_grouping(path, result: GroupingResult, tasks: list[str], inputs: dict | None = None) -> dict:
    """The grouping file contract (DESIGN.md): groups, objective, status, time, constraints."""
    record = result.to_json(tasks)
    record["inputs"] = inputs or {}
    write_json(path, record)
    return record


def all_pairs(n: int):
    return itertools.combinations(range(n), 2)

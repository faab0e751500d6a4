"""The solver registry: every grouping program and baseline behind one call.

:data:`SOLVERS` maps a solver's name (``grouping.solvers`` in params.yaml, ``mtlbench
grouping --solver``) to a :class:`Solver`; :func:`solve` runs one on the measured gains
and returns its :class:`~mtlbench.grouping.base.GroupingResult`, scored under the gains.
The solvers' modules (OR-tools, scikit-learn) are imported on first use, so
:mod:`mtlbench.grouping.params` checks names against this registry cheaply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError


@dataclass
class SolveInputs:
    """What a solver may use besides the gain matrix and the budget.

    ``constraints``: the keyword arguments of :func:`mtlbench.grouping.base.make_constraints`
    (max_group_size, task_cost, max_group_cost, network_cost, total_cost, must_link,
    cannot_link; links as task-index pairs).  ``overlap_max_group_size``: the candidate
    group size of the overlapping programs (mip_overlap, mip_normalized, tag, hoa;
    default ``max_group_size``).  ``similarity``: the matrix tag / hoa / cluster select
    from, with its similarity record (orientation, estimator)."""

    tasks: list[str]
    constraints: dict[str, Any] = field(default_factory=dict)
    overlap_max_group_size: int | None = None
    time_limit_s: float = 60.0
    seed: int = 0
    similarity: np.ndarray | None = None
    similarity_record: dict = field(default_factory=dict)
    cluster_method: str = "spectral"

    @property
    def overlap_size(self) -> int | None:
        return self.overlap_max_group_size or self.constraints.get("max_group_size")

    def overlap_constraints(self) -> dict[str, Any]:
        return {**self.constraints, "max_group_size": self.overlap_size}


@dataclass(frozen=True)
class Solver:
    """``run(gain, budget, inputs)``; ``needs_similarity``: it selects from another matrix.

    What the workflow plans from it (:func:`mtlbench.grouping.params.grouping_runs`):
    ``selects_on``, the similarity label it reads (``tag_affinity``, ``transfer_gain``);
    ``per_seed``, one grouping per ``grouping.random_seeds``; ``per_similarity``, one
    grouping per ``grouping.cluster_on`` label (and none otherwise)."""

    run: Callable[[np.ndarray, int, SolveInputs], Any]
    needs_similarity: bool = False
    selects_on: str | None = None
    per_seed: bool = False
    per_similarity: bool = False


def _mip(gain, budget, x: SolveInputs):
    from .mip import partition_tasks

    return partition_tasks(gain, budget, **x.constraints, time_limit_s=x.time_limit_s, seed=x.seed, tasks=x.tasks)


def _mip_overlap(gain, budget, x: SolveInputs):
    from .mip import choose_groups

    return choose_groups(gain, budget, **x.overlap_constraints(), time_limit_s=x.time_limit_s, seed=x.seed,
                         tasks=x.tasks)


def _normalized(partition: bool, name: str):
    def run(gain, budget, x: SolveInputs):
        # the grouping paper's program on the similarity (its S; default: the gains), exactly B groups
        from .baselines import rescore
        from .normalized import normalized_grouping

        S = x.similarity if x.similarity is not None else gain
        res = rescore(normalized_grouping(S, budget, partition=partition, **x.overlap_constraints(),
                                           time_limit_s=x.time_limit_s, seed=x.seed, tasks=x.tasks), gain)
        res.solver = name
        return res

    return run


def _exhaustive(gain, budget, x: SolveInputs):
    from .exhaustive import exhaustive_partition

    return exhaustive_partition(gain, budget, **x.constraints, tasks=x.tasks)


def _all_in_one(gain, budget, x: SolveInputs):
    from .baselines import all_in_one

    return all_in_one(len(x.tasks), gain)


def _each_alone(gain, budget, x: SolveInputs):
    from .baselines import each_alone

    return each_alone(len(x.tasks), gain)


def _tag(gain, budget, x: SolveInputs):
    from .baselines import tag_grouping

    return tag_grouping(x.similarity, budget, x.overlap_size, x.time_limit_s, x.seed, x.tasks, gain)


def _hoa(gain, budget, x: SolveInputs):
    from .baselines import hoa_grouping

    return hoa_grouping(x.similarity, budget, x.overlap_size, x.time_limit_s, x.seed, x.tasks, gain)


def _cluster(gain, budget, x: SolveInputs):
    from .baselines import cluster_grouping

    rec = x.similarity_record
    return cluster_grouping(x.similarity, budget, rec["orientation"], x.cluster_method, x.seed, gain,
                            name=f"cluster_{x.cluster_method}_{rec['estimator']}")


def _random(gain, budget, x: SolveInputs):
    from .baselines import random_grouping

    return random_grouping(len(x.tasks), budget, x.seed, gain)


SOLVERS: dict[str, Solver] = {
    "mip": Solver(_mip),
    "mip_overlap": Solver(_mip_overlap),
    "mip_normalized": Solver(_normalized(False, "mip_normalized")),
    "mip_normalized_partition": Solver(_normalized(True, "mip_normalized_partition")),
    "exhaustive": Solver(_exhaustive),
    "all_in_one": Solver(_all_in_one),
    "each_alone": Solver(_each_alone),
    # TAG selects on its own lookahead affinities; HOA approximates a group's value from
    # the measured pairwise gains
    "tag": Solver(_tag, needs_similarity=True, selects_on="tag_affinity"),
    "hoa": Solver(_hoa, needs_similarity=True, selects_on="transfer_gain"),
    "cluster": Solver(_cluster, needs_similarity=True, per_similarity=True),
    "random": Solver(_random, per_seed=True),
}


def solve(solver: str, gain, budget: int, inputs: SolveInputs):
    """Solver ``solver`` on ``gain`` (T x T, source row onto target column) with at most
    ``budget`` groups; a ConfigError names the allowed solvers or the missing input."""
    if solver not in SOLVERS:
        raise ConfigError(f"solver: must be one of {', '.join(SOLVERS)}; got {solver!r}")
    entry = SOLVERS[solver]
    if entry.needs_similarity and inputs.similarity is None:
        raise ConfigError(f"grouping {solver}: needs --similarity (the estimator's matrix)")
    return entry.run(gain, budget, inputs)

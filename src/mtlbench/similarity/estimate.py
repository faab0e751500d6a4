"""The estimator registry: every task-similarity estimator, its settings and its inputs.

:data:`ESTIMATORS` maps the name of ``similarity.estimators.<label>.estimator`` to an
:class:`Estimator`; :func:`estimate` runs one and returns its T x T matrix with the
inputs it read.  :mod:`mtlbench.similarity.params` checks the settings against the same
registry, and ``mtlbench similarity`` only parses arguments and writes the file.

The estimators' modules are imported on first use, so checking a params file (or a job
that needs one estimator) does not pay for importing POT, scikit-learn or torch.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import build_dataclass
from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class Estimator:
    """One estimator: what it reads and how it is computed.

    ``inputs``: ``samples`` (per task (x, y) of the split's training part), ``problem``
    (the :class:`~mtlbench.methods.base.Problem` of the split, a network is trained on it),
    ``runs`` (run JSONs holding a learned relation) or ``routing`` (the task names of a
    routing dataset: the estimator trains routing_bmtl on generated instances; only these
    apply to a routing dataset, and only the others to the rest).  ``stands_for``: the
    estimator whose role it takes on a routing dataset, for the solvers that select on that
    one (:func:`mtlbench.grouping.params.grouping_runs`).  ``settings``: the keys it takes,
    or ``hparams`` (``"module:Class"``, a dataclass whose fields are the keys).
    ``uses_gpu``: it trains a network (the rule claims a GPU).  ``orientation``: how its
    matrix reads, ``similarity`` (larger = more related) or ``distance``; written into
    the similarity file, read by the correlation and clustering steps.
    """

    inputs: str
    compute: Callable[..., np.ndarray]
    settings: tuple[str, ...] = ()
    hparams: str | None = None
    uses_gpu: bool = False
    orientation: str = "similarity"
    stands_for: str | None = None

    def hparams_class(self) -> type | None:
        if self.hparams is None:
            return None
        module, name = self.hparams.split(":")
        return getattr(importlib.import_module(module, __package__), name)

    def check_settings(self, values: dict[str, Any], where: str) -> dict[str, Any]:
        """``values`` checked (unknown keys by name) and, for an hparams estimator, resolved."""
        from ..checks import unknown_key_error

        cls = self.hparams_class()
        if cls is not None:
            hp = build_dataclass(cls, values, where)
            if hasattr(hp, "check"):
                hp.check(where)
            return dataclasses.asdict(hp)
        for key in values:
            if key not in self.settings:
                raise unknown_key_error(where, key, self.settings)
        return dict(values)


def _wasserstein(samples, settings: dict, seed: int, device: str) -> np.ndarray:
    from .wasserstein import wasserstein_matrix

    return wasserstein_matrix(samples, seed=seed, **settings)


def _h_divergence(samples, settings: dict, seed: int, device: str) -> np.ndarray:
    from .h_divergence import a_distance_matrix

    return a_distance_matrix([x for x, _ in samples], seed=seed, **settings)


def _tag_affinity(problem, hp, seed: int, device: str) -> np.ndarray:
    from .tag_affinity import tag_affinity

    return tag_affinity(problem, hp, seed=seed, device=device)


def _lookahead_pair(problem, hp, seed: int, device: str) -> np.ndarray:
    # the grouping paper's transfer gains (lookahead optimiser steps)
    from .lookahead_pair import lookahead_pair

    return lookahead_pair(problem, hp, seed=seed, device=device)


def _routing_lookahead(mode: str):
    # on routing tasks: the score after one lookahead step (mtlbench.similarity.routing_lookahead)
    def compute(tasks, hp, seed: int, device: str) -> np.ndarray:
        from .routing_lookahead import routing_lookahead

        return routing_lookahead(tasks, hp, mode, seed=seed, device=device)

    return compute


def _learned(runs: Sequence[str], settings: dict, tasks: list[str]) -> np.ndarray:
    from .io import learned_relations

    return learned_relations(runs, settings["relation"], tasks)


ESTIMATORS: dict[str, Estimator] = {
    "wasserstein": Estimator("samples", _wasserstein,
                             settings=("method", "n_samples", "eps", "n_projections", "label_weight", "relative"),
                             orientation="distance"),
    "h_divergence": Estimator("samples", _h_divergence, settings=("n_samples", "test_fraction", "C", "clip"),
                              orientation="distance"),
    "tag_affinity": Estimator("problem", _tag_affinity, hparams=".tag_affinity:TagAffinityHparams", uses_gpu=True),
    "lookahead_pair": Estimator("problem", _lookahead_pair, hparams=".lookahead_pair:LookaheadPairHparams",
                                uses_gpu=True),
    "learned": Estimator("runs", _learned, settings=("method", "relation")),
    "routing_lookahead_pair": Estimator("routing", _routing_lookahead("pair"),
                                        hparams=".routing_lookahead:RoutingLookaheadHparams", uses_gpu=True,
                                        stands_for="lookahead_pair"),
    "routing_tag_affinity": Estimator("routing", _routing_lookahead("tag"),
                                      hparams=".routing_lookahead:RoutingLookaheadHparams", uses_gpu=True,
                                      stands_for="tag_affinity"),
}


def get_estimator(name: str) -> Estimator:
    from ..checks import unknown_key_error

    if name not in ESTIMATORS:
        raise unknown_key_error("estimator", name, ESTIMATORS)
    return ESTIMATORS[name]


def task_samples(features: str | Path, split: str | Path | None, tasks: list[str]) -> list[tuple]:
    """Per task (x, y): the training part of ``split`` (:func:`mtlbench.train.build_problem`,
    the join every method trains on), or every sample of the table without a split."""
    if split:
        problem = _problem(features, split, tasks)
        return [(problem.data[t].x_train, problem.data[t].y_train) for t in tasks]
    from ..features.table import read_features

    ft = read_features(features)
    out = []
    for t in tasks:
        sel = ft.task == t
        if not sel.any():
            raise DataError(f"{features}: task {t!r} has no samples")
        out.append((ft.feature[sel], ft.label[sel]))
    return out


def _problem(features, split, tasks):
    from ..train import build_problem

    return build_problem(features, split, tasks)[0]


def estimate(name: str, settings: dict[str, Any], *, tasks: list[str], features: str | Path | None = None,
             split: str | Path | None = None, runs: Sequence[str] | None = None, seed: int = 0,
             device: str = "cpu", where: str | None = None) -> tuple[np.ndarray, dict]:
    """Run estimator ``name`` with ``settings``; returns its T x T matrix (rows and columns
    in ``tasks`` order) and the inputs it read, for the similarity file."""
    est = get_estimator(name)
    where = where or f"similarity.{name}"
    inputs: dict[str, Any] = {}
    if est.inputs == "routing":
        hp = build_dataclass(est.hparams_class(), settings, where)
        hp.check(where)
        matrix = est.compute(list(tasks), hp, seed, device)
    elif est.inputs == "runs":
        if not runs or "relation" not in settings:
            raise ConfigError(f"similarity {name}: needs --runs and settings.relation (e.g. alpha)")
        matrix = est.compute(list(runs), settings, tasks)
        inputs["runs"] = list(runs)
    elif features is None:
        raise ConfigError(f"similarity {name}: needs --features (and --split)")
    elif est.inputs == "problem":
        hp = build_dataclass(est.hparams_class(), settings, where)
        matrix = est.compute(_problem(features, split, tasks), hp, seed, device)
    else:
        matrix = est.compute(task_samples(features, split, tasks), settings, seed, device)
    return matrix, inputs

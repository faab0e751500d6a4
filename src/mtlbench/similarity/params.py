"""Typed check of the ``similarity`` section of params.yaml.

Called by :func:`mtlbench.config.validate_params`; each bad value fails with a
:class:`ConfigError` naming the key and the allowed values.  The estimators and their
settings come from the registry, :data:`mtlbench.similarity.estimate.ESTIMATORS`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..checks import build_dataclass, require_mapping, unknown_key_error
from ..errors import ConfigError
from .estimate import ESTIMATORS


def validate_similarity(section: Any, datasets: dict) -> dict:
    from ..methods.bmtl import BMTLHparams

    section = dict(require_mapping(section, "similarity"))
    allowed = ("datasets", "ratio", "estimators", "transfer_gain", "routing_transfer_gain", "gains", "task_set_chunks")
    for key in section:
        if key not in allowed:
            raise unknown_key_error("similarity", key, allowed)
    trainable = [d for d, spec in datasets.items() if spec.get("kind") != "subset_scores"]
    names = section.get("datasets", trainable)
    for d in names:
        if d not in trainable:
            why = " (a subset_scores table is grouped as it is, with no training)" if d in datasets else ""
            raise ConfigError(f"similarity.datasets: {d!r} is not a trainable dataset{why}; allowed: "
                              f"{', '.join(trainable)}")
    ratio = section.get("ratio", 0.1)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise ConfigError(f"similarity.ratio: {ratio!r} is not a fraction in (0, 1]")
    for d in names:
        # a dataset with its own train_ratios (a time series: 1 = the whole training part)
        # has split files for those ratios only
        own = datasets[d].get("train_ratios")
        if (own is not None and float(ratio) not in own) or (own is None and ratio == 1):
            allowed = own if own is not None else "a fraction in (0, 1)"
            raise ConfigError(f"similarity.ratio: {ratio!r} is not a train ratio of dataset {d!r}; allowed: {allowed}")
    estimators = {}
    for label, values in require_mapping(section.get("estimators"), "similarity.estimators").items():
        values = dict(require_mapping(values, f"similarity.estimators.{label}"))
        kind = values.pop("estimator", label)
        if kind not in ESTIMATORS:
            raise unknown_key_error(f"similarity.estimators.{label}.estimator", kind, ESTIMATORS)
        where = f"similarity.estimators.{label}"
        values = ESTIMATORS[kind].check_settings(values, where)
        if kind == "wasserstein" and values.get("method", "exact") not in ("exact", "sinkhorn", "sliced"):
            raise ConfigError(f"{where}.method: {values['method']!r}; allowed: exact, sinkhorn, sliced")
        if kind == "learned" and "relation" not in values:
            raise ConfigError(f"{where}.relation: required (the relation's name in the run JSONs)")
        estimators[label] = {"estimator": kind, "settings": values, "uses_gpu": ESTIMATORS[kind].uses_gpu,
                             "inputs": ESTIMATORS[kind].inputs}
    chunks = section.get("task_set_chunks", 4)
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
        raise ConfigError(f"similarity.task_set_chunks: {chunks!r} is not a positive integer (jobs per dataset "
                          "that train its task sets)")
    gain_hp = build_dataclass(BMTLHparams, section.get("transfer_gain"), "similarity.transfer_gain")
    from ..methods.routing_bmtl import RoutingBMTLHparams

    # a routing dataset's task sets are trained by routing_bmtl (mtlbench.similarity.routing_task_set)
    routing_hp = build_dataclass(RoutingBMTLHparams, section.get("routing_transfer_gain"),
                                 "similarity.routing_transfer_gain")
    routing_hp.check("similarity.routing_transfer_gain")
    gains = _gains(section.get("gains"), names, trainable, estimators)
    of = estimators_of(names, datasets, estimators)
    for d in names:
        if gains[d] not in ("transfer_gain", *of[d]):
            raise ConfigError(f"similarity.gains.{d}: {gains[d]!r} does not apply to dataset {d!r} "
                              f"(its estimators: {', '.join(of[d]) or 'none'}); allowed: transfer_gain")
    return {"datasets": list(names), "ratio": float(ratio), "estimators": estimators,
            "transfer_gain": dataclasses.asdict(gain_hp), "routing_transfer_gain": dataclasses.asdict(routing_hp),
            "gains": gains, "estimators_of": of, "task_set_chunks": chunks}


def estimators_of(names: list[str], datasets: dict, estimators: dict) -> dict[str, list[str]]:
    """dataset -> the estimator labels that apply to it: on a routing dataset (generated
    instances, no features table or split) the routing estimators (``inputs: routing``:
    lookaheads of the routing model), on any other dataset every other estimator."""
    def routing(label):
        return ESTIMATORS[estimators[label]["estimator"]].inputs == "routing"

    return {d: [lb for lb in estimators if routing(lb) == (datasets[d].get("kind") == "routing")] for d in names}


def _gains(given: Any, names: list[str], trainable: list[str], estimators: dict) -> dict[str, str]:
    """``similarity.gains``: dataset -> the similarity label whose matrix is its gains for the
    grouping stage; ``transfer_gain`` (the default) is the measured gains, trained on every
    task alone and every pair.  An estimator label instead (TAG affinities, the lookahead
    gains) is for many tasks, where the T(T-1)/2 pair trainings are out of reach (65 Exam
    schools: 1,953 pairs); then there is no correlation table and no pair training.  An entry
    of a dataset outside ``similarity.datasets`` is kept for when it is grouped (an override
    file may switch the grouping off)."""
    given = dict(require_mapping(given, "similarity.gains"))
    for d, label in given.items():
        if d not in trainable:
            raise ConfigError(f"similarity.gains: {d!r} is not a trainable dataset; allowed: {', '.join(trainable)}")
        if d not in names:
            continue
        allowed = ["transfer_gain"] + [lb for lb, e in estimators.items()
                                       if ESTIMATORS[e["estimator"]].orientation == "similarity"]
        if label not in allowed:
            raise ConfigError(f"similarity.gains.{d}: {label!r} is not a gain matrix (the measured transfer_gain or "
                              f"a similarity-oriented estimator label); allowed: {', '.join(allowed)}")
    return {d: given.get(d, "transfer_gain") for d in names}

"""Typed checks of the ``similarity`` and ``grouping`` sections of params.yaml.

Called by :func:`mtlbench.config.validate_params`; each bad value fails with a
:class:`ConfigError` naming the key and the allowed values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..config import require_mapping
from ..errors import ConfigError

ESTIMATOR_SETTINGS = {
    "wasserstein": ("method", "n_samples", "eps", "n_projections", "label_weight", "relative"),
    "h_divergence": ("n_samples", "test_fraction", "C", "clip"),
    "tag_affinity": None,  # TagAffinityHparams fields
    "lookahead_pair": None,  # LookaheadPairHparams fields
    "learned": ("method", "relation"),
}
SOLVERS = ("mip", "mip_overlap", "mip_normalized", "mip_normalized_partition", "exhaustive", "all_in_one", "each_alone", "tag", "hoa", "cluster", "random")
GROUPING_DEFAULTS = {
    "budgets": [2, 3, 4], "max_group_size": None, "overlap_max_group_size": None, "task_cost": None, "max_group_cost": None,
    "network_cost": 0.0, "total_cost": None, "must_link": [], "cannot_link": [], "time_limit_s": 60.0,
    "solvers": ["mip", "mip_overlap", "mip_normalized", "all_in_one", "each_alone", "tag", "hoa", "random"],
    "exhaustive_max_tasks": 12, "cluster_on": [], "cluster_method": "spectral", "random_seeds": [0, 1, 2],
    "oracle_max_tasks": 6,
    # subset_scores tables (published measured subsets): the solvers of mtlbench.grouping.table
    "table_solvers": ["oracle", "hoa", "mip", "mip_normalized", "each_alone", "all_in_one", "random"],
    "table_random_draws": 100,
}


def validate_similarity(section: Any, datasets: dict) -> dict:
    from ..config import build_dataclass, unknown_key_error
    from ..methods.bmtl import BMTLHparams
    from ..similarity.lookahead_pair import LookaheadPairHparams
    from ..similarity.tag_affinity import TagAffinityHparams

    section = dict(require_mapping(section, "similarity"))
    allowed = ("datasets", "ratio", "estimators", "transfer_gain")
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
        if kind not in ESTIMATOR_SETTINGS:
            raise unknown_key_error(f"similarity.estimators.{label}.estimator", kind, ESTIMATOR_SETTINGS)
        where = f"similarity.estimators.{label}"
        if kind in ("tag_affinity", "lookahead_pair"):
            cls = TagAffinityHparams if kind == "tag_affinity" else LookaheadPairHparams
            values = dataclasses.asdict(build_dataclass(cls, values, where))
        else:
            for key in values:
                if key not in ESTIMATOR_SETTINGS[kind]:
                    raise unknown_key_error(where, key, ESTIMATOR_SETTINGS[kind])
        if kind == "wasserstein" and values.get("method", "exact") not in ("exact", "sinkhorn", "sliced"):
            raise ConfigError(f"{where}.method: {values['method']!r}; allowed: exact, sinkhorn, sliced")
        if kind == "learned" and "relation" not in values:
            raise ConfigError(f"{where}.relation: required (the relation's name in the run JSONs)")
        estimators[label] = {"estimator": kind, "settings": values}
    gain_hp = build_dataclass(BMTLHparams, section.get("transfer_gain"), "similarity.transfer_gain")
    return {"datasets": list(names), "ratio": float(ratio), "estimators": estimators,
            "transfer_gain": dataclasses.asdict(gain_hp)}


def validate_grouping(section: Any, datasets: dict, estimators: dict) -> dict:
    from ..config import unknown_key_error

    section = dict(require_mapping(section, "grouping"))
    for key in section:
        if key not in GROUPING_DEFAULTS:
            raise unknown_key_error("grouping", key, GROUPING_DEFAULTS)
    out = {**GROUPING_DEFAULTS, **section}
    budgets = out["budgets"]
    if not isinstance(budgets, list) or not budgets or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in budgets):
        raise ConfigError(f"grouping.budgets: expected a non-empty list of integers >= 1, got {budgets!r}")
    for s in out["solvers"]:
        if s not in SOLVERS:
            raise unknown_key_error("grouping.solvers", s, SOLVERS)
    for label in out["cluster_on"]:
        if label not in estimators and label != "transfer_gain":
            raise ConfigError(f"grouping.cluster_on: {label!r} is not a similarity estimator; "
                              f"allowed: {', '.join([*estimators, 'transfer_gain'])}")
    if out["cluster_method"] not in ("spectral", "agglomerative"):
        raise ConfigError(f"grouping.cluster_method: {out['cluster_method']!r}; allowed: spectral, agglomerative")
    if out["max_group_size"] is not None and (not isinstance(out["max_group_size"], int) or out["max_group_size"] < 1):
        raise ConfigError(f"grouping.max_group_size: must be an integer >= 1 or null, got {out['max_group_size']!r}")
    if out["overlap_max_group_size"] is not None and (not isinstance(out["overlap_max_group_size"], int)
                                                      or out["overlap_max_group_size"] < 1):
        raise ConfigError("grouping.overlap_max_group_size: must be an integer >= 1 or null, "
                          f"got {out['overlap_max_group_size']!r}")
    if not isinstance(out["time_limit_s"], (int, float)) or out["time_limit_s"] <= 0:
        raise ConfigError(f"grouping.time_limit_s: must be > 0, got {out['time_limit_s']!r}")
    all_tasks = {t for d in datasets.values() for t in d["tasks"]}
    for key in ("must_link", "cannot_link"):
        for pair in out[key]:
            names = str(pair).split(",")
            if len(names) != 2 or any(n not in all_tasks for n in names):
                raise ConfigError(f"grouping.{key}: {pair!r} must be 'taskA,taskB' with tasks of the datasets")
    from .table import TABLE_SOLVERS

    for s in out["table_solvers"]:
        if s not in TABLE_SOLVERS:
            raise unknown_key_error("grouping.table_solvers", s, TABLE_SOLVERS)
    draws = out["table_random_draws"]
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ConfigError(f"grouping.table_random_draws: must be an integer >= 1, got {draws!r}")
    out["time_limit_s"] = float(out["time_limit_s"])
    return out

"""Typed check of the ``grouping`` section of params.yaml.

Called by :func:`mtlbench.config.validate_params`; each bad value fails with a
:class:`ConfigError` naming the key and the allowed values.
"""

from __future__ import annotations

from typing import Any

from ..checks import require_mapping, unknown_key_error
from ..errors import ConfigError
from ..similarity.estimate import ESTIMATORS
from .solve import SOLVERS

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


def validate_grouping(section: Any, datasets: dict, estimators: dict, gains: dict | None = None,
                      estimators_of: dict | None = None) -> dict:
    """The checked section, with ``runs``: each dataset's grouping files (:func:`grouping_runs`;
    ``gains``: dataset -> the label of its gain matrix, ``similarity.gains``; ``estimators_of``:
    dataset -> the estimator labels that apply to it, default all)."""
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
    # the grouping files each dataset plans (the rules read them: no rule names a solver)
    of = estimators_of or {}
    out["runs"] = {d: grouping_runs(out, estimators, len(spec["tasks"]), (gains or {}).get(d, "transfer_gain"),
                                    available=of.get(d))
                   for d, spec in datasets.items()}
    return out


def grouping_runs(grouping: dict, estimators: dict, n_tasks: int, gain: str = "transfer_gain",
                  available: list[str] | None = None) -> dict[str, dict]:
    """The grouping files of one dataset of ``n_tasks`` tasks, from the checked section:
    file name -> ``{solver, similarity, seed, options}``.

    ``similarity`` is the label of the similarity file the solver selects on (None: the
    gains only); ``options`` are solver settings passed as flags.  Planned from the
    solver registry (:class:`mtlbench.grouping.solve.Solver`): a ``per_seed`` solver gets
    one file per ``random_seeds`` (``random_s0``, ...), a ``per_similarity`` one a file per
    ``cluster_on`` label (``cluster_<label>``, whether or not it is listed in ``solvers``); ``mip_normalized_lookahead`` is the paper's
    program on the paper's estimator (the first ``lookahead_pair`` estimator), added beside
    ``mip_normalized``; ``exhaustive`` certifies ``mip`` up to ``exhaustive_max_tasks``.
    ``available``: the estimator labels that apply to the dataset (on a routing dataset the
    routing estimators; default: no restriction); a solver or ``cluster_on`` label selecting
    on another estimator is then left out, and so is the lookahead file, unless an available
    estimator stands for it (``Estimator.stands_for``: ``routing_tag_affinity`` for
    ``tag_affinity``, ``routing_lookahead_pair`` for ``lookahead_pair``).
    The rules read this (resolved into ``P``), so no rule names a solver.
    """
    runs: dict[str, dict] = {}

    def add(name, solver, similarity=None, seed=0, **options):
        runs[name] = {"solver": solver, "similarity": similarity, "seed": int(seed), "options": options}

    def known(label):  # a solver selecting on an estimator that does not apply here is left out
        return available is None or label in (None, gain, "transfer_gain", *available)

    if available is not None:
        estimators = {k: e for k, e in estimators.items() if k in available}

    def stand_in(label):  # on a routing dataset: the estimator that takes label's role (Estimator.stands_for)
        return next((k for k, e in estimators.items() if ESTIMATORS[e["estimator"]].stands_for == label), None)

    for name in grouping["solvers"]:
        entry = SOLVERS[name]
        if entry.per_seed:
            for seed in grouping["random_seeds"]:
                add(f"{name}_s{seed}", name, seed=seed)
        elif not entry.per_similarity and known(entry.selects_on):  # per_similarity: from cluster_on
            add(name, name, gain if entry.selects_on == "transfer_gain" else entry.selects_on)
        elif not entry.per_similarity and (label := stand_in(entry.selects_on)):
            add(name, name, label)
    for name, entry in SOLVERS.items():
        if entry.per_similarity:
            for label in grouping["cluster_on"]:
                if known(label):
                    add(f"{name}_{label}", name, label, cluster_method=grouping["cluster_method"])
    lookahead = next((label for label, e in estimators.items() if e["estimator"] == "lookahead_pair"),
                     stand_in("lookahead_pair"))
    if "mip_normalized" in runs and lookahead and lookahead != gain:  # (else mip_normalized is it)
        add("mip_normalized_lookahead", "mip_normalized", lookahead)
    if n_tasks <= grouping["exhaustive_max_tasks"] and "exhaustive" not in runs:
        add("exhaustive", "exhaustive")
    return runs

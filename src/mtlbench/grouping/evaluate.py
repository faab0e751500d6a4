"""Evaluate groupings by training them, and the oracle that trains every candidate subset.

A *task-set record* is what :func:`mtlbench.similarity.transfer_gain.task_set_scores`
returns for one set of tasks trained together (bMTL) over seeds: each task's test metric
per seed, accuracy for a classification task and MSE (standardised targets) for a
regression task (``{"tasks", "seeds", "metric": {task: name}, "accuracy" | "mse":
{task: [per seed]}}``).  A grouping (the grouping file, :meth:`GroupingResult.to_json`)
is scored by looking up the record of each of its groups: task t's score is its mean
metric in the network that serves it (``served_by``); the grouping reports the mean
accuracy over its classification tasks and the mean MSE over its regression tasks.

Scores are compared through the utility u(t | G) = acc(t | G), or −MSE(t | G) for a
regression task, so that larger is better for both.  The oracle (Standley et al. 2020
train every subset to find the best grouping) uses records of every subset of at most
``max_group_size`` tasks and finds, by dynamic programming over subsets, the partition
into at most B groups with the highest total utility:

    f_k(S) = max_{G ⊆ S, min(S) ∈ G} [u(G) + f_{k−1}(S ∖ G)],   f_k(∅) = 0         (1)

where u(G) = Σ_{t∈G} u(t | G): the highest total accuracy, or the lowest total MSE.
O(B·3^T): T ≤ 12 is practical.

Regret of a grouping = (1/T) Σ_t [u(t | oracle) − u(t | grouping)] (≥ 0 among
partitions into ≤ B groups): oracle mean accuracy − its mean accuracy for classification
tasks, its mean MSE − oracle mean MSE for regression tasks.  With both kinds of tasks the
regret adds accuracy points and MSE units (each task weighs 1/T); the table says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..io import atomic_path
from ..similarity.transfer_gain import record_metric, record_score, record_utility

MAX_ORACLE_TASKS = 12
METRIC_COLUMN = {"accuracy": "mean_accuracy", "mse": "mean_mse", "gap": "mean_gap"}  # gap: routing tasks


def records_by_set(records: list[dict]) -> dict[frozenset, dict]:
    return {frozenset(r["tasks"]): r for r in records}


def _serving_records(grouping: dict, records: dict[frozenset, dict]) -> dict[str, dict]:
    """Task -> the record of the group that serves it."""
    groups = grouping["groups"]
    order = grouping.get("task_order") or sorted({t for g in groups for t in g})
    served = grouping.get("served_by")
    out = {}
    for k, task in enumerate(order):
        g = groups[served[k]] if served is not None else next(g for g in groups if task in g)
        rec = records.get(frozenset(g))
        if rec is None:
            raise DataError(f"no task-set record for group {sorted(g)} (train it first)")
        out[task] = rec
    return out


def grouping_scores(grouping: dict, records: dict[frozenset, dict]) -> dict[str, float]:
    """Per-task mean metric of a grouping record (names in ``groups``, ``served_by``):
    accuracy for classification tasks, MSE for regression tasks."""
    return {t: record_score(rec, t) for t, rec in _serving_records(grouping, records).items()}


grouping_accuracy = grouping_scores  # the former name (classification: accuracies, unchanged)


def grouping_utilities(grouping: dict, records: dict[frozenset, dict]) -> dict[str, float]:
    """Per-task utility u (accuracy, or −MSE) of a grouping."""
    return {t: record_utility(rec, t) for t, rec in _serving_records(grouping, records).items()}


def oracle_partition(records: dict[frozenset, dict], tasks: list[str], budget: int) -> tuple[list[list[str]], float]:
    """Eq. (1): the best partition into ≤ budget groups among recorded subsets.

    Returns the groups (task names) and the mean utility over tasks: the mean accuracy when
    every task is a classification task, minus the mean MSE when every task is a regression
    task (:func:`evaluation_table` reports the metrics themselves).
    """
    n = len(tasks)
    if n > MAX_ORACLE_TASKS:
        raise ConfigError(f"oracle: T={n} exceeds {MAX_ORACLE_TASKS} tasks (3^T subsets)")
    pos = {t: k for k, t in enumerate(tasks)}
    value = {}
    for key, rec in records.items():
        if key and all(t in pos for t in key):
            mask = sum(1 << pos[t] for t in key)
            value[mask] = sum(record_utility(rec, t) for t in key)
    full = (1 << n) - 1
    neg = -float("inf")
    prev = {0: (0.0, ())}
    best = (neg, None)
    for _ in range(budget):
        cur = dict(prev)
        for mask in range(1, full + 1):
            low = mask & -mask
            rest_bits = mask ^ low
            sub = rest_bits
            cand = cur.get(mask, (neg, None))
            while True:  # groups G = low ∪ sub, sub ⊆ rest_bits
                g = low | sub
                if g in value and (mask ^ g) in prev:
                    v = value[g] + prev[mask ^ g][0]
                    if v > cand[0]:
                        cand = (v, prev[mask ^ g][1] + (g,))
                if sub == 0:
                    break
                sub = (sub - 1) & rest_bits
            if cand[1] is not None:
                cur[mask] = cand
        prev = cur
        if full in prev and prev[full][0] > best[0]:
            best = prev[full]
    if best[1] is None:
        raise DataError(f"oracle: the records cover no partition of {tasks} into <= {budget} groups")
    groups = [[tasks[k] for k in range(n) if g >> k & 1] for g in best[1]]
    return sorted(groups, key=lambda g: pos[g[0]]), best[0] / n


def _task_metrics(records: dict[frozenset, dict], tasks: list[str]) -> dict[str, str]:
    """Each task's metric, from any record that holds it."""
    out = {}
    for rec in records.values():
        for t in rec["tasks"]:
            if t in tasks and t not in out:
                out[t] = record_metric(rec, t)
    missing = [t for t in tasks if t not in out]
    if missing:
        raise DataError(f"no task-set record holds tasks {missing}")
    return out


def evaluation_table(groupings: dict[str, dict], records: dict[frozenset, dict], tasks: list[str],
                     oracle: tuple[list[list[str]], float] | None = None) -> pd.DataFrame:
    """One row per grouping: groups, number of networks, the metric(s) (``metric``: accuracy,
    mse, or accuracy+mse), ``mean_accuracy`` over the classification tasks and/or
    ``mean_mse`` over the regression tasks, and the regret vs the oracle (module docstring;
    ≥ 0, lower is better, in the metric's units)."""
    metric_of = _task_metrics(records, tasks)
    metrics = [m for m in METRIC_COLUMN if m in metric_of.values()]
    oracle_u = None
    if oracle:
        oracle_grouping = {"groups": oracle[0], "task_order": None}
        oracle_u = grouping_utilities(oracle_grouping, records)
    rows = []

    def row(name, grp, budget):
        scores = grouping_scores(grp, records)
        util = grouping_utilities(grp, records)
        out = {"grouping": name, "budget": budget, "networks": len(grp["groups"]),
               "groups": " | ".join(",".join(g) for g in grp["groups"]), "metric": "+".join(metrics)}
        for m in metrics:
            out[METRIC_COLUMN[m]] = float(np.mean([scores[t] for t in tasks if metric_of[t] == m]))
        out["regret"] = (float(np.mean([oracle_u[t] - util[t] for t in tasks])) if oracle_u is not None
                         else float("nan"))
        out.update(solver_status(grp))
        return out

    for name, grp in groupings.items():
        rows.append(row(name, grp, grp.get("constraints", {}).get("budget")))
    if oracle:
        rows.append(row("oracle", {"groups": oracle[0], "task_order": None}, None))
    return pd.DataFrame(rows)


def relative_gap(objective: float, bound: float) -> float:
    """|bound − objective| / max(|bound|, |objective|): 0 when proven, at most 1 when both
    have one sign (the convention of MIP solvers' relative gap, for objectives of either sign)."""
    return abs(bound - objective) / max(abs(bound), abs(objective), 1e-12)


def solver_status(grouping: dict) -> dict:
    """What the solver proved: ``status`` (optimal, feasible: stopped at the time limit,
    heuristic: a baseline), ``gap`` = |bound − objective| / max(|bound|, |objective|) of a
    feasible program (nan otherwise; gains may be negative, so both magnitudes count) and
    ``solve_s``, its wall time."""
    status, obj, bound = grouping.get("status", ""), grouping.get("objective"), grouping.get("bound")
    gap = float("nan")
    if status == "feasible" and obj is not None and bound is not None:
        gap = relative_gap(float(obj), float(bound))
    return {"status": status, "gap": gap, "solve_s": float(grouping.get("wall_time_s", float("nan")))}


def _status_cell(r) -> str:
    if r.status == "feasible" and not pd.isna(r.gap):
        return f"feasible (gap {100 * r.gap:.1f} %)"
    return r.status or "–"


def write_evaluation_table(frame: pd.DataFrame, out_dir: str | Path, dataset: str, stem: str | None = None) -> None:
    """``{stem}.md`` and ``{stem}.csv`` (default stem ``grouping_{dataset}``) in out_dir."""
    out_dir = Path(out_dir)
    stem = stem or f"grouping_{dataset}"
    with atomic_path(out_dir / f"{stem}.csv") as tmp:
        frame.to_csv(tmp, index=False)
    has_acc, has_mse, has_gap = ("mean_accuracy" in frame.columns, "mean_mse" in frame.columns,
                                 "mean_gap" in frame.columns)
    what = " and ".join(w for w, h in (("mean test accuracy (classification tasks)", has_acc),
                                       ("mean test MSE on standardised targets (regression tasks)", has_mse),
                                       ("mean gap to the reference solutions in % (routing tasks)", has_gap)) if h)
    if has_gap and not (has_acc or has_mse):
        regret_unit, regret_note = "regret (gap %)", "; regret = mean gap − oracle mean gap (lower is better)"
    elif has_acc and has_mse:
        regret_unit, regret_note = "regret (mixed)", ("; regret = mean over tasks of the oracle's advantage, "
                                                      "accuracy in points and MSE in units, each task weighing 1/T")
    elif has_mse:
        regret_unit, regret_note = "regret (MSE)", "; regret = mean MSE − oracle mean MSE (lower is better)"
    else:
        regret_unit, regret_note = "regret (pts)", "; regret = oracle mean accuracy − mean accuracy (lower is better)"
    heads = (["mean acc. (%)"] if has_acc else []) + (["mean MSE"] if has_mse else []) + (
        ["mean gap (%)"] if has_gap else [])
    lines = [f"Groupings on {dataset}: {what} of the trained groups and regret vs the oracle{regret_note}; "
             "the oracle is the best partition into at most B groups, so a grouping whose groups overlap (a task "
             "in several groups) can score below it, a negative regret; status: what the solver proved (optimal, or feasible with its relative gap to the proven bound at the "
             "time limit; heuristic: a baseline), solve: its wall time", "",
             "| grouping | budget | networks | " + " | ".join(heads) + f" | {regret_unit} | status | solve (s) | groups |",
             "|---|---|---|" + "---|" * len(heads) + "---|---|---:|---|"]
    for r in frame.itertuples():
        if pd.isna(r.regret):
            regret = "n/a"
        else:  # accuracy-only tables in points; with MSE in the metric's own units
            regret = f"{r.regret:.4f}" if has_mse else f"{r.regret:.2f}" if has_gap else f"{100 * r.regret:.2f}"
        budget = "" if r.budget is None or pd.isna(r.budget) else int(r.budget)
        vals = ([f"{100 * r.mean_accuracy:.2f}"] if has_acc else []) + ([f"{r.mean_mse:.4f}"] if has_mse else []) + (
            [f"{r.mean_gap:.2f}"] if has_gap else [])
        solve = "" if pd.isna(r.solve_s) else f"{r.solve_s:.2f}"
        lines.append(f"| {r.grouping} | {budget} | {r.networks} | " + " | ".join(vals)
                     + f" | {regret} | {_status_cell(r)} | {solve} | {r.groups} |")
    with atomic_path(out_dir / f"{stem}.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")

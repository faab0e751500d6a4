"""Evaluate groupings by training them, and the oracle that trains every candidate subset.

A *task-set record* is what :func:`mtlbench.similarity.transfer_gain.task_set_accuracy`
returns for one set of tasks trained together (bMTL) over seeds:
``{"tasks": [...], "seeds": [...], "accuracy": {task: [acc per seed]}}``.  A grouping
(the grouping file, :meth:`GroupingResult.to_json`) is scored by looking up the record
of each of its groups: task t's accuracy is its mean accuracy in the network that
serves it (``served_by``), and the grouping's score is the mean over tasks.

The oracle (Standley et al. 2020 train every subset to find the best grouping) uses
records of every subset of at most ``max_group_size`` tasks and finds, by dynamic
programming over subsets, the partition into at most B groups with the highest total
accuracy:

    f_k(S) = max_{G ⊆ S, min(S) ∈ G} [acc(G) + f_{k−1}(S ∖ G)],   f_k(∅) = 0         (1)

where acc(G) = Σ_{t∈G} acc(t | G).  O(B·3^T): T ≤ 12 is practical.
Regret of a grouping = oracle mean accuracy − its mean accuracy (≥ 0 among partitions).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..io import atomic_path

MAX_ORACLE_TASKS = 12


def records_by_set(records: list[dict]) -> dict[frozenset, dict]:
    return {frozenset(r["tasks"]): r for r in records}


def grouping_accuracy(grouping: dict, records: dict[frozenset, dict]) -> dict[str, float]:
    """Per-task mean accuracy of a grouping record (names in ``groups``, ``served_by``)."""
    groups = grouping["groups"]
    order = grouping.get("task_order") or sorted({t for g in groups for t in g})
    served = grouping.get("served_by")
    out = {}
    for k, task in enumerate(order):
        g = groups[served[k]] if served is not None else next(g for g in groups if task in g)
        rec = records.get(frozenset(g))
        if rec is None:
            raise DataError(f"no task-set record for group {sorted(g)} (train it first)")
        out[task] = float(np.mean(rec["accuracy"][task]))
    return out


def oracle_partition(records: dict[frozenset, dict], tasks: list[str], budget: int) -> tuple[list[list[str]], float]:
    """Eq. (1): the best partition into ≤ budget groups among recorded subsets.

    Returns the groups (task names) and the mean accuracy over tasks.
    """
    n = len(tasks)
    if n > MAX_ORACLE_TASKS:
        raise ConfigError(f"oracle: T={n} exceeds {MAX_ORACLE_TASKS} tasks (3^T subsets)")
    pos = {t: k for k, t in enumerate(tasks)}
    value = {}
    for key, rec in records.items():
        if key and all(t in pos for t in key):
            mask = sum(1 << pos[t] for t in key)
            value[mask] = sum(float(np.mean(rec["accuracy"][t])) for t in key)
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


def evaluation_table(groupings: dict[str, dict], records: dict[frozenset, dict], tasks: list[str],
                     oracle: tuple[list[list[str]], float] | None = None) -> pd.DataFrame:
    """One row per grouping: groups, number of networks, mean accuracy, regret vs oracle."""
    rows = []
    for name, grp in groupings.items():
        acc = grouping_accuracy(grp, records)
        mean = float(np.mean([acc[t] for t in tasks]))
        rows.append({"grouping": name, "budget": grp.get("constraints", {}).get("budget"),
                     "networks": len(grp["groups"]), "groups": " | ".join(",".join(g) for g in grp["groups"]),
                     "mean_accuracy": mean,
                     "regret": (oracle[1] - mean) if oracle else float("nan")})
    if oracle:
        rows.append({"grouping": "oracle", "budget": None, "networks": len(oracle[0]),
                     "groups": " | ".join(",".join(g) for g in oracle[0]), "mean_accuracy": oracle[1],
                     "regret": 0.0})
    return pd.DataFrame(rows)


def write_evaluation_table(frame: pd.DataFrame, out_dir: str | Path, dataset: str, stem: str | None = None) -> None:
    """``{stem}.md`` and ``{stem}.csv`` (default stem ``grouping_{dataset}``) in out_dir."""
    out_dir = Path(out_dir)
    stem = stem or f"grouping_{dataset}"
    with atomic_path(out_dir / f"{stem}.csv") as tmp:
        frame.to_csv(tmp, index=False)
    lines = [f"Groupings on {dataset}: mean test accuracy of the trained groups and regret vs the oracle", "",
             "| grouping | budget | networks | mean acc. (%) | regret (pts) | groups |", "|---|---|---|---|---|---|"]
    for r in frame.itertuples():
        regret = "n/a" if pd.isna(r.regret) else f"{100 * r.regret:.2f}"
        budget = "" if r.budget is None or pd.isna(r.budget) else int(r.budget)
        lines.append(f"| {r.grouping} | {budget} | {r.networks} | {100 * r.mean_accuracy:.2f} | {regret} | {r.groups} |")
    with atomic_path(out_dir / f"{stem}.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")

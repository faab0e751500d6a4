"""Measured pairwise transfer gains (the ground truth every estimator is compared with).

    gain(i → t) = mean_seeds acc(t | trained jointly with i) − mean_seeds acc(t | alone)   (1)

"Jointly" is bMTL (:mod:`mtlbench.methods.bmtl`: shared extractor, one head per task,
sum of losses) on the two tasks {i, t}; "alone" is the same bMTL network on t only
(one head), so the partner is the only difference.  One training on the pair {i, t}
gives both gain(i → t) and gain(t → i).  A job trains one task set (a single task or
a pair) over the seeds, :func:`task_set_accuracy`; :func:`gain_matrix` assembles the
(T, T) matrix ``gain[i, t]`` = gain(i → t) from the jobs' records.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import DataError
from ..methods.base import Problem
from ..methods.bmtl import BMTL, BMTLHparams


def restrict(problem: Problem, tasks: list[str]) -> Problem:
    """The sub-problem on ``tasks`` (same classes, same arrays)."""
    missing = [t for t in tasks if t not in problem.data]
    if missing:
        raise DataError(f"tasks {missing} not in the problem; it has {problem.tasks}")
    return Problem(tasks=list(tasks), n_classes=problem.n_classes, data={t: problem.data[t] for t in tasks},
                   task_types={t: problem.task_type(t) for t in tasks})


def task_set_accuracy(problems: list[Problem], tasks: list[str], hp: BMTLHparams, seeds: list[int],
                      device: str = "cpu") -> dict:
    """Train bMTL on ``tasks`` once per (problem, seed) pair; test accuracy per task and seed.

    problems: one Problem per seed (the seed's split), same length as ``seeds``.
    Returns ``{"tasks": [...], "seeds": [...], "accuracy": {task: [acc per seed]}}``.
    """
    if len(problems) != len(seeds):
        raise DataError(f"{len(problems)} problems (splits) for {len(seeds)} seeds")
    acc = {t: [] for t in tasks}
    for problem, seed in zip(problems, seeds):
        sub = restrict(problem, tasks)
        result = BMTL(hp).fit_predict(sub, seed=seed, device=device, progress=False)
        for t in tasks:
            acc[t].append(float(np.mean(result.predictions[t] == sub.data[t].y_test)))
    return {"tasks": list(tasks), "seeds": list(seeds), "accuracy": acc}


def task_sets(tasks: list[str]) -> list[list[str]]:
    """Every job the gain matrix needs: each task alone, then each unordered pair."""
    return [[t] for t in tasks] + [list(p) for p in itertools.combinations(tasks, 2)]


def gain_matrix(records: list[dict], tasks: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. (1) from :func:`task_set_accuracy` records.

    Returns gain (T, T) with ``gain[i, t]`` = gain(i → t) and a zero diagonal, the joint
    accuracies ``joint[i, t]`` = mean acc of t trained with i, and ``alone`` (T,).
    """
    n = len(tasks)
    pos = {t: k for k, t in enumerate(tasks)}
    alone = np.full(n, np.nan)
    joint = np.full((n, n), np.nan)
    for rec in records:
        ts = rec["tasks"]
        if len(ts) == 1 and ts[0] in pos:
            alone[pos[ts[0]]] = np.mean(rec["accuracy"][ts[0]])
        elif len(ts) == 2 and all(t in pos for t in ts):
            a, b = ts
            joint[pos[a], pos[b]] = np.mean(rec["accuracy"][b])  # b trained with a
            joint[pos[b], pos[a]] = np.mean(rec["accuracy"][a])
    missing = [tasks[k] for k in range(n) if np.isnan(alone[k])]
    missing += [f"{tasks[i]}+{tasks[j]}" for i, j in itertools.combinations(range(n), 2) if np.isnan(joint[i, j])]
    if missing:
        raise DataError(f"transfer-gain records missing for: {', '.join(missing)}")
    gain = joint - alone[None, :]
    np.fill_diagonal(gain, 0.0)
    np.fill_diagonal(joint, alone)
    return gain, joint, alone

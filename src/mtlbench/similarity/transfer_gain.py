"""Measured pairwise transfer gains (the ground truth every estimator is compared with).

Each task t is scored by its test metric: accuracy for a classification task, MSE (on
standardised targets) for a regression task.  The gain of training t with i is the
improvement of that metric, signed so that a positive gain is always beneficial:

    gain(i → t) = mean_seeds acc(t | with i) − mean_seeds acc(t | alone)     (classification)  (1)
    gain(i → t) = mean_seeds MSE(t | alone) − mean_seeds MSE(t | with i)     (regression)      (2)

i.e. gain = u(t | with i) − u(t | alone) with the utility u = accuracy, or u = −MSE (the
loss reduction).  (2) is an absolute reduction: on standardised targets the MSE is the
fraction of the task's training variance left unexplained, so (2) is the gain in
explained variance and is comparable across regression tasks without a further ratio.

"Jointly" is bMTL (:mod:`mtlbench.methods.bmtl`: shared extractor, one head per task,
sum of losses) on the two tasks {i, t}; "alone" is the same bMTL network on t only
(one head), so the partner is the only difference.  One training on the pair {i, t}
gives both gain(i → t) and gain(t → i).  A job trains one task set (a single task or
a pair, or any group for the grouping evaluation) over the seeds,
:func:`task_set_scores`; :func:`gain_matrix` assembles the (T, T) matrix
``gain[i, t]`` = gain(i → t) from the jobs' records.

A task-set record: ``{"tasks": [...], "seeds": [...], "metric": {task: "accuracy" |
"mse"}, "accuracy": {task: [per seed]}, "mse": {task: [per seed]}}``, each task under its
own metric's key (``mse`` only when a task is a regression task).  Records written before
the ``metric`` key existed hold ``accuracy`` only and read as such.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import ConfigError, DataError
from ..methods.base import Problem
from ..methods.bmtl import BMTL, BMTLHparams
from ..metrics import HIGHER_IS_BETTER, task_metrics

# the metric of a task-set record per task type (regression: MSE on standardised targets)
RECORD_METRIC = {"classification": "accuracy", "regression": "mse"}


def restrict(problem: Problem, tasks: list[str]) -> Problem:
    """The sub-problem on ``tasks`` (same classes, same arrays)."""
    missing = [t for t in tasks if t not in problem.data]
    if missing:
        raise DataError(f"tasks {missing} not in the problem; it has {problem.tasks}")
    return Problem(tasks=list(tasks), n_classes=problem.n_classes, data={t: problem.data[t] for t in tasks},
                   task_types={t: problem.task_type(t) for t in tasks},
                   target_scaling={t: s for t, s in problem.target_scaling.items() if t in tasks},
                   input_masks={t: m for t, m in problem.input_masks.items() if t in tasks})


def task_set_scores(problems: list[Problem], tasks: list[str], hp: BMTLHparams, seeds: list[int],
                    device: str = "cpu") -> dict:
    """Train bMTL on ``tasks`` once per (problem, seed) pair; each task's test metric per seed
    (accuracy, or MSE for a regression task).

    problems: one Problem per seed (the seed's split), same length as ``seeds``.
    Returns a task-set record (module docstring).
    """
    if len(problems) != len(seeds):
        raise DataError(f"{len(problems)} problems (splits) for {len(seeds)} seeds")
    metric = {t: RECORD_METRIC[problems[0].task_type(t)] for t in tasks}
    scores: dict[str, dict[str, list]] = {}
    for m in sorted(set(metric.values())):
        scores[m] = {t: [] for t in tasks if metric[t] == m}
    for problem, seed in zip(problems, seeds):
        sub = restrict(problem, tasks)
        result = BMTL(hp).fit_predict(sub, seed=seed, device=device, progress=False)
        for t in tasks:
            value = task_metrics(sub.data[t].y_test, result.predictions[t], sub.task_type(t))[metric[t]]
            scores[metric[t]][t].append(float(value))
    return {"tasks": list(tasks), "seeds": list(seeds), "metric": metric, **scores}


task_set_accuracy = task_set_scores  # the former name (classification records are unchanged)


def train_task_set(features: str, splits: list[str], tasks: list[str], hparams: dict, seeds: list[int],
                   device: str = "cpu") -> dict:
    """What ``mtlbench train-task-set`` writes: ``tasks`` trained together (bMTL with
    ``hparams``, ``transfer_gain.hparams``) on each (split, seed) of one features table,
    as a task-set record with its hyper-parameters and inputs."""
    return next(iter_task_sets(features, splits, [tasks], hparams, seeds, device=device))


def iter_task_sets(features: str, splits: list[str], task_sets: list[list[str]], hparams: dict, seeds: list[int],
                   device: str = "cpu"):
    """:func:`train_task_set` for each of ``task_sets`` in turn (a chunk of the transfer-gain
    chain in one process), the features table read once; yields each set's record as
    soon as it is trained.  Each record equals what :func:`train_task_set` gives for
    that set alone: every set's problem is built from its own tasks."""
    from ..checks import build_dataclass
    from ..features.table import read_features
    from ..io import sha256_file
    from ..train import build_problems

    if len(splits) != len(seeds):
        raise ConfigError(f"--splits ({len(splits)}) and --seeds ({len(seeds)}) must pair up")
    hp = build_dataclass(BMTLHparams, hparams, "transfer_gain.hparams")
    table, features_sha = read_features(features), sha256_file(features)
    for tasks in task_sets:
        problems = [p for p, _ in build_problems(table, splits, tasks)]
        rec = task_set_scores(problems, tasks, hp, seeds, device=device)
        rec.update(hparams=hparams, inputs={"features": features, "features_sha256": features_sha,
                                            "splits": list(splits)})
        yield rec


def record_metric(record: dict, task: str) -> str:
    """The metric ``task`` is scored by in a task-set record."""
    metric = record.get("metric", {}).get(task)
    if metric is None:
        metric = next((m for m in ("accuracy", "mse") if task in record.get(m, {})), None)
    if metric is None:
        raise DataError(f"task-set record {record.get('tasks')} holds no score for {task!r}")
    return metric


def record_score(record: dict, task: str) -> float:
    """Mean over seeds of ``task``'s metric (accuracy or MSE) in a task-set record."""
    return float(np.mean(record[record_metric(record, task)][task]))


def record_utility(record: dict, task: str) -> float:
    """The score signed so that larger is better: accuracy, or −MSE."""
    score = record_score(record, task)
    return score if HIGHER_IS_BETTER[record_metric(record, task)] else -score


def task_sets(tasks: list[str]) -> list[list[str]]:
    """Every job the gain matrix needs: each task alone, then each unordered pair."""
    return [[t] for t in tasks] + [list(p) for p in itertools.combinations(tasks, 2)]


def task_metric_names(records: list[dict], tasks: list[str]) -> list[str]:
    """The metric of each task (in ``tasks`` order), read from its single-task record."""
    alone = {r["tasks"][0]: r for r in records if len(r["tasks"]) == 1}
    missing = [t for t in tasks if t not in alone]
    if missing:
        raise DataError(f"transfer-gain records missing for: {', '.join(missing)}")
    return [record_metric(alone[t], t) for t in tasks]


def gain_matrix(records: list[dict], tasks: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. (1) / (2) from :func:`task_set_scores` records.

    Returns gain (T, T) with ``gain[i, t]`` = gain(i → t) (positive = i helps t) and a zero
    diagonal, the joint scores ``joint[i, t]`` = mean metric of t trained with i (accuracy
    or MSE, as the records hold it; the diagonal holds ``alone``), and ``alone`` (T,).
    """
    n = len(tasks)
    pos = {t: k for k, t in enumerate(tasks)}
    alone = np.full(n, np.nan)
    joint = np.full((n, n), np.nan)
    sign = np.ones(n)
    for rec in records:
        ts = rec["tasks"]
        if len(ts) == 1 and ts[0] in pos:
            alone[pos[ts[0]]] = record_score(rec, ts[0])
            sign[pos[ts[0]]] = 1.0 if HIGHER_IS_BETTER[record_metric(rec, ts[0])] else -1.0
        elif len(ts) == 2 and all(t in pos for t in ts):
            a, b = ts
            joint[pos[a], pos[b]] = record_score(rec, b)  # b trained with a
            joint[pos[b], pos[a]] = record_score(rec, a)
    missing = [tasks[k] for k in range(n) if np.isnan(alone[k])]
    missing += [f"{tasks[i]}+{tasks[j]}" for i, j in itertools.combinations(range(n), 2) if np.isnan(joint[i, j])]
    if missing:
        raise DataError(f"transfer-gain records missing for: {', '.join(missing)}")
    gain = (joint - alone[None, :]) * sign[None, :]
    np.fill_diagonal(gain, 0.0)
    np.fill_diagonal(joint, alone)
    return gain, joint, alone


def write_transfer_gain(out: str, record_paths: list[str], tasks: list[str], dataset: str) -> np.ndarray:
    """What ``mtlbench transfer-gain`` writes: the task-set records (each task alone, each
    pair) -> the ``transfer_gain`` similarity file (eq. (1) / (2)), with the joint and
    alone scores; returns the gain matrix."""
    from ..io import read_json
    from .io import write_similarity

    records = [read_json(p) for p in record_paths]
    gain, joint, alone = gain_matrix(records, tasks)
    write_similarity(out, gain, tasks, "transfer_gain", {"hparams": records[0].get("hparams", {}),
                     "seeds": records[0].get("seeds")}, dataset=dataset, orientation="similarity",
                     inputs={"records": list(record_paths)},
                     extra={"task_metric": task_metric_names(records, tasks),  # per task (task_order)
                            "gain_definition": "accuracy: joint - alone; mse, gap: alone - joint (positive = helps)",
                            "joint_score": joint.tolist(), "alone_score": alone.tolist()})
    return gain

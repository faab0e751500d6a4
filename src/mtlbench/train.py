"""The train stage: one (dataset, method, ratio, seed) run -> one run JSON (:func:`run`),
or every seed of one (dataset, method, ratio) in one process (:func:`run_seeds`).

Run JSON (DESIGN.md contract)::

    dataset, method (the params.yaml label), algorithm, ratio, seed, tasks (order),
    task_types, target_scaling (regression tasks: training mean and std of the raw targets),
    metrics: {per_task: {task: {accuracy | mse, mae}}, average: {...}} (MSE and MAE on
    targets standardised with the training mean and std),
    relations: {name: {matrix: T x T, task_order: [...]}},
    history: [{step, test: {task: accuracy | mse}}],
    hparams, config_hash, inputs: {features, features_sha256, split, split_sha256},
    selection: {mode, val_fraction, n_val, final, best_val, best_test} (:func:`selection_record`),
    metrics_final (the last iterate's metrics, whatever the mode),
    wall_time_s, wall_time_scope ("run": this run's training; "batched_seeds": the one
    batched model that trained every seed of ``batched_seeds`` together, :func:`run_seeds`),
    device: {...}, versions: {...}

Selection (``selection:`` of params.yaml, per method): ``final`` reports the last iterate;
``best_val`` carves a validation part from every task's training split
(:func:`mtlbench.methods.base.carve_validation`: ``val_fraction`` of each class), trains on
the rest, and reports the test scores of the iterate with the best validation score;
``best_test`` reports the iterate with the best test score (selection on the test set, as
the VMTL public code).  Every run records all three it can compute.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .checks import build_dataclass
from .errors import DataError
from .features.table import FeatureTable, read_features
from .io import config_hash, sha256_file, write_json
from .methods import Problem, TaskData, get_method
from .methods.base import MethodResult, carve_validation, selection_config, standardize_targets
from .metrics import average_metrics, task_metrics
from .runinfo import device_info, library_versions, resolve_device
from .splits import read_split_sides


def build_problem(features_path: str | Path | FeatureTable, split_path: str | Path,
                  tasks: list[str]) -> tuple[Problem, dict]:
    """Join the features table (a path, or a table already read: several splits of one
    table read it once) with a split file into per-task train/test arrays.

    Regression targets are standardised with each task's training mean and standard
    deviation (:func:`mtlbench.methods.base.standardize_targets`): every method trains on,
    and every metric (MSE, MAE) is computed on, standardised targets."""
    if isinstance(features_path, FeatureTable):
        ft, where = features_path, f"features table of {features_path.metadata.get('dataset', '?')}"
    else:
        ft, where = read_features(features_path), str(features_path)
    split_of, split_meta = read_split_sides(split_path)
    sides = np.array([split_of.get(s, "") for s in ft.sample_id])
    if ft.metadata.get("kind") == "tabular":  # encoding fitted on this split's training rows only
        from .features.tabular import encode_split

        ft, encoder = encode_split(ft, sides == "train")
        split_meta = dict(split_meta, tabular_encoder=encoder)
    meta = ft.metadata
    task_types = meta.get("task_types", {}) or {}
    data = {}
    for t in tasks:
        in_task = ft.task == t
        if not in_task.any():
            raise DataError(f"{where}: task {t!r} has no samples; tasks present: {sorted(set(ft.task.tolist()))}")
        tr, te = in_task & (sides == "train"), in_task & (sides == "test")
        if not tr.any() or not te.any():
            raise DataError(f"{split_path}: task {t!r} has {tr.sum()} training and {te.sum()} test samples")
        data[t] = TaskData(ft.feature[tr], ft.label[tr], ft.feature[te], ft.label[te])
    classes = meta.get("classes")
    cls_labels = [ft.label[ft.task == t] for t in tasks if task_types.get(t, "classification") == "classification"]
    n_classes = len(classes) if classes else (int(max(lbl.max() for lbl in cls_labels)) + 1 if cls_labels else 1)
    problem = Problem(tasks=list(tasks), n_classes=n_classes, data=data, task_types=task_types,
                      input_masks=_input_masks(meta, tasks))
    return standardize_targets(problem), split_meta


def _input_masks(meta: dict, tasks: list[str]) -> dict[str, np.ndarray]:
    """Per-task input masks of a tabular table whose tasks read different columns (the
    masked union layout, :mod:`mtlbench.features.tabular_file`); {} when they read the same."""
    masks = ((meta.get("tabular") or {}).get("task_mask")) or {}
    if not all(t in masks for t in tasks):
        return {}
    out = {t: np.asarray(masks[t], dtype=bool) for t in tasks}
    first = out[tasks[0]]
    return {} if all(np.array_equal(m, first) for m in out.values()) else out


def run(features_path: str | Path, split_path: str | Path, out_path: str | Path, *, dataset: str,
        tasks: list[str], method: str, algorithm: str, hparams: dict, ratio: float, seed: int,
        device: str = "auto", progress: bool = True, settings: dict | None = None,
        analyse: Callable[[MethodResult, Problem], dict] | None = None) -> dict:
    """Train and evaluate one method on one split; write and return the run JSON.

    ``settings``: further fields of the run's configuration (recorded and hashed with it);
    ``analyse(result, problem)``: fields added to the record after training (e.g. the
    FGSM accuracies of :func:`mtlbench.robustness.fgsm_run`)."""
    cls = get_method(algorithm)
    hparams, selection = split_selection(hparams, method)
    hp = build_dataclass(cls.Hparams, hparams, f"methods.{method}")
    device = resolve_device(device)
    problem, split_meta = build_problem(features_path, split_path, tasks)
    problem = _with_validation(problem, selection, seed)
    features_sha = sha256_file(features_path)
    # hash the resolved hyper-parameters (defaults filled), so equal configs hash equal
    resolved = {"dataset": dataset, "tasks": list(tasks), "method": method, "algorithm": algorithm,
                "hparams": dataclasses.asdict(hp), "ratio": ratio, "seed": seed, **_selection_setting(selection),
                **(settings or {})}

    t0 = time.perf_counter()
    result = cls(hp).fit_predict(problem, seed=seed, device=device, progress=progress)
    wall = time.perf_counter() - t0
    record = _record(problem, result, resolved, features_path, features_sha, split_path, split_meta, wall, device,
                     selection)
    if analyse is not None:
        record.update(analyse(result, problem))
    write_json(out_path, record)
    return record


def build_problems(features_path: str | Path | FeatureTable, split_paths: list,
                   tasks: list[str]) -> list[tuple[Problem, dict]]:
    """:func:`build_problem` for each split of one features table (a path, read once here,
    or a table already read)."""
    table = features_path if isinstance(features_path, FeatureTable) else read_features(features_path)
    return [build_problem(table, sp, tasks) for sp in split_paths]


def run_seeds(features_path: str | Path, split_paths: list, out_paths: list, *, dataset: str, tasks: list[str],
              method: str, algorithm: str, hparams: dict, ratio: float, seeds: list[int], device: str = "auto",
              progress: bool = True) -> list[dict]:
    """:func:`run` for every seed of one (dataset, method, ratio) in one process, the
    features table read once (the ``train_seeds`` rule: one job per ratio, not per seed).

    A method with ``batches_seeds`` (VMTL family) trains the seeds as one batched model:
    each seed's run JSON equals what :func:`run` writes for it, except ``wall_time_s``,
    the wall time of all seeds together (``wall_time_scope: batched_seeds``, and
    ``batched_seeds`` lists them).  Any other method trains seed after seed, and each
    run JSON is the one :func:`run` writes, its own wall time included."""
    cls = get_method(algorithm)
    hparams, selection = split_selection(hparams, method)
    hp = build_dataclass(cls.Hparams, hparams, f"methods.{method}")
    device = resolve_device(device)
    loaded = build_problems(features_path, split_paths, tasks)
    loaded = [(_with_validation(p, selection, s), m) for (p, m), s in zip(loaded, seeds)]
    features_sha = sha256_file(features_path)
    if cls.batches_seeds:
        t0 = time.perf_counter()
        results = cls(hp).fit_predict_many([p for p, _ in loaded], list(seeds), device=device, progress=progress)
        walls, scope = [time.perf_counter() - t0] * len(seeds), "batched_seeds"
    else:  # seed after seed, each timed alone
        results, walls, scope = [], [], "run"
        for (problem, _), seed in zip(loaded, seeds):
            t0 = time.perf_counter()
            results.append(cls(hp).fit_predict(problem, seed=seed, device=device, progress=progress))
            walls.append(time.perf_counter() - t0)
    records = []
    for (problem, split_meta), result, seed, sp, out, wall in zip(loaded, results, seeds, split_paths, out_paths, walls):
        resolved = {"dataset": dataset, "tasks": list(tasks), "method": method, "algorithm": algorithm,
                    "hparams": dataclasses.asdict(hp), "ratio": ratio, "seed": seed, **_selection_setting(selection)}
        record = _record(problem, result, resolved, features_path, features_sha, sp, split_meta, wall, device,
                         selection, wall_scope=scope)
        if cls.batches_seeds:
            record["batched_seeds"] = list(seeds)
        write_json(out, record)
        records.append(record)
    return records


def split_selection(hparams: dict, method: str) -> tuple[dict, dict]:
    """The run's hyper-parameters without ``selection``, and the selection ({mode, val_fraction})."""
    hparams = dict(hparams or {})
    return hparams, selection_config(hparams.pop("selection", None), f"methods.{method}.selection")


def _selection_setting(selection: dict) -> dict:
    """The selection's part of the hashed configuration; absent for ``final`` (its runs
    hash as before selection existed)."""
    return {} if selection["mode"] == "final" else {"selection": dict(selection)}


def _with_validation(problem: Problem, selection: dict, seed: int) -> Problem:
    return carve_validation(problem, selection["val_fraction"], seed) if selection["mode"] == "best_val" else problem


def _selection_score(scores: dict[str, float], problem: Problem) -> float:
    """One number per history entry, higher is better: the mean over tasks of accuracy
    (classification) and of −MSE (regression)."""
    return float(np.mean([-v if problem.task_type(t) == "regression" else v for t, v in scores.items()]))


def selection_record(history: list[dict], problem: Problem, selection: dict,
                     final_scores: dict[str, float] | None = None) -> dict:
    """``final``, ``best_val`` and ``best_test`` of one run from its history.

    Each is ``{step, test: {task: score}, average}`` (score: accuracy, or MSE for a
    regression task; ``average`` their mean); ``best_val`` adds ``val_average`` and is None
    without a validation part; ties go to the earliest step.  ``best_val`` is chosen from the
    ``val`` scores only, so the test labels never enter its choice.  A method without a
    history (one iterate: linear_stl, pooled_linear) passes ``final_scores``: that iterate
    is all three."""
    hist = [h for h in history if h.get("test")]

    def entry(h: dict) -> dict:
        return {"step": h["step"], "test": dict(h["test"]), "average": float(np.mean(list(h["test"].values())))}

    out = {"mode": selection["mode"], "val_fraction": selection["val_fraction"] if problem.has_validation else None,
           "n_val": {t: len(d.y_val) for t, d in problem.data.items()} if problem.has_validation else None,
           "final": None, "best_val": None, "best_test": None}
    if not hist:
        if final_scores is None:
            return out
        only = entry({"step": None, "test": final_scores})
        return {**out, "final": only, "best_test": only, "best_val": dict(only) if problem.has_validation else None}
    out["final"] = entry(max(hist, key=lambda h: h["step"]))
    out["best_test"] = entry(max(hist, key=lambda h: (_selection_score(h["test"], problem), -h["step"])))
    with_val = [h for h in hist if h.get("val")]
    if with_val:
        best = max(with_val, key=lambda h: (_selection_score(h["val"], problem), -h["step"]))
        out["best_val"] = {**entry(best), "val_average": float(np.mean(list(best["val"].values())))}
    return out


def _selected_metrics(problem: Problem, chosen: dict) -> dict:
    per_task = {t: {"mse" if problem.task_type(t) == "regression" else "accuracy": v} for t, v in chosen["test"].items()}
    return {"per_task": per_task, "average": average_metrics(per_task)}


def _record(problem: Problem, result, resolved: dict, features_path, features_sha: str, split_path, split_meta: dict,
            wall: float, device: str, selection: dict | None = None, wall_scope: str = "run") -> dict:
    tasks = resolved["tasks"]
    per_task = {t: task_metrics(problem.data[t].y_test, result.predictions[t], problem.task_type(t)) for t in tasks}
    final = {"per_task": per_task, "average": average_metrics(per_task)}
    selection = selection or selection_config(None, "selection")
    scores = {t: m.get("accuracy", m.get("mse")) for t, m in per_task.items()}
    chosen = selection_record(result.history, problem, selection, scores)
    mode = selection["mode"]
    if mode != "final" and chosen[mode] is None:
        raise DataError(f"selection {mode}: the run has no {'validation scores' if mode == 'best_val' else 'history'} "
                        f"to select from (method {resolved['method']!r}); use selection: final")
    return {
        **resolved,
        "task_types": {t: problem.task_type(t) for t in tasks},
        **({"target_scaling": problem.target_scaling} if problem.target_scaling else {}),
        "metrics": final if mode == "final" else _selected_metrics(problem, chosen[mode]),
        "metrics_final": final,
        "selection": chosen,
        "relations": {name: {"matrix": np.asarray(m).tolist(), "task_order": list(tasks)}
                      for name, m in result.relations.items()},
        "history": result.history,
        "extra": result.extra,
        "config_hash": config_hash({**resolved, "features_sha256": features_sha,
                                    "split_sha256": split_meta.get("content_sha256")}),
        "inputs": {"features": str(features_path), "features_sha256": features_sha,
                   "split": str(split_path), "split_sha256": split_meta.get("content_sha256")},
        **({"tabular_encoder": split_meta["tabular_encoder"]} if "tabular_encoder" in split_meta else {}),
        "n_train": {t: len(problem.data[t].y_train) for t in tasks},
        "n_test": {t: len(problem.data[t].y_test) for t in tasks},
        "wall_time_s": wall,
        "wall_time_scope": wall_scope,
        "device": device_info(device),
        "versions": library_versions(),
    }

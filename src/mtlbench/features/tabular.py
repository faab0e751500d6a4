"""The encoding of a tabular features table, fitted on one split's training rows.

A ``kind: tabular`` table (:mod:`mtlbench.features.tabular_file`) stores raw slots: numeric values
(0 where missing), one-hot categories over every category present, missing indicators.
:func:`fit_encoder` reads statistics from the training rows of a split only, and
:func:`apply_encoder` maps every row (training and test) with them:

- numeric slot j of column c: x' = (x − μ_c) / σ_c, with μ_c and σ_c (population; 1 when
  it is 0) over the training rows, of the tasks using c, whose value is present; a
  missing value is imputed with μ_c, i.e. x' = 0, and its indicator slot stays 1;
- category slot of (c, v): kept when some training row of a task using c has category v,
  else set to 0 everywhere, so a category unseen in training encodes to all zeros;
- missing-indicator slots: as stored (0 / 1);
- every slot outside a task's mask (a column the task does not use): 0.

Test rows never enter :func:`fit_encoder`, so changing them leaves the encoder unchanged.
"""

from __future__ import annotations

import dataclasses

import numpy as np


def fit_encoder(feature: np.ndarray, task: np.ndarray, train: np.ndarray, meta: dict) -> dict:
    """{"numeric": {column: {"mean", "std", "n"}}, "categories": {column: [seen]}} from the rows
    where ``train`` is true."""
    layout = meta["tabular"]
    slots = layout["slots"]
    masks = {t: np.asarray(m, dtype=bool) for t, m in layout["task_mask"].items()}
    missing_slot = {s["column"]: j for j, s in enumerate(slots) if s["role"] == "missing"}
    numeric, categories = {}, {}
    for j, s in enumerate(slots):
        users = [t for t, m in masks.items() if m[j]]
        rows = np.asarray(train, dtype=bool) & np.isin(task, users)
        col = s["column"]
        if s["role"] == "numeric":
            if col in missing_slot:
                rows = rows & (feature[:, missing_slot[col]] == 0)
            v = feature[rows, j].astype(np.float64)
            mean = float(v.mean()) if len(v) else 0.0
            std = float(v.std()) if len(v) else 0.0
            numeric[col] = {"mean": mean, "std": std if std > 0 else 1.0, "n": int(len(v))}
        elif s["role"] == "category":
            seen = categories.setdefault(col, [])
            if (feature[rows, j] > 0).any():
                seen.append(s["category"])
    return {"numeric": numeric, "categories": categories}


def apply_encoder(feature: np.ndarray, task: np.ndarray, encoder: dict, meta: dict) -> np.ndarray:
    """Every row encoded with ``encoder`` (see the module docstring); float32 (N, D)."""
    layout = meta["tabular"]
    slots = layout["slots"]
    missing_slot = {s["column"]: j for j, s in enumerate(slots) if s["role"] == "missing"}
    x = np.asarray(feature, dtype=np.float64).copy()
    for j, s in enumerate(slots):
        col = s["column"]
        if s["role"] == "numeric":
            stats = encoder["numeric"][col]
            x[:, j] = (x[:, j] - stats["mean"]) / stats["std"]
            if col in missing_slot:
                x[feature[:, missing_slot[col]] > 0, j] = 0.0  # imputed with the training mean
        elif s["role"] == "category" and s["category"] not in encoder["categories"].get(col, []):
            x[:, j] = 0.0
    mask = np.zeros_like(x, dtype=bool)
    for t, m in layout["task_mask"].items():
        mask[task == t] = np.asarray(m, dtype=bool)
    return np.where(mask, x, 0.0).astype(np.float32)


def encode_split(table, train: np.ndarray):
    """(the features table with its features encoded by an encoder fitted on the rows where
    ``train`` is true, the encoder); the table is not modified."""
    enc = fit_encoder(table.feature, table.task, train, table.metadata)
    return dataclasses.replace(table, feature=apply_encoder(table.feature, table.task, enc, table.metadata)), enc

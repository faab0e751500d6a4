"""Shared fixtures: the real data in ../shared (skipped cleanly without it) and tiny problems."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# one thread: the machines running the tests are small and shared, and torch's default
# thread pool spins when the cores are busy (the same numbers, many times faster)
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MTLBENCH_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or $MTLBENCH_SHARED/data); skips the test when it is absent."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"real data not available: {path} does not exist (set MTLBENCH_SHARED)")
    return path


@pytest.fixture(scope="session")
def shared_splits() -> Path:
    path = SHARED / "splits"
    if not path.is_dir():
        pytest.skip(f"published split lists not available: {path} does not exist (set MTLBENCH_SHARED)")
    return path


def make_blobs_problem(n_tasks=3, n_classes=4, dim=16, n_train=60, n_test=200, seed=0, shift=0.0):
    """A small multi-task problem: Gaussian class blobs shared by every task, tasks shifted by ``shift``."""
    from mtlbench.methods import Problem, TaskData

    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(n_classes, dim))
    data, tasks = {}, [f"t{i}" for i in range(n_tasks)]
    for i, t in enumerate(tasks):
        offset = rng.normal(0, 1, size=dim) * shift * i

        def draw(n, offset=offset):
            y = rng.integers(0, n_classes, size=n)
            x = centers[y] + rng.normal(0, 1, size=(n, dim)) + offset
            return x.astype(np.float32), y.astype(np.int64)

        xtr, ytr = draw(n_train)
        xte, yte = draw(n_test)
        data[t] = TaskData(xtr, ytr, xte, yte)
    return Problem(tasks=tasks, n_classes=n_classes, data=data)


@pytest.fixture
def blobs_problem():
    return make_blobs_problem()


def write_problem_files(prob, features, split, classes, ratio=0.5, seed=0):
    """A Problem as a features table and one split file (what the CLI stages read)."""
    from mtlbench.features.table import write_features
    from mtlbench.splits import make_split, write_split

    sid, task, label, feat = [], [], [], []
    for t in prob.tasks:
        x = np.concatenate([prob.data[t].x_train, prob.data[t].x_test])
        y = np.concatenate([prob.data[t].y_train, prob.data[t].y_test])
        sid += [f"{t}/{i}" for i in range(len(x))]
        task += [t] * len(x)
        label.append(y)
        feat.append(x)
    write_features(features, sid, task, np.concatenate(label), np.concatenate(feat), {"classes": list(classes)})
    write_split(split, make_split(sid, task, np.concatenate(label), ratio, seed), ratio, seed)


def set_partitions(items):
    """Every set partition of ``items`` (lists of lists): the brute force the grouping
    tests check the solvers and the oracle against (independent of mtlbench's own)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for p in set_partitions(rest):
        for k in range(len(p)):
            yield p[:k] + [[first] + p[k]] + p[k + 1:]
        yield [[first]] + p

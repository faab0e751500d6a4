"""bMTL with tasks that read their own columns: a task-specific input layer into a shared
body (mtlbench.methods.bmtl, docs/methods.md)."""

import numpy as np
import torch

from mtlbench.methods.base import Problem, TaskData
from mtlbench.methods.bmtl import BMTL, BMTLHparams
from mtlbench.train import _input_masks

D = 6
# house: size, bedrooms, bathrooms (slots 0-2); apartment: size, bedrooms, location one-hot (0, 1, 3-5)
MASKS = {"house": np.array([1, 1, 1, 0, 0, 0], bool), "apartment": np.array([1, 1, 0, 1, 1, 1], bool)}


def _problem(seed=0, n=200):
    rng = np.random.default_rng(seed)
    data = {}
    for t, m in MASKS.items():
        x = np.zeros((2 * n, D), np.float32)
        x[:, m] = rng.normal(size=(2 * n, int(m.sum())))
        w = rng.normal(size=D) * m
        y = (x @ w + 0.5 * np.tanh(x[:, 0])).astype(np.float64)  # price from the task's own columns
        data[t] = TaskData(x[:n], y[:n], x[n:], y[n:])
    return Problem(tasks=list(MASKS), n_classes=1, data=data, task_types={t: "regression" for t in MASKS},
                   input_masks=dict(MASKS))


HP = BMTLHparams(hidden=32, dropout=0.0, steps=300, batch_size=64, lr=1e-2, weight_decay=0.0, eval_every=300)


def test_each_task_reads_only_its_own_columns():
    """The input layer of a task sees its columns only: values put in another task's
    columns do not move its predictions (with one input layer over the union they would)."""
    res = BMTL(HP).fit_predict(_problem(), seed=0, device="cpu", progress=False)
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(50, D)), dtype=torch.float32)
    for t, m in MASKS.items():
        noisy = x.clone()
        noisy[:, ~torch.as_tensor(m)] = 100.0  # another task's columns
        clean = x.clone()
        clean[:, ~torch.as_tensor(m)] = 0.0
        with torch.no_grad():
            assert torch.equal(res.predictor(t, noisy), res.predictor(t, clean)), t


def test_heterogeneous_tasks_are_learned_and_seeded():
    prob = _problem()
    a = BMTL(HP).fit_predict(prob, seed=0, device="cpu", progress=False)
    b = BMTL(HP).fit_predict(prob, seed=0, device="cpu", progress=False)
    for t in MASKS:
        y = prob.data[t].y_test
        mse = float(np.mean((a.predictions[t] - y) ** 2))
        assert mse < 0.2 * float(np.var(y)), (t, mse)  # far below predicting the mean
        assert np.array_equal(a.predictions[t], b.predictions[t])


def test_masks_reach_the_problem_only_when_tasks_differ():
    meta = {"tabular": {"task_mask": {t: m.tolist() for t, m in MASKS.items()}}}
    got = _input_masks(meta, ["house", "apartment"])
    assert set(got) == {"house", "apartment"} and got["apartment"].tolist() == MASKS["apartment"].tolist()
    same = {"tabular": {"task_mask": {"a": [1, 1, 0], "b": [1, 1, 0]}}}
    assert _input_masks(same, ["a", "b"]) == {}  # the same columns: the one shared extractor
    assert _input_masks({}, ["a"]) == {}

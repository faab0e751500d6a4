"""The routing instance generators: deterministic per seed, the distributions of Kool et
al. 2019, rows <-> arrays, the stage file round trip."""

from __future__ import annotations

import numpy as np
import pytest

from mtlbench.data.routing.instances import TASKS, arrays, eval_set, generate, op_prizes, rows
from mtlbench.data.routing.store import read_instances, write_instances


@pytest.mark.parametrize("task", sorted(TASKS))
def test_generators_are_deterministic_per_seed(task):
    a, b, c = generate(task, 8, seed=3), generate(task, 8, seed=3), generate(task, 8, seed=4)
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["xy"], c["xy"])
    # the evaluation stream is not the training stream of the same seed
    assert not np.array_equal(generate(task, 8, seed=3, purpose="eval")["xy"], a["xy"])
    assert np.array_equal(eval_set(task, 8)["xy"], eval_set(task, 8)["xy"])


@pytest.mark.parametrize("task", sorted(TASKS))
def test_distributions(task):
    spec, inst = TASKS[task], generate(task, 400, seed=0)
    assert inst["xy"].shape == (400, spec.n, 2) and inst["xy"].dtype == np.float32
    assert 0 <= inst["xy"].min() and inst["xy"].max() < 1
    assert abs(float(inst["xy"].mean()) - 0.5) < 0.02
    if spec.problem == "cvrp":
        d = inst["demand"]
        assert set(np.unique(d).tolist()) == set(range(1, 10))
        assert spec.capacity == {20: 30, 50: 40}[spec.n]
    if spec.problem == "op":
        p = inst["prize"]
        assert spec.max_length == {20: 2.0, 50: 3.0}[spec.n]
        # the farthest node from the depot has prize 1; every prize is a multiple of 0.01 in [0.01, 1]
        assert np.allclose(p.max(axis=1), 1.0)
        assert p.min() >= 0.01 - 1e-7 and np.allclose(np.round(p * 100), p * 100, atol=1e-4)
        far = np.linalg.norm(inst["xy"] - inst["depot"][:, None], axis=-1).argmax(axis=1)
        assert np.allclose(p[np.arange(400), far], 1.0)


def test_op_prizes_formula():
    depot = np.array([[0.0, 0.0]], dtype=np.float32)
    xy = np.array([[[1.0, 0.0], [0.5, 0.0], [0.0, 0.01]]], dtype=np.float32)
    # (1 + floor(99 d / max d)) / 100: d = 1, 0.5, 0.01 -> 1.00, 0.50, 0.01
    assert np.allclose(op_prizes(depot, xy), [[1.0, 0.50, 0.01]])


@pytest.mark.parametrize("task", sorted(TASKS))
def test_rows_round_trip_and_the_stage_file(task, tmp_path):
    inst = generate(task, 5, seed=1)
    x = rows(task, inst)
    assert x.shape == (5, TASKS[task].row_size)
    back = arrays(task, x)
    assert all(np.array_equal(back[k], inst[k]) for k in inst)
    write_instances(tmp_path / "i.npz", task, inst, {"seed": 1, "purpose": "train"})
    again, meta = read_instances(tmp_path / "i.npz")
    assert meta == {"task": task, "seed": 1, "purpose": "train"}
    assert all(np.array_equal(again[k], inst[k]) for k in inst)
    with pytest.raises(ValueError, match="rows of"):
        arrays(task, x[:, :-1])

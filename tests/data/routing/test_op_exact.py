"""The OP reference's CP-SAT stage (mtlbench.data.routing.op_exact): optimal on instances
small enough to enumerate, and what the reference records of it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mtlbench.data.routing.instances import eval_set, op_prizes
from mtlbench.data.routing.op_exact import solve_op_exact
from mtlbench.data.routing.reference import default_settings, solve
from mtlbench.data.routing.solutions import closed_length, objective, violations
from mtlbench.data.routing.store import read_reference, write_reference


def _brute_force(pts: np.ndarray, prize: np.ndarray, cap: float) -> float:
    """The best prize by enumeration: every subset, its shortest tour by every order."""
    n = len(prize)
    best = 0.0
    for k in range(1, n + 1):
        for subset in itertools.combinations(range(1, n + 1), k):
            if sum(prize[s - 1] for s in subset) <= best:
                continue
            if any(closed_length(pts, [0, *order]) <= cap for order in itertools.permutations(subset)):
                best = float(sum(prize[s - 1] for s in subset))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_cp_sat_finds_the_enumerated_optimum_on_small_instances(seed):
    rng = np.random.default_rng(seed)
    n = 6
    depot, xy = rng.random((1, 2)), rng.random((1, n, 2))
    prize = op_prizes(depot, xy)[0].astype(np.float64)
    pts = np.concatenate([depot, xy[0]])
    cap = float(rng.uniform(0.8, 2.2))  # from a tour of one or two nodes to most of them
    res = solve_op_exact(pts, prize, cap, time_limit_s=10)
    assert res.status == "OPTIMAL"
    assert closed_length(pts, [0, *res.tour]) <= cap and len(set(res.tour)) == len(res.tour)
    got = float(prize[np.asarray(res.tour, dtype=int) - 1].sum()) if res.tour else 0.0
    assert got == pytest.approx(_brute_force(pts, prize, cap), abs=1e-9)
    assert res.bound == pytest.approx(got, abs=1e-6)


def test_an_instance_where_no_node_fits_gives_the_empty_tour():
    pts = np.array([[0.0, 0.0], [0.9, 0.9], [1.0, 0.8]])
    res = solve_op_exact(pts, np.array([0.5, 0.7]), 1.0, time_limit_s=5)
    assert res.status == "OPTIMAL" and res.tour == [] and res.bound == 0


def test_op_reference_records_the_exact_stage_and_beats_guided_local_search_alone(tmp_path):
    inst = eval_set("op20", 4)
    ref = solve("op20", inst, default_settings("op20", time_limit_s=0.05, op_exact_time_limit_s=20))
    gls = solve("op20", inst, default_settings("op20", time_limit_s=0.05, op_exact_time_limit_s=0))
    assert ref["feasible"].all() and all(violations("op20", inst, i, s) == [] for i, s in enumerate(ref["solutions"]))
    assert ref["exact_status"] == ["OPTIMAL"] * 4
    assert np.allclose(ref["objective"], ref["exact_bound"], atol=1e-5)  # proven optimal
    assert (ref["objective"] >= gls["objective"] - 1e-9).all()  # an optimum is no worse than any feasible tour
    assert "exact_status" not in gls and gls["settings"]["solver"] == "ortools routing"
    s = ref["settings"]
    assert s["solver"] == "ortools routing + cp-sat" and s["op_exact_time_limit_s"] == 20
    assert s["exact_summary"]["optimal"] == 4 and s["exact_summary"]["instances"] == 4
    assert abs(s["exact_summary"]["max_gap_to_bound_percent"]) < 1e-4
    write_reference(tmp_path / "r.json", "op20", ref, {"instances": "x.npz"})
    back = read_reference(tmp_path / "r.json")
    assert back["exact_status"] == ref["exact_status"] and np.allclose(back["exact_bound"], ref["exact_bound"])
    assert [objective("op20", inst, i, t) for i, t in enumerate(back["solutions"])] == pytest.approx(
        ref["objective"].tolist())

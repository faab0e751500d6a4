"""The routing data stage's command (`mtlbench routing-data`, over
:func:`mtlbench.data.routing.build.build_routing_data`) on a tiny instance set."""

from __future__ import annotations

import numpy as np

from mtlbench.cli import main
from mtlbench.data.routing.build import load_routing_data
from mtlbench.data.routing.heuristics import nearest_neighbour_tours
from mtlbench.data.routing.instances import eval_set
from mtlbench.data.routing.solutions import objective, violations
from mtlbench.data.routing.store import read_instances, read_reference


def test_routing_data_command_writes_instances_and_references(tmp_path, capsys):
    out = tmp_path / "routing"
    main(["routing-data", "--tasks", "tsp20,cvrp20,op20", "--eval-size", "4", "--eval-seed", "7",
          "--time-limit", "0.05", "--out", str(out)])
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{t}{ext}" for t in ("tsp20", "cvrp20", "op20") for ext in (".npz", ".reference.json"))
    for task in ("tsp20", "cvrp20", "op20"):
        inst, meta = read_instances(out / f"{task}.npz")
        want = eval_set(task, 4, 7)  # the seeded evaluation set, nothing else
        assert set(inst) == set(want) and all(np.array_equal(inst[k], want[k]) for k in want)
        assert meta == {"task": task, "seed": 7, "purpose": "eval", "size": 4}
        ref = read_reference(out / f"{task}.reference.json")
        assert ref["settings"]["time_limit_s"] == 0.05 and ref["instances"] == f"{task}.npz"
        assert all(ref["feasible"]) and np.isfinite(ref["objective"]).all()
        for i, sol in enumerate(ref["solutions"]):
            assert violations(task, inst, i, sol) == []
            assert abs(objective(task, inst, i, sol) - ref["objective"][i]) < 1e-6
        assert f"{task}.npz" in printed
    tsp, _ = read_instances(out / "tsp20.npz")
    nn = [objective("tsp20", tsp, i, t) for i, t in enumerate(nearest_neighbour_tours("tsp20", tsp))]
    assert (read_reference(out / "tsp20.reference.json")["objective"] <= np.array(nn) + 1e-9).all()
    sets, refs, settings = load_routing_data(out, ["op20", "tsp20"])
    assert list(sets) == ["op20", "tsp20"] and refs["op20"].shape == (4,) and settings["op20"]["time_limit_s"] == 0.05
    # no temporary files left beside the outputs (written atomically)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]

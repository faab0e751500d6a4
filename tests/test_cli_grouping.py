"""The similarity -> gains -> grouping -> evaluation stages end to end through the CLI, tiny data."""

import itertools
import json

import numpy as np
import pytest
import torch
from conftest import make_blobs_problem, write_problem_files

from mtlbench.cli import main

torch.set_num_threads(1)
TINY = json.dumps({"hidden": 8, "steps": 15, "batch_size": 16, "eval_every": 15})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("grp")
    prob = make_blobs_problem(n_tasks=4, n_classes=3, dim=6, n_train=20, n_test=20, shift=1.0)
    write_problem_files(prob, d / "f.parquet", d / "s0.parquet", ["a", "b", "c"])
    return d, prob.tasks


def test_stages_end_to_end(files, capsys):
    d, tasks = files
    t = ",".join(tasks)
    f, s = str(d / "f.parquet"), str(d / "s0.parquet")
    base = ["--dataset", "blobs", "--tasks", t, "--features", f, "--split", s]
    assert main(["similarity", "--estimator", "wasserstein", *base, "--settings",
                 '{"method": "exact", "n_samples": 30}', "--name", "wasserstein_exact", "--out", str(d / "w.json")]) == 0
    assert main(["similarity", "--estimator", "h_divergence", *base, "--out", str(d / "h.json")]) == 0
    # the orientation is the estimator's (its registry entry), whatever the label: the
    # label "hdiv" does not start with the estimator's name
    assert main(["similarity", "--estimator", "h_divergence", *base, "--name", "hdiv", "--out", str(d / "hd.json")]) == 0
    assert [json.loads((d / n).read_text())["orientation"] for n in ("w.json", "h.json", "hd.json")] == ["distance"] * 3
    assert main(["similarity", "--estimator", "tag_affinity", *base, "--settings",
                 '{"hidden": 8, "steps": 10, "affinity_every": 5}', "--out", str(d / "z.json")]) == 0
    records = []
    for k, ts in enumerate([[x] for x in tasks] + [list(p) for p in itertools.combinations(tasks, 2)]):
        out = str(d / f"r{k}.json")
        assert main(["train-task-set", "--features", f, "--splits", s, "--seeds", "0", "--tasks", ",".join(ts),
                     "--hparams", TINY, "--out", out, "--quiet", "--device", "cpu"]) == 0
        records.append(out)
    assert main(["transfer-gain", "--records", *records, "--dataset", "blobs", "--tasks", t,
                 "--out", str(d / "g.json")]) == 0
    gain = json.loads((d / "g.json").read_text())
    assert gain["orientation"] == "similarity" and len(gain["matrix"]) == 4
    assert main(["correlation", "--gain", str(d / "g.json"), "--estimates", str(d / "w.json"), str(d / "h.json"),
                 str(d / "z.json"), "--dataset", "blobs", "--tasks", t, "--out-dir", str(d / "tables"),
                 "--figure", str(d / "corr.png")]) == 0
    md = (d / "tables" / "correlation_blobs.md").read_text()
    assert all(f"| {e} |" in md for e in ("wasserstein_exact", "h_divergence", "tag_affinity"))
    assert (d / "corr.png").stat().st_size > 1000

    groupings = []
    for solver, extra in [("mip", []), ("exhaustive", []), ("all_in_one", []), ("each_alone", []),
                          ("tag", ["--similarity", str(d / "z.json")]), ("hoa", ["--similarity", str(d / "g.json")]),
                          ("cluster", ["--similarity", str(d / "w.json")]), ("random", [])]:
        out = str(d / f"{solver}.json")
        assert main(["grouping", "--solver", solver, "--gain", str(d / "g.json"), "--tasks", t, "--budget", "2",
                     "--max-group-size", "2", "--out", out, *extra]) == 0, solver
        groupings.append(out)
    mip, ex = (json.loads((d / f"{n}.json").read_text()) for n in ("mip", "exhaustive"))
    assert mip["status"] == "optimal" and mip["objective"] == pytest.approx(ex["objective"], abs=1e-4)
    assert all(len(g) <= 2 for g in mip["groups"])
    # every group of these groupings has at most 2 tasks: the task-set records cover them
    keep = [g for g in groupings if all(len(x) <= 2 for x in json.loads(open(g).read())["groups"])]
    assert main(["evaluate-groupings", "--groupings", *keep, "--records", *records, "--dataset", "blobs",
                 "--tasks", t, "--oracle-budget", "4", "--out-dir", str(d / "tables")]) == 0
    table = (d / "tables" / "grouping_blobs.md").read_text()
    assert "| oracle |" in table and "| mip |" in table


def test_task_sets_in_one_process_write_the_records_of_each_set_alone(files, tmp_path):
    """--task-sets (a chunk job of the transfer-gain chain): every record equals the one
    --tasks writes for that set alone, over the same seeds and splits."""
    d, tasks = files
    f, s = str(d / "f.parquet"), str(d / "s0.parquet")
    sets = [[tasks[0]], [tasks[2]], [tasks[0], tasks[3]], tasks[:3]]
    common = ["--features", f, "--splits", s, s, "--seeds", "0", "1", "--hparams", TINY, "--quiet", "--device", "cpu"]
    outs = [str(tmp_path / f"chunk{k}.json") for k in range(len(sets))]
    assert main(["train-task-set", *common, "--task-sets", *(",".join(ts) for ts in sets), "--out", *outs]) == 0
    for ts, out in zip(sets, outs):
        assert main(["train-task-set", *common, "--tasks", ",".join(ts), "--out", str(tmp_path / "one.json")]) == 0
        chunk, one = (json.loads(open(p).read()) for p in (out, tmp_path / "one.json"))
        assert chunk == one and chunk["tasks"] == ts
    with pytest.raises(SystemExit, match="2 task sets need as many --out files, got 1"):
        main(["train-task-set", *common, "--task-sets", "a", "b", "--out", outs[0]])
    # --out-dir (a chosen_task_sets part): each record named after its set, the same records
    part = tmp_path / "part0"
    assert main(["train-task-set", *common, "--task-sets", *(",".join(ts) for ts in sets), "--out-dir", str(part)]) == 0
    assert sorted(p.name for p in part.iterdir()) == sorted("+".join(ts) + ".json" for ts in sets)
    for ts, out in zip(sets, outs):
        assert json.loads((part / ("+".join(ts) + ".json")).read_text()) == json.loads(open(out).read())
    # a part that holds no set: the empty folder
    assert main(["train-task-set", *common, "--task-sets", "--out-dir", str(tmp_path / "part1")]) == 0
    assert (tmp_path / "part1").is_dir() and not list((tmp_path / "part1").iterdir())


def test_evaluate_groupings_reads_record_folders(files, tmp_path):
    """--records takes a folder of records (a chosen_task_sets part) as well as files: the
    table equals the one from the same records named one by one."""
    d, tasks = files
    f, s = str(d / "f.parquet"), str(d / "s0.parquet")
    t = ",".join(tasks)
    common = ["--features", f, "--splits", s, "--seeds", "0", "--hparams", TINY, "--quiet", "--device", "cpu"]
    groups = [tasks[:2], tasks[2:]]
    assert main(["train-task-set", *common, "--task-sets", *(",".join(g) for g in groups),
                 "--out-dir", str(tmp_path / "part")]) == 0
    grouping = tmp_path / "mine.json"
    grouping.write_text(json.dumps({"groups": groups, "task_order": tasks, "objective": 0.0, "status": "optimal",
                                    "solver": "mine"}))
    for stem, records in (("folder", [str(tmp_path / "part")]), ("files", sorted(map(str, (tmp_path / "part").iterdir())))):
        assert main(["evaluate-groupings", "--groupings", str(grouping), "--records", *records, "--dataset", "blobs",
                     "--tasks", t, "--out-dir", str(tmp_path / "tables"), "--stem", stem]) == 0
    folder, named = ((tmp_path / "tables" / f"{n}.csv").read_text() for n in ("folder", "files"))
    assert folder == named and "mine" in folder


def test_grouping_errors_are_clear(files, capsys):
    d, tasks = files
    t = ",".join(tasks)
    gain = d / "zero.json"
    gain.write_text(json.dumps({"estimator": "transfer_gain", "task_order": tasks, "matrix": np.zeros((4, 4)).tolist(),
                                "orientation": "similarity", "settings": {}}))
    rc = main(["grouping", "--solver", "mip", "--gain", str(gain), "--tasks", t, "--budget", "1",
               "--cannot-link", f"{tasks[0]},{tasks[1]}", "--out", str(d / "x.json")])
    assert rc == 2
    assert f"cannot_link ({tasks[0]}, {tasks[1]})" in capsys.readouterr().err
    rc = main(["grouping", "--solver", "mip", "--gain", str(gain), "--tasks", t, "--budget", "2",
               "--must-link", "t0,nope", "--out", str(d / "x.json")])
    assert rc == 2 and "nope" in capsys.readouterr().err

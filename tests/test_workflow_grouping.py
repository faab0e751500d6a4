"""The similarity -> grouping chain of the DAG on a tiny config, past the grouping checkpoint:
the groups the solvers choose are trained in the chosen_task_sets part jobs (one process per
part, not one job per group), and a grouping that changes its groups re-runs only the part
its new groups fall in."""

from __future__ import annotations

import json
import re
import zlib

import pytest
from workflow_project import make_project, sh

pytestmark = pytest.mark.workflow

TASKS = ["mnist_identity", "mnist_rot90", "mnist_m_identity", "uci_digits_identity", "uci_digits_invert"]
TINY_SET = {"hidden": 16, "steps": 20, "batch_size": 16, "eval_every": 20}
PARAMS = {
    "datasets": {"digits_shift": {"enabled": False, "backbone": "pixels", "tasks": TASKS}},
    "backbones": {"pixels": {"mean": 0.5, "std": 0.5}},
    "methods": {"bmtl": {"hidden": 16, "steps": 10, "batch_size": 16, "eval_every": 10}},
    "train_ratios": [0.1],
    "seeds": [0, 1],
    "device": "cpu",
    "similarity": {"datasets": ["digits_shift"], "ratio": 0.1, "estimators": {}, "transfer_gain": TINY_SET,
                   "task_set_chunks": 2},
    # no oracle (oracle_max_tasks 1 < 5 tasks): every group of 3 or more tasks is known only after the checkpoint
    "grouping": {"budgets": [2], "solvers": ["mip", "mip_overlap", "all_in_one", "random"], "random_seeds": [0, 1],
                 "cluster_on": [], "oracle_max_tasks": 1, "exhaustive_max_tasks": 1, "overlap_max_group_size": 4},
    "robustness": {"datasets": []},
}
TABLE = "results/tables/grouping_digits_shift_B2.md"


def _jobs(log: str) -> dict[str, int]:
    found = re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):", log, re.M)
    return {r: found.count(r) for r in set(found)}


def _part(name: str) -> int:
    return zlib.crc32(name.encode()) % PARAMS["similarity"]["task_set_chunks"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    d = make_project(tmp_path_factory.mktemp("grouping"), PARAMS)
    _, log = sh(d, "snakemake", TABLE, "--cores", "2", "--resources", "gpu=1")
    return d, log


def _chosen(d) -> set[str]:
    names = set()
    for f in (d / "results/grouping/digits_shift/B2").glob("*.json"):
        for g in json.loads(f.read_text())["groups"]:
            names.add("+".join(t for t in TASKS if t in g))
    return names


def test_chosen_groups_are_trained_in_the_parts(project):
    d, log = project
    jobs = _jobs(log)
    assert jobs.get("chosen_task_sets") == 2 and "train_task_set" not in jobs, jobs
    static = {p.stem for p in (d / "results/similarity/digits_shift/task_sets").glob("*.json")}
    assert len(static) == 5 + 10  # each task alone and every pair
    chosen = _chosen(d) - static
    assert chosen, "the tiny groupings chose no group of 3 or more tasks"
    parts = {p.name: {f.stem for f in p.glob("*.json")}
             for p in (d / "results/similarity/digits_shift/chosen_task_sets").iterdir()}
    assert sorted(parts) == ["part0", "part1"]
    assert set().union(*parts.values()) == chosen  # every chosen group once, in crc32(name) mod 2
    assert all(_part(n) == int(p[4:]) for p, names in parts.items() for n in names)
    assert (d / TABLE).is_file()
    # a part's record is the one train-task-set writes for that set alone
    name = sorted(chosen)[0]
    splits = [f"data/splits/digits_shift/r0.1_s{s}.parquet" for s in (0, 1)]
    sh(d, "mtlbench", "train-task-set", "--features", "data/features/digits_shift/pixels.parquet", "--splits",
       *splits, "--seeds", "0", "1", "--tasks", name.replace("+", ","), "--hparams", json.dumps(TINY_SET),
       "--device", "cpu", "--threads", "1", "--quiet", "--out", "alone.json")
    part = d / f"results/similarity/digits_shift/chosen_task_sets/part{_part(name)}/{name}.json"
    alone = json.loads((d / "alone.json").read_text())
    assert json.loads(part.read_text())["accuracy"] == alone["accuracy"]


def test_a_changed_grouping_reruns_only_its_part(project):
    d, _ = project
    _, plan = sh(d, "snakemake", "-n", "--cores", "2", TABLE)
    assert "Nothing to be done" in plan
    static = {p.stem for p in (d / "results/similarity/digits_shift/task_sets").glob("*.json")}
    before = _chosen(d) - static
    # all_in_one's one group becomes a new group of 4 tasks (and the fifth alone)
    f = d / "results/grouping/digits_shift/B2/all_in_one.json"
    rec = json.loads(f.read_text())
    rec["groups"] = [TASKS[:4], TASKS[4:]]
    rec.pop("served_by", None)
    f.write_text(json.dumps(rec))
    touched = {_part(n) for n in before ^ (_chosen(d) - static)}
    assert touched and "+".join(TASKS[:4]) in _chosen(d)
    _, plan = sh(d, "snakemake", "-n", "--cores", "2", "-p", TABLE)
    jobs = _jobs(plan)
    assert jobs.get("chosen_task_sets") == len(touched), jobs
    assert "train_task_set" not in jobs and "grouping" not in jobs and "task_sets_digits_shift_0" not in jobs
    for k in range(2):
        assert (f"--out-dir results/similarity/digits_shift/chosen_task_sets/part{k}" in plan) == (k in touched)

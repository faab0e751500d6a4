"""Capabilities declared on the classes (Method.batches_seeds, learns_relations,
has_predictor, paper_tables; Backbone.uses_gpu) decide what the workflow plans.

A method that learns relations and batches its seeds is added with one file, one
registry line and one params entry; ``snakemake -n`` then plans its jobs with no rule
file edited."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from relational_centroids import RelationalCentroids, RelationalCentroidsHparams
from workflow_project import ROOT, TINY_ONE, env, make_project, sh

from mtlbench.features.backbones import BACKBONES
from mtlbench.methods import METHODS
from mtlbench.methods.base import Problem, TaskData

HERE = Path(__file__).resolve().parent


def _problem(seed: int) -> Problem:
    rng = np.random.default_rng(seed)
    data = {}
    for t, shift in (("a", 0.0), ("b", 0.2), ("c", 5.0)):
        xs, ys = [], []
        for k in range(3):
            xs.append(rng.normal(loc=3.0 * k + shift, scale=0.3, size=(40, 4)))
            ys.append(np.full(40, k))
        x, y = np.concatenate(xs).astype(np.float32), np.concatenate(ys)
        data[t] = TaskData(x[::2], y[::2], x[1::2], y[1::2])
    return Problem(tasks=["a", "b", "c"], n_classes=3, data=data)


def test_declared_capabilities_of_the_registered_classes():
    assert {m for m, c in METHODS.items() if c.batches_seeds} == {"vmtl", "vmtl_ac", "vstl"}
    assert {m for m, c in METHODS.items() if c.learns_relations} == {"amtnn_h", "amtnn_w"}
    assert {m for m, c in METHODS.items() if c.has_predictor} == {"bmtl", "vmtl", "vmtl_ac", "vstl"}
    assert {b for b, c in BACKBONES.items() if c.uses_gpu} == {"vgg16_fc7"}


def test_default_fit_predict_many_loops_over_seeds():
    # a method without a batched model: fit_predict_many = fit_predict seed after seed
    from mtlbench.methods.linear_stl import LinearHparams, LinearSTL

    problems = [_problem(0), _problem(1)]
    model = LinearSTL(LinearHparams(cs=(1.0,), folds=2))
    many = model.fit_predict_many(problems, [0, 1])
    for p, s, r in zip(problems, [0, 1], many):
        one = model.fit_predict(p, seed=s)
        assert all(np.array_equal(one.predictions[t], r.predictions[t]) for t in p.tasks)


def test_relational_centroids_batched_equals_each_seed_alone_and_learns_alpha():
    problems, seeds = [_problem(0), _problem(1)], [3, 4]
    model = RelationalCentroids(RelationalCentroidsHparams(temperature=0.5))
    batched = model.fit_predict_many(problems, seeds)
    for p, s, r in zip(problems, seeds, batched):
        alone = model.fit_predict(p, seed=s)
        assert np.array_equal(alone.relations["alpha"], r.relations["alpha"])
        assert all(np.array_equal(alone.predictions[t], r.predictions[t]) for t in p.tasks)
        alpha = r.relations["alpha"]
        assert np.allclose(alpha.sum(1), 1.0)
        # a and b (shifted by 0.2) are related, c (shifted by 5) is not
        assert alpha[0, 1] > 0.3 and alpha[0, 2] < 1e-3
        acc = np.mean([np.mean(r.predictions[t] == p.data[t].y_test) for t in ("a", "b")])
        assert acc > 0.9


def _jobs(out: str, rule: str) -> list[str]:
    """The wildcards lines of ``rule``'s jobs in a ``snakemake -n`` listing."""
    blocks = re.split(r"\n(?=\[)", out)
    return [m.group(1) for b in blocks if re.search(rf"^(?:local)?rule {rule}:", b, re.M)
            for m in [re.search(r"wildcards: (.*)", b)] if m]


@pytest.mark.workflow
def test_new_relational_batched_method_needs_no_rule_edit(tmp_path):
    # the library with the new method: one file plus one registry line
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "mtlbench", src / "mtlbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(HERE / "relational_centroids.py", src / "mtlbench" / "methods" / "relational_centroids.py")
    init = src / "mtlbench" / "methods" / "__init__.py"
    init.write_text(init.read_text() + "\nfrom .relational_centroids import RelationalCentroids  # noqa: E402\n"
                    "METHODS[RelationalCentroids.name] = RelationalCentroids\n")
    # one params entry
    params = {**TINY_ONE, "seeds": [0, 1],
              "methods": {**TINY_ONE["methods"], "relational_centroids": {"temperature": 0.5}}}
    project = make_project(tmp_path / "p", params)
    (project / "src").unlink()
    (project / "src").symlink_to(src)
    rules = {p.relative_to(ROOT): p.read_text() for p in (ROOT / "workflow").rglob("*.smk")}
    _, out = sh(project, "snakemake", "-n", "--cores", "1", environ=env(PYTHONPATH=str(src)))
    # all seeds in one job per ratio, as for every method (batched or seed after seed)
    assert sorted(_jobs(out, "train_seeds")) == [f"dataset=digits, method={m}, ratio=0.2"
                                                 for m in sorted(params["methods"])]
    assert not _jobs(out, "train")
    # its learned alpha is drawn: the heat map reads its runs (and only its: stl, bmtl learn none)
    heat = re.search(r"rule relation_heatmap:\n\s+input: ([^\n]*)", out)
    assert heat is not None, out[-3000:]
    assert heat.group(1).split(", ") == [f"results/runs/digits/relational_centroids/r0.2_s{s}.json" for s in (0, 1)]
    # and no rule file was touched
    assert {p.relative_to(project): p.read_text() for p in (project / "workflow").rglob("*.smk")} == rules

"""What Snakemake says before any job starts (issue 18): the file a wrong key came from,
warnings, and a missing input outside the repository."""

from __future__ import annotations

import shutil

import pytest
from workflow_project import ROOT, TINY_ONE, env, make_project, sh

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    # the project sits where ../shared does not exist
    d = make_project(tmp_path_factory.mktemp("checks") / "p", TINY_ONE)
    shutil.copytree(ROOT / "configs", d / "configs")
    return d


def test_override_file_is_named_in_the_error(project):
    (project / "over.yaml").write_text("methods: {'my stl': {method: stl}}\n")
    code, out = sh(project, "snakemake", "-n", "--cores", "1", "--configfile", "over.yaml", check=False)
    assert code != 0
    assert "over.yaml: methods.'my stl': 'my stl' is not an allowed name" in out
    (project / "over.yaml").write_text("methods: {stl: {enabled: 'no'}}\n")
    code, out = sh(project, "snakemake", "-n", "--cores", "1", "--configfile", "over.yaml", check=False)
    assert code != 0 and "over.yaml: methods.stl.enabled: expected true or false, got 'no'" in out
    # a key params.yaml has too: the file that set it last is named (Snakemake lists it first)
    (project / "over.yaml").write_text("methods: {stl: {steps: 0}}\n")
    code, out = sh(project, "snakemake", "-n", "--cores", "1", "--configfile", "over.yaml", check=False)
    assert code != 0 and "\nover.yaml: methods.stl.steps" in out, out[-2000:]


def test_unknown_malloc_mode_fails_before_any_job(project):
    code, out = sh(project, "snakemake", "--cores", "1", check=False, environ=env(MTLBENCH_MALLOC="tunned"))
    assert code != 0
    assert "MTLBENCH_MALLOC (environment variable): 'tunned' is not one of 'tuned', 'default'" in out
    assert "rule " not in out and not (project / "results").exists()


def test_single_task_vmtl_warns_before_the_plan(project):
    (project / "over.yaml").write_text("datasets: {digits: {tasks: [mnist]}}\nmethods: {vmtl: {steps: 5}}\n")
    code, out = sh(project, "snakemake", "-n", "--cores", "1", "--configfile", "over.yaml")
    assert "warning: methods.vmtl: 'vmtl' on the single-task dataset 'digits'" in out


def test_office_caltech_without_shared_names_the_missing_file(tmp_path):
    # the real params.yaml: configs/office_caltech.yaml enables entries that only it defines
    project = make_project(tmp_path / "p", TINY_ONE)
    shutil.copytree(ROOT / "configs", project / "configs")
    shutil.copy(ROOT / "params.yaml", project / "params.yaml")
    assert not (project.parent / "shared").exists()
    code, out = sh(project, "snakemake", "-n", "--cores", "1", "--configfile", "configs/office_caltech.yaml",
                   check=False)
    assert code != 0 and "MissingInputException" not in out
    assert ("configs/office_caltech.yaml: datasets.office_caltech_googlenet.path: "
            "../shared/data/office_caltech10_googlenet1024.tar.gz does not exist; ../shared is a data folder") in out
    assert "split_lists.office_caltech_mrn.lists: ../shared/splits/mrn_split_lists.tar.gz does not exist" in out


def test_quick_config_plans_every_stage(tmp_path):
    """configs/quick.yaml (make quick) reaches every rule family of the DAG; the README offers it first."""
    import re

    import yaml

    d = make_project(tmp_path / "q", yaml.safe_load((ROOT / "params.yaml").read_text()))
    shutil.copytree(ROOT / "configs", d / "configs")
    code, out = sh(d, "snakemake", "-n", "--cores", "2", "--configfile", "configs/quick.yaml")
    planned = set(re.findall(r"^(?:rule|localrule|checkpoint|localcheckpoint) (\w+):", out, re.M))
    stages = {"download", "features", "splits", "train_seeds", "table", "figure", "relation_heatmap", "tsne",
              "paper_tables", "metrics", "similarity", "transfer_gain", "correlation", "grouping",
              "robustness", "robustness_table"}
    assert stages <= planned, stages - planned
    # the alone / pair task sets, in the chunk jobs (task_sets_<dataset>_<k>); the chosen
    # groups (chosen_task_sets) are planned only once the grouping checkpoint has run
    assert [r for r in planned if r.startswith("task_sets_")], planned
    readme = (ROOT / "README.md").read_text()
    quick_start = readme[readme.index("## Quick start"):readme.index("## Running the DAG yourself")]
    assert quick_start.index("make quick") < quick_start.index("make run")
    assert "quick:" in (ROOT / "Makefile").read_text()

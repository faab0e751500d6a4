"""What Snakemake says before any job starts (issue 18): the file a wrong key came from,
warnings, and a missing input outside the repository."""

from __future__ import annotations

import shutil

import pytest
from workflow_project import ROOT, TINY_ONE, make_project, sh

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


def test_single_task_vmtl_warns_before_the_plan(project):
    (project / "over.yaml").write_text("datasets: {digits: {tasks: [mnist]}}\nmethods: {vmtl: {steps: 5}}\n")
    code, out = sh(project, "snakemake", "-n", "--cores", "1", "--configfile", "over.yaml")
    assert "warning: methods.vmtl: 'vmtl' on the single-task dataset 'digits'" in out


def test_office_caltech_without_shared_names_the_missing_file(project):
    assert not (project.parent / "shared").exists()
    code, out = sh(project, "snakemake", "-n", "--cores", "1", "--configfile", "configs/office_caltech.yaml",
                   check=False)
    assert code != 0 and "MissingInputException" not in out
    assert ("configs/office_caltech.yaml: datasets.office_caltech_googlenet.path: "
            "../shared/data/office_caltech10_googlenet1024.tar.gz does not exist; ../shared is a data folder") in out
    assert "split_lists.office_caltech_mrn.lists: ../shared/splits/mrn_split_lists.tar.gz does not exist" in out

"""The tiny DAG on a real single-node SLURM cluster through workflow/profiles/slurm.

tests/slurm/start_cluster.sh installs Debian's munge + slurm packages when missing
(root + apt), starts munged, slurmctld and slurmd privately in a temporary directory;
the module's teardown stops exactly those daemons by pid and checks they are gone.
Skips with the reason when the packages or the plugin are missing or a daemon does not
come up; deselect with ``-m "not slurm"`` or MTLBENCH_SLURM_TEST=0.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from workflow_project import ROOT, TINY_ONE, env, make_project, same_run, sh

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]
SCRIPTS = ROOT / "tests" / "slurm"
RUN = "results/runs/digits/{method}/r0.2_s0.json"
FAILING = RUN.format(method="bmtl")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(environment for SLURM clients, state dir) of a running private cluster."""
    if os.environ.get("MTLBENCH_SLURM_TEST") == "0":
        pytest.skip("MTLBENCH_SLURM_TEST=0")
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install .[slurm]")
    state = tmp_path_factory.mktemp("slurm")
    p = subprocess.run(["bash", SCRIPTS / "start_cluster.sh", state], capture_output=True, text=True,
                       timeout=600)
    try:
        if p.returncode != 0:
            pytest.skip(f"no SLURM cluster (start_cluster.sh exit {p.returncode}): {p.stderr.strip()[-500:]}")
        exports = dict(re.findall(r"(\w+)=(\S+)", p.stdout))
        yield env([state / "bin"], SLURM_CONF=exports["SLURM_CONF"]), state
    finally:
        pids = {d: int((state / f"{d}.pid").read_text()) for d in ("munged", "slurmctld", "slurmd")
                if (state / f"{d}.pid").exists()}
        subprocess.run(["bash", SCRIPTS / "stop_cluster.sh", state], timeout=120)
        deadline = time.monotonic() + 15  # a KILLed daemon may take a moment to go
        while (alive := [d for d, pid in pids.items() if _running(pid)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive, f"daemons still running after stop_cluster.sh: {alive}"


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie (killed, not yet reaped by its parent)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def slurm_profile(d: Path) -> Path:
    """workflow/profiles/slurm, fitted to a 2-CPU test node: threads and memory scaled down,
    squeue as status command (no slurmdbd), quick first status check, one retry."""
    prof = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    prof["set-threads"] = {rule: 1 for rule in prof.get("set-threads", {})}
    for res in prof.get("set-resources", {}).values():  # per-rule memory comes from params.yaml now
        res["mem_mb"] = 500
    prof.update({"slurm-status-command": "squeue", "slurm-init-seconds-before-status-checks": 2,
                 "slurm-keep-successful-logs": True, "retries": 1, "latency-wait": 5})
    (d / "prof").mkdir()
    (d / "prof/config.yaml").write_text(yaml.safe_dump(prof))
    return d / "prof"


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    environ, _ = cluster
    d = make_project(tmp_path_factory.mktemp("on_slurm"), TINY_ONE)
    t0 = time.monotonic()
    _, out = sh(d, "snakemake", "--profile", slurm_profile(d), environ=environ)
    return d, out, time.monotonic() - t0


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    d = make_project(tmp_path_factory.mktemp("local"), TINY_ONE)
    sh(d, "snakemake", "--cores", "2")  # profiles/default applies: Snakemake reads it from the project root
    return d


def slurm_states(environ) -> dict[str, str]:
    _, out = sh(".", "squeue", "--states=all", "--noheader", "--format=%i|%T", environ=environ)
    return dict(line.split("|") for line in out.split())


def test_every_job_ran_as_a_slurm_job(cluster, slurm_run):
    environ, _ = cluster
    d, out, _ = slurm_run
    submitted = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", out)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out.split("Job stats:")[1].split("\n\n")[0], re.M))
    n_jobs = sum(int(n) for rule, n in counts.items() if rule not in ("all", "total"))
    assert n_jobs == 8 and len(submitted) == n_jobs, (counts, submitted)
    states = slurm_states(environ)
    for _, slurm_id, log in submitted:
        assert states[slurm_id] == "COMPLETED"
        assert Path(log).is_file() and log.startswith(str(d / ".snakemake/slurm_logs"))
    # the job step inside each allocation is Snakemake's slurm-jobstep executor
    assert "--executor slurm-jobstep" in Path(submitted[0][2]).read_text()


def test_outputs_equal_a_local_run(slurm_run, local_run):
    d, _, _ = slurm_run
    for method in ("stl", "bmtl"):
        a = json.loads((d / RUN.format(method=method)).read_text())
        b = json.loads((local_run / RUN.format(method=method)).read_text())
        assert not same_run(a, b), same_run(a, b)
        assert a["metrics"]["average"]["accuracy"] > 0.15  # 10 classes: chance is 0.1
    for name in ("results/metrics.json", "results/tables/digits_0.2_accuracy.md",
                 "results/tables/digits_0.2_accuracy.csv"):
        assert (d / name).read_text() == (local_run / name).read_text(), name


def test_failed_job_is_retried_then_reported(cluster, slurm_run, tmp_path):
    """A training job that fails on the cluster: submitted 1 + retries times, then reported."""
    environ, _ = cluster
    d, _, _ = slurm_run
    # fault injection through PATH (the jobs inherit the submitting environment)
    real = shutil.which("mtlbench", path=environ["PATH"])
    attempts = tmp_path / "attempts"
    wrapper = tmp_path / "bin/mtlbench"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" train-seeds "*"--method bmtl "*) echo "$SLURM_JOB_ID" >> {attempts}; '
        'echo "injected failure" >&2; exit 3;; esac\n'
        f'exec {real} "$@"\n')
    wrapper.chmod(0o755)
    failing_env = dict(environ, PATH=f"{wrapper.parent}{os.pathsep}{environ['PATH']}")
    code, out = sh(d, "snakemake", "--profile", d / "prof", "--force", FAILING,
                   environ=failing_env, check=False)
    assert code != 0
    job_ids = attempts.read_text().split()
    assert len(job_ids) == 2 and len(set(job_ids)) == 2  # retries: 1 in the test profile
    states = slurm_states(environ)
    assert [states[j] for j in job_ids] == ["FAILED", "FAILED"]
    errors = re.findall(r"Error in rule (\w+):\n(.*?)\n\n", out + "\n\n", re.S)
    assert len(errors) == 2 and all(rule == "train_seeds" for rule, _ in errors)
    assert all(FAILING in body and "external_jobid" in body for _, body in errors)
    # the job's wildcards, printed with the job, and the final summary naming the rule
    assert "wildcards: dataset=digits, method=bmtl, ratio=0.2" in out
    assert "Trying to restart job" in out

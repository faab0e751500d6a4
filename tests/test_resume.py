"""`kill -9` of snakemake, then the README's own command again: it resumes (issue 18, item 6).

Also runs Snakemake from outside the venv (PATH without it): the rules find `mtlbench`
beside the venv's Python (item 11).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workflow_project import TINY_ONE, make_project

pytestmark = pytest.mark.workflow

BIN = Path(sys.executable).parent


def _bare_env() -> dict[str, str]:
    """No venv on PATH: what `.venv/bin/snakemake` without `source .venv/bin/activate` sees."""
    e = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    e["PATH"] = os.pathsep.join(p for p in e.get("PATH", "/usr/bin:/bin").split(os.pathsep)
                                if Path(p).resolve() != BIN.resolve()) or "/usr/bin:/bin"
    e["PYTHONUNBUFFERED"] = "1"
    return e


def test_killed_run_resumes_with_the_same_command(tmp_path):
    d = make_project(tmp_path / "p", TINY_ONE)
    cmd = [str(BIN / "snakemake"), "--cores", "1", "results/metrics.json"]
    p = subprocess.Popen(cmd, cwd=d, env=_bare_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:  # kill once a training job runs (features and splits are done, outputs are locked)
        deadline = time.time() + 300
        while not list((d / "logs").glob("train/*/*/*.log")) and time.time() < deadline and p.poll() is None:
            time.sleep(0.2)
        assert p.poll() is None, "the run ended before a training job started"
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    assert list((d / ".snakemake" / "locks").glob("*.lock")), "kill -9 left no lock to test with"

    r = subprocess.run(cmd, cwd=d, env=_bare_env(), capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "LockException" not in out and "IncompleteFilesException" not in out
    lines = [line for line in out.splitlines() if "stale Snakemake lock" in line]
    assert len(lines) == 1, out[-3000:]
    assert (d / "results" / "metrics.json").exists()

"""DVC beyond one machine, in a temporary git + DVC project running the tiny DAG once:
push/pull to a local-directory remote and to an S3 server on 127.0.0.1 (moto), a fresh
clone that pulls and reproduces nothing, and the experiment commands of the README."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workflow_project import TINY_ONE, env, make_project, sh

pytestmark = pytest.mark.workflow
OUTS = ("data/raw", "data/features", "data/splits", "results/runs", "results/tables")


def git(d, *args):
    return sh(d, "git", "-c", "user.email=t@t", "-c", "user.name=t", *args)


def digests(d: Path) -> dict[str, str]:
    """sha256 of every file under the DVC-tracked output directories."""
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for out in OUTS for p in sorted((d / out).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The project after `dvc repro`, committed: dvc.lock and the (uncached) metrics and plots."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    d = make_project(tmp_path_factory.mktemp("dvcrepo"), TINY_ONE)
    git(d, "init", "-q")
    sh(d, "dvc", "init", "-q")
    sh(d, "dvc", "config", "core.analytics", "false")
    sh(d, "dvc", "repro")
    git(d, "add", "-A")
    # cache: false outputs live in git, not in the DVC cache or remote
    git(d, "add", "-f", "results/metrics.json", "results/figures")
    git(d, "commit", "-q", "-m", "baseline")
    return d


def clone_and_pull(repo: Path, where: Path, remote_args: list[list[str]], environ=None) -> tuple[Path, str]:
    git(where, "clone", "-q", str(repo), "clone")
    c = where / "clone"
    for args in remote_args:
        sh(c, "dvc", "remote", *args, environ=environ)
    _, out = sh(c, "dvc", "pull", environ=environ)
    return c, out


def assert_repro_does_nothing(c: Path):
    before = {p: p.stat().st_mtime_ns for p in (c / "results/runs").rglob("*.json")}
    _, out = sh(c, "dvc", "repro")
    assert "Data and pipelines are up to date." in out, out
    assert "snakemake" not in out.lower()
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_push_pull_local_directory_remote(repo, tmp_path):
    remote = tmp_path / "remote"
    sh(repo, "dvc", "remote", "add", "localdir", str(remote))
    _, out = sh(repo, "dvc", "push", "-r", "localdir")
    assert any(p.is_file() for p in remote.rglob("*"))
    c, _ = clone_and_pull(repo, tmp_path, [["add", "-d", "localdir", str(remote)]])
    assert digests(c) == digests(repo)
    _, status = sh(c, "dvc", "status")
    assert "up to date" in status
    assert_repro_does_nothing(c)


@pytest.fixture
def s3_server(tmp_path):
    """A moto S3 server on 127.0.0.1 (stopped by pid) and the environment to reach it."""
    pytest.importorskip("moto.server", reason="pip install .[test]  (moto[server])")
    pytest.importorskip("dvc_s3", reason="pip install .[test]  (dvc-s3)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=open(tmp_path / "moto.log", "w"), stderr=subprocess.STDOUT)
    environ = env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_DEFAULT_REGION="us-east-1")
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        import boto3

        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
        s3.create_bucket(Bucket="mtlbench")
        yield f"http://127.0.0.1:{port}", environ, s3
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_push_pull_s3_compatible_server(repo, tmp_path, s3_server):
    url, environ, s3 = s3_server
    remote = [["add", "s3", "s3://mtlbench/cache"], ["modify", "s3", "endpointurl", url]]
    for args in remote:
        sh(repo, "dvc", "remote", *args, "--local", environ=environ)
    sh(repo, "dvc", "push", "-r", "s3", environ=environ)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mtlbench").get("Contents", [])]
    assert keys and all(k.startswith("cache/files/md5/") for k in keys)
    c, _ = clone_and_pull(repo, tmp_path, remote + [["default", "s3"]], environ=environ)
    assert digests(c) == digests(repo)
    assert_repro_does_nothing(c)


def test_snakemake_report_holds_tables_and_figures(repo):
    """`snakemake --report`: one self-contained HTML, every table and figure, by dataset."""
    sh(repo, "snakemake", "--report", "report.html", "--cores", "1")
    html = (repo / "report.html").read_text()
    results = json.loads(re.search(r"var results = (\{.*?\});\n", html, re.S).group(1))
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", html, re.S).group(1))
    table, figure = "results/tables/digits_0.2_accuracy.md", "results/figures/digits_accuracy_vs_ratio.png"
    assert categories == {"digits": {"tables": [table], "figures": [figure]}}
    for path, mime in ((table, "text/markdown"), (figure, "image/png")):
        entry = results[path]
        assert entry["mime_type"] == mime and "digits" in entry["caption"]
        embedded = base64.b64decode(entry["data_uri"].split("base64,", 1)[1])
        assert embedded == (repo / path).read_bytes()  # the file itself, inside the HTML
    assert "train ratio\n0.2" in results[table]["caption"]


def test_experiments_metrics_diff_and_plots(repo):
    """The README's examples: exp run -S, exp show, metrics diff, plots show."""
    _, out = sh(repo, "dvc", "exp", "run", "-n", "bmtl-lr-0.005", "-S", "methods.bmtl.lr=0.005")
    run = json.loads((repo / "results/runs/digits/bmtl/r0.2_s0.json").read_text())
    assert run["hparams"]["lr"] == 0.005
    _, shown = sh(repo, "dvc", "exp", "show", "--csv", "--no-pager")
    rows = list(csv.DictReader(io.StringIO(shown)))
    exp = [r for r in rows if r["Experiment"] == "bmtl-lr-0.005"]
    assert len(exp) == 1 and float(exp[0]["methods.bmtl.lr"]) == 0.005
    assert "digits.0.2.bmtl.accuracy" in exp[0]
    _, diff = sh(repo, "dvc", "metrics", "diff", "--json")
    changed = json.loads(diff)["results/metrics.json"]
    assert "digits.0.2.bmtl.accuracy" in changed and "digits.0.2.stl.accuracy" not in changed
    assert changed["digits.0.2.bmtl.accuracy"]["new"] == pytest.approx(run["metrics"]["average"]["accuracy"])
    _, plots = sh(repo, "dvc", "plots", "show", "--json")
    images = json.loads(plots)["data"]
    assert [p["type"] for p in images["results/figures/digits_accuracy_vs_ratio.png"]] == ["image"]
    sh(repo, "dvc", "plots", "show", "-o", "dvc_plots")
    html = (repo / "dvc_plots/index.html").read_text()
    assert "digits_accuracy_vs_ratio.png" in html

"""The whole DAG on a tiny config in a temporary project: Snakemake and DVC end to end."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.workflow

TINY = {
    "datasets": {"digits": {"backbone": "pixels", "tasks": ["mnist", "uci_digits"]}},
    "backbones": {"pixels": {"mean": 0.5, "std": 0.5}},
    "methods": {
        "stl": {"hidden": 32, "steps": 20, "batch_size": 16, "eval_every": 10},
        "bmtl": {"hidden": 32, "steps": 20, "batch_size": 16, "eval_every": 10},
    },
    "train_ratios": [0.1, 0.2],
    "seeds": [0, 1],
    "device": "cpu",
    # dvc.yaml's grouping stage reads these params; no dataset is grouped here
    "similarity": {"datasets": []},
    "grouping": {"budgets": [2]},
    # FGSM accuracy of bMTL (VMTL appendix B.5): 2 seeds at ratio 0.1
    "robustness": {"datasets": ["digits"], "methods": ["bmtl"], "ratios": [0.1], "eps": [0.0, 0.1]},
    # dvc.yaml's train and robustness stages read it
    "selection": {"mode": "final", "val_fraction": 0.2},
}


def _env():
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def sh(cwd, *cmd, check=True):
    p = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)
    out = p.stdout + p.stderr
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{out[-4000:]}")
    return p.returncode, out


def job_counts(out: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table."""
    counts = {}
    m = re.search(r"Job stats:\n(.*?)\n\n", out, re.S)
    if m:
        for line in m.group(1).splitlines()[2:]:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A fresh git + DVC project holding the workflow, run once with `dvc repro`."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    d = tmp_path_factory.mktemp("project")
    _dvc_project(d, TINY)
    _, out = sh(d, "dvc", "repro")
    return d, out


def _dvc_project(d: Path, params: dict) -> None:
    """The workflow, dvc.yaml and ``params`` as params.yaml in a fresh git + DVC project ``d``."""
    for name in ("Snakefile", "dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, d / name)
    shutil.copytree(ROOT / "workflow", d / "workflow")
    # dvc.yaml's deps name the library sources; link them into the project
    (d / "src").symlink_to(ROOT / "src")
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(d, "git", "init", "-q")
    sh(d, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init")
    sh(d, "dvc", "init", "-q")
    sh(d, "dvc", "config", "core.analytics", "false")


def test_dvc_repro_runs_the_whole_dag(project):
    d, out = project
    for ratio in ("0.1", "0.2"):
        for ext in ("md", "tex", "csv"):
            assert (d / f"results/tables/digits_{ratio}_accuracy.{ext}").exists()
    assert (d / "results/figures/digits_accuracy_vs_ratio.png").read_bytes()[:4] == b"\x89PNG"
    md = (d / "results/tables/digits_0.1_accuracy.md").read_text()
    assert re.search(r"\| stl \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \|", md)
    assert "**" in md
    metrics = json.loads((d / "results/metrics.json").read_text())
    assert set(metrics["digits"]["0.1"]) == {"stl", "bmtl"}
    run = json.loads((d / "results/runs/digits/bmtl/r0.1_s0.json").read_text())
    assert run["tasks"] == ["mnist", "uci_digits"] and len(run["config_hash"]) == 64
    assert run["device"]["device"] == "cpu" and "torch" in run["versions"]
    assert run["metrics"]["average"]["accuracy"] > 0.3  # 10 classes: chance is 0.1
    assert (d / "logs/train/digits/bmtl/r0.1_seeds.log").exists()
    assert (d / "dvc.lock").exists()
    # the robustness stage: one FGSM run per seed, then the table
    fgsm = json.loads((d / "results/robustness/digits/bmtl/r0.1_s0.json").read_text())
    assert len(fgsm["config_hash"]) == 64 and fgsm["eps"] == [0.0, 0.1]
    assert fgsm["fgsm"]["avg"]["0"] == pytest.approx(run["metrics"]["average"]["accuracy"])  # same seed, same model
    assert fgsm["fgsm"]["avg"]["0.1"] < fgsm["fgsm"]["avg"]["0"]
    table = (d / "results/tables/robustness_digits_0.1.md").read_text()
    assert "| eps=0 | eps=0.1 |" in table and re.search(r"\| bmtl \| \*\*[\d.]+ ± [\d.]+\*\* \|", table)


def test_second_runs_do_nothing(project):
    d, _ = project
    _, out = sh(d, "snakemake", "-n", "--cores", "2")
    assert "Nothing to be done" in out
    _, out = sh(d, "dvc", "repro")
    assert "up to date" in out.lower()


def test_same_seed_same_numbers(project, tmp_path):
    d, _ = project
    ref = json.loads((d / "results/runs/digits/stl/r0.2_s1.json").read_text())
    hp = json.dumps(TINY["methods"]["stl"])
    sh(d, "mtlbench", "train", "--features", "data/features/digits/pixels.parquet",
       "--split", "data/splits/digits/r0.2_s1.parquet", "--out", str(tmp_path / "again.json"),
       "--dataset", "digits", "--tasks", "mnist,uci_digits", "--method", "stl", "--hparams", hp,
       "--ratio", "0.2", "--seed", "1", "--device", "cpu", "--quiet")
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["metrics"] == ref["metrics"]
    assert again["config_hash"] == ref["config_hash"]


def test_bad_key_is_rejected_by_name(project):
    d, _ = project
    good = (d / "params.yaml").read_text()
    try:
        (d / "params.yaml").write_text(good.replace("datasets:", "datasets_typo:", 1))
        code, out = sh(d, "snakemake", "-n", "--cores", "1", check=False)
        assert code != 0
        tail = "\n".join(out.strip().splitlines()[-6:])
        assert "datasets_typo" in tail and "allowed" in tail
        (d / "params.yaml").write_text(good.replace("steps: 20", "stepz: 20", 1))
        code, out = sh(d, "snakemake", "-n", "--cores", "1", check=False)
        assert code != 0 and "methods.stl.'stepz'" in out and "'steps'" in out
    finally:
        (d / "params.yaml").write_text(good)


def test_changing_one_method_reruns_only_its_jobs(project):
    d, _ = project
    stl_run = d / "results/runs/digits/stl/r0.1_s0.json"
    before = stl_run.stat().st_mtime_ns
    params = yaml.safe_load((d / "params.yaml").read_text())
    params["methods"]["bmtl"]["lr"] = 0.002
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _, plan = sh(d, "snakemake", "-n", "--cores", "2")
    counts = job_counts(plan)
    assert counts.get("train_seeds") == 2, counts  # bmtl x 2 ratios, both seeds in each job
    assert "download" not in counts and "features" not in counts and "splits" not in counts
    _, out = sh(d, "dvc", "repro")
    assert stl_run.stat().st_mtime_ns == before
    assert json.loads((d / "results/runs/digits/bmtl/r0.1_s0.json").read_text())["hparams"]["lr"] == 0.002


def test_real_datasets_plan_download_features_splits_train(tmp_path):
    """With the real releases enabled, `snakemake -n` plans every stage for each of them."""
    for name in ("Snakefile",):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    releases = ["office_home", "office_caltech", "image_clef", "domainnet", "amtnn_digits"]
    for d in releases:
        params["datasets"][d]["enabled"] = True
    params["datasets"]["digits"]["enabled"] = False
    # an image_folder dataset: the same image index, so the same sharded features rule
    (tmp_path / "imgs" / "t" / "c").mkdir(parents=True)
    (tmp_path / "imgs" / "t" / "c" / "x.png").write_bytes(b"")
    params["datasets"]["mine"] = {"kind": "image_folder", "root": "imgs", "tasks": ["t"], "backbone": "vgg16_fc7"}
    params["methods"] = {"stl": {}, "bmtl": {}}
    params["train_ratios"], params["seeds"] = [0.1], [0]
    params["similarity"]["datasets"] = []  # no grouping of digits_shift here
    params["robustness"] = {}  # no FGSM runs here
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _, out = sh(tmp_path, "snakemake", "-n", "--cores", "8", "--resources", "gpu=2")
    counts = job_counts(out)
    assert counts["prepare_release"] == 5 and counts["index_images"] == 1
    assert counts["features"] == 6  # the 5 image-file datasets and amtnn_digits (pixels), one rule
    # an image index gets resources.features_files (720 min), array data resources.features (120)
    jobs = re.split(r"\n\[[^\]\n]*\d{4}\]\n", out)  # one block per job, each after its time stamp
    feat_jobs = {j.split("output: ")[1].split("\n")[0]: j for j in jobs if j.startswith("rule features:")}
    assert re.search(r"runtime=720\b", feat_jobs["data/features/office_home/vgg16_fc7.parquet"])
    assert re.search(r"runtime=120\b", feat_jobs["data/features/amtnn_digits/pixels.parquet"])
    assert counts["splits"] == 6 and counts["train_seeds"] == 12
    for d in releases:
        assert f"data/raw/{d}/manifest.json" in out
    # cluster resources per rule come from params.yaml (resources.train_seeds: 180 min, 16,000 MB)
    train_job = re.split(r"\n\[[^\]\n]*\d{4}\]\n", out[out.index("rule train_seeds:"):])[0]
    assert re.search(r"\n    resources: .*runtime=180\b.*mem_mb=16000\b", train_job)


ROUTING_TINY = {
    "datasets": {"routing": {"kind": "routing", "tasks": ["tsp20", "op20"], "eval_size": 4,
                             "reference_time_limit_s": 0.05, "op_exact_time_limit_s": 5}},
    "methods": {"routing_stl": {"embedding_dim": 16, "encoder_layers": 1, "heads": 2, "ff_hidden": 32, "epochs": 1,
                                "episodes_per_epoch": 16, "batch_size": 16, "eval_batch": 4, "augment": 1}},
    "seeds": [0],
    "train_ratios": [0.1],  # dvc.yaml's data stage reads these params; a routing dataset has none
    "backbones": {},
    "device": "cpu",
    "similarity": {"datasets": []},
    "grouping": {"budgets": [2]},
    "robustness": {"datasets": [], "methods": []},
    "selection": {"mode": "final", "val_fraction": 0.2},
}


def test_dvc_repro_runs_a_routing_dataset(tmp_path):
    """dvc.yaml's data stage keeps data/routing (evaluation sets and references), the train
    stage trains on it, and a second repro is a no-op."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    d = tmp_path
    _dvc_project(d, ROUTING_TINY)
    sh(d, "dvc", "repro")
    ref = json.loads((d / "data/routing/routing/op20.reference.json").read_text())
    assert ref["settings"]["solver"] == "ortools routing + cp-sat" and len(ref["objective"]) == 4
    run = json.loads((d / "results/runs/routing/routing_stl/r1_s0.json").read_text())
    assert set(run["metrics"]["per_task"]) == {"tsp20", "op20"} and run["extra"]["infeasible"] == {"tsp20": 0, "op20": 0}
    assert (d / "results/tables/routing_1_gap.md").exists()
    lock = yaml.safe_load((d / "dvc.lock").read_text())
    assert any(o["path"] == "data/routing" for o in lock["stages"]["data"]["outs"])
    _, out = sh(d, "dvc", "repro")
    assert "up to date" in out.lower()

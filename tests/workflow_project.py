"""Helpers for tests that run the workflow in a temporary project (not a test module).

A project is a copy of the Snakefile, workflow/, profiles/, dvc.yaml and .dvcignore, a symlink to
the library sources (dvc.yaml's deps name them) and its own params.yaml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# the smallest DAG with every rule: one dataset (2 tasks), 2 methods, 1 ratio, 1 seed
TINY_ONE = {
    "datasets": {"digits": {"backbone": "pixels", "tasks": ["mnist", "uci_digits"]}},
    "backbones": {"pixels": {"mean": 0.5, "std": 0.5}},
    "methods": {
        "stl": {"hidden": 32, "steps": 20, "batch_size": 16, "eval_every": 10},
        # lr spelled out (the default): `dvc exp run -S methods.bmtl.lr=...` overrides a key
        "bmtl": {"hidden": 32, "steps": 20, "batch_size": 16, "eval_every": 10, "lr": 1.0e-3},
    },
    "train_ratios": [0.2],
    "seeds": [0],
    "device": "cpu",
    # dvc.yaml's grouping stage reads these params; no dataset is grouped here
    "similarity": {"datasets": []},
    "grouping": {"budgets": [2]},
    "robustness": {},  # dvc.yaml's robustness stage reads it; tests/test_workflow.py runs the rule
    "selection": {"mode": "final", "val_fraction": 0.2},  # dvc.yaml's train and robustness stages read it
}


def env(extra_path: list[str | os.PathLike] = (), **extra) -> dict[str, str]:
    """The test's environment with this Python's bin/ (snakemake, dvc, mtlbench) on PATH."""
    e = dict(os.environ)
    path = [str(p) for p in extra_path] + [str(Path(sys.executable).parent), e.get("PATH", "")]
    e["PATH"] = os.pathsep.join(path)
    e["PYTHONUNBUFFERED"] = "1"
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src")] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    e.update(extra)
    return e


def sh(cwd, *cmd, check=True, environ=None, timeout=900) -> tuple[int, str]:
    """Run ``cmd`` in ``cwd``; returns (exit code, stdout + stderr); raises with the tail on failure."""
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=environ or env(), capture_output=True,
                       text=True, timeout=timeout)
    out = p.stdout + p.stderr
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{out[-4000:]}")
    return p.returncode, out


def make_project(d: Path, params: dict) -> Path:
    """Lay out a workflow project in ``d`` with ``params`` as its params.yaml."""
    d.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, d / name)
    shutil.copytree(ROOT / "workflow", d / "workflow")
    shutil.copytree(ROOT / "profiles", d / "profiles")  # Snakemake's default workflow profile
    (d / "src").symlink_to(ROOT / "src")
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return d


def same_run(a: dict, b: dict) -> dict:
    """The fields of two run JSONs that must agree for the same job (all but wall time)."""
    keys = set(a) | set(b)
    return {k: (a.get(k), b.get(k)) for k in keys if k != "wall_time_s" and a.get(k) != b.get(k)}

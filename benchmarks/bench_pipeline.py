"""Wall time of the whole default pipeline and of a no-op re-run, in one run.

Copies the workflow into a temporary folder (so results/ here is untouched), runs
`snakemake --cores N` on the given params file, then times `snakemake -n` (a no-op
re-run: the planning cost a user pays every time) and `snakemake` again (a no-op
that also checks outputs).  Prints a table and writes results/benchmarks/pipeline.json.

Target: the no-op re-run under 3 s.

    python benchmarks/bench_pipeline.py [--params params.yaml] [--cores 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd, cwd, env) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{(p.stdout + p.stderr)[-3000:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--cores", default="2")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "results/benchmarks/pipeline.json"))
    a = ap.parse_args()

    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory(prefix="mtlbench-bench-") as tmp:
        d = Path(tmp)
        shutil.copy(ROOT / "Snakefile", d)
        shutil.copytree(ROOT / "workflow", d / "workflow")
        shutil.copy(a.params, d / "params.yaml")
        smk = ["snakemake", "--cores", a.cores]
        full = timed(smk, d, env)
        dry = [timed([*smk, "-n"], d, env) for _ in range(a.repeats)]
        noop = [timed(smk, d, env) for _ in range(a.repeats)]

    result = {
        "params": a.params,
        "cores": a.cores,
        "full_pipeline_s": full,
        "noop_dry_run_s": {"median": statistics.median(dry), "min": min(dry), "max": max(dry)},
        "noop_rerun_s": {"median": statistics.median(noop), "min": min(noop), "max": max(noop)},
        "noop_target_s": 3.0,
        "noop_over_full": statistics.median(noop) / full,
    }
    print(f"{'measure':28s} {'seconds':>9s}")
    print(f"{'whole pipeline':28s} {full:9.1f}")
    print(f"{'no-op re-run (-n), median':28s} {result['noop_dry_run_s']['median']:9.2f}")
    print(f"{'no-op re-run, median':28s} {result['noop_rerun_s']['median']:9.2f}  (target < 3 s)")
    print(f"{'no-op / whole pipeline':28s} {result['noop_over_full']:9.4f}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

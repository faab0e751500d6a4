"""Benchmark: the grouping program (CP-SAT, clique partitioning) vs exhaustive search.

For T = 8, 10, 12 both solvers run on the same gain matrices and budgets B = 2, 3, 4
and T; the table shows the partitions the exhaustive search visits (the budget prunes
it: 2^(T-1) partitions for B = 2), each solver's wall time, the ratio exhaustive / MIP
(measured in this run) and whether the objectives agree.  For T = 20 and 30 only the
MIP runs (Bell(20) ≈ 5e13), for the same budgets; "MIP status" says whether it proved
optimality within the time limit.  MIP times include building the model (and the warm
start for T > 16).

Two kinds of gain matrix (seeded):
- ``structured``: tasks in 4 planted clusters, gain +0.02 inside, −0.02 across, plus
  N(0, 0.01²) noise — the shape of measured transfer gains (accuracy differences);
- ``random``: i.i.d. N(0, 1), no structure: the hard case for the LP bound.

A third mode times the program on a gain matrix of the pipeline instead, e.g. the 63
Exam schools' lookahead gains of configs/tabular.yaml (grouping at scale): the status,
the relative gap (bound − objective) / |bound| and the wall time per budget.

Usage: python benchmarks/bench_grouping.py [--quick] [--time-limit 60]
       python benchmarks/bench_grouping.py --gains-file results/similarity/exam/lookahead_pair.json --budgets 2,4,8
Writes results/benchmarks/grouping.json (grouping_file.json with --gains-file).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mtlbench.grouping.exhaustive import bell_number, exhaustive_partition  # noqa: E402
from mtlbench.grouping.mip import partition_tasks  # noqa: E402
from mtlbench.io import write_json  # noqa: E402


def gains(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.normal(0.0, 1.0, size=(n, n))
    labels = rng.integers(0, 4, size=n)
    return np.where(labels[:, None] == labels[None, :], 0.02, -0.02) + rng.normal(0.0, 0.01, size=(n, n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T = 8, 10 and 20 only")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=None, help="CP-SAT workers (default: the solver's choice)")
    ap.add_argument("--gains-file", default=None, help="a similarity JSON: time the program on its matrix")
    ap.add_argument("--budgets", default="2,4,8", help="with --gains-file: budgets, comma-separated")
    ap.add_argument("--out", default=None, help="default: results/benchmarks/grouping.json (grouping_file.json)")
    a = ap.parse_args()
    if a.gains_file:
        return on_file(a)
    a.out = a.out or str(ROOT / "results" / "benchmarks" / "grouping.json")
    rows = []
    small = (8, 10) if a.quick else (8, 10, 12)
    large = (20,) if a.quick else (20, 30)
    print(f"{'gains':<10} {'T':>3} {'B':>3} {'Bell/visited':>14} {'exhaustive s':>13} {'MIP s':>8} "
          f"{'ratio':>8} {'MIP status':>10} {'objectives':>10}")
    for kind in ("structured", "random"):
        for n in small + large:
            g = gains(kind, n, seed=n)
            for budget in (2, 3, 4, n):
                mip = partition_tasks(g, budget, time_limit_s=a.time_limit, num_workers=a.workers)
                row = {"gains": kind, "T": n, "budget": budget, "mip_s": mip.wall_time_s,
                       "mip_status": mip.status, "mip_objective": mip.objective, "mip_bound": mip.bound,
                       "mip_groups": len(mip.groups)}
                if n in small:
                    t0 = time.perf_counter()
                    ex = exhaustive_partition(g, budget)
                    ex_s = time.perf_counter() - t0
                    tol = 1e-5 * np.abs(g).max() * g.size
                    row.update(exhaustive_s=ex_s, exhaustive_objective=ex.objective,
                               partitions_visited=ex.extra["partitions_visited"],
                               speedup=ex_s / mip.wall_time_s,
                               objectives_agree=bool(abs(ex.objective - mip.objective) <= tol))
                rows.append(row)
                visited = f"{row.get('partitions_visited', bell_number(n)):,}"
                print(f"{kind:<10} {n:>3} {budget:>3} {visited:>14} "
                      f"{row.get('exhaustive_s', float('nan')):>13.3f} {mip.wall_time_s:>8.3f} "
                      f"{row.get('speedup', float('nan')):>8.1f} {mip.status:>10} "
                      f"{str(row.get('objectives_agree', '-')):>10}", flush=True)
    import ortools

    write_json(a.out, {"rows": rows, "time_limit_s": a.time_limit, "num_workers": a.workers,
                       "machine": {"platform": platform.platform(), "python": platform.python_version(),
                                   "processor": platform.processor()},
                       "ortools": ortools.__version__,
                       "note": "ratios measured in one run on a shared 2-core CPU; wall times include model building"})
    print(f"wrote {a.out}")


def on_file(a) -> None:
    """The program on the matrix of ``--gains-file`` at each budget: status, gap, time."""
    from mtlbench.similarity.io import read_similarity

    g, rec = read_similarity(a.gains_file)
    tasks = rec["task_order"]
    rows = []
    print(f"{rec['estimator']} on {rec.get('dataset', '?')}: T = {len(tasks)}, time limit {a.time_limit:g} s")
    print(f"{'B':>3} {'status':>9} {'objective':>11} {'bound':>11} {'gap':>8} {'groups':>6} {'MIP s':>8}")
    for budget in (int(b) for b in a.budgets.split(",")):
        mip = partition_tasks(g, budget, time_limit_s=a.time_limit, num_workers=a.workers, tasks=tasks)
        gap = (max(0.0, mip.bound - mip.objective) / max(abs(mip.bound), 1e-12)) if mip.bound is not None else None
        rows.append({"budget": budget, "status": mip.status, "objective": mip.objective, "bound": mip.bound,
                     "gap": gap, "groups": len(mip.groups), "mip_s": mip.wall_time_s})
        print(f"{budget:>3} {mip.status:>9} {mip.objective:>11.4f} {mip.bound if mip.bound is not None else float('nan'):>11.4f} "
              f"{100 * gap if gap is not None else float('nan'):>7.2f}% {len(mip.groups):>6} {mip.wall_time_s:>8.2f}",
              flush=True)
    import ortools

    out = a.out or str(ROOT / "results" / "benchmarks" / "grouping_file.json")
    write_json(out, {"gains_file": a.gains_file, "estimator": rec["estimator"], "dataset": rec.get("dataset"),
                     "n_tasks": len(tasks), "rows": rows, "time_limit_s": a.time_limit, "num_workers": a.workers,
                     "machine": {"platform": platform.platform(), "python": platform.python_version()},
                     "ortools": ortools.__version__})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

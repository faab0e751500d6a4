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

Usage: python benchmarks/bench_grouping.py [--quick] [--time-limit 60]
Writes results/benchmarks/grouping.json.
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
    ap.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "grouping.json"))
    a = ap.parse_args()
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


if __name__ == "__main__":
    main()

"""Relation-step solver time for T = 6 tasks: the exact closed form vs a generic solver.

One AMTNN relation step (Algorithm 1, step 2) solves one small convex problem per task.
This times a whole update (all T rows) with :func:`mtlbench.methods.blocks.relation_step.relation_step`
and, for reference, the same problems through scipy's SLSQP, on random losses/divergences.
Target: under 50 ms per update, so the relation step never dominates an epoch.

    python benchmarks/bench_relation_step.py      # prints, writes results/benchmarks/bench_relation_step.json
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from mtlbench.io import write_json
from mtlbench.methods.blocks.relation_step import kkt_residual, relation_objective, relation_step

T, REPEATS, KAPPA, RHO = 6, 200, 1.0, 0.5
OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "bench_relation_step.json"


def slsqp_step(losses, div, m):
    costs = losses + RHO * div
    cons = ({"type": "eq", "fun": lambda x: x.sum() - 1},)
    rows = []
    for c in costs:
        r = minimize(relation_objective, np.full(T, 1 / T), args=(c, m, KAPPA), method="SLSQP",
                     bounds=[(0, 1)] * T, constraints=cons, options={"ftol": 1e-10, "maxiter": 500})
        rows.append(r.x)
    return np.array(rows)


def main() -> None:
    rng = np.random.default_rng(0)
    problems = []
    for _ in range(REPEATS):
        d = rng.uniform(0.5, 1.0, (T, T))
        d = (d + d.T) / 2
        np.fill_diagonal(d, 0)
        problems.append((rng.uniform(0, 2.5, (T, T)), d, rng.integers(100, 1000, T).astype(float)))

    t0 = time.perf_counter()
    exact = [relation_step(L, d, m, kappa=KAPPA, rho=RHO, kappa_form="paper") for L, d, m in problems]
    t_exact = (time.perf_counter() - t0) / REPEATS
    n_slsqp = 20
    t0 = time.perf_counter()
    generic = [slsqp_step(L, d, m) for L, d, m in problems[:n_slsqp]]
    t_slsqp = (time.perf_counter() - t0) / n_slsqp

    worst_gap = max(kkt_residual(a[t], L[t] + RHO * d[t], m, KAPPA)["gap"]
                    for a, (L, d, m) in zip(exact, problems) for t in range(T))
    obj_diff = max(relation_objective(a[t], L[t] + RHO * d[t], m, KAPPA) - relation_objective(g[t], L[t] + RHO * d[t], m, KAPPA)
                   for a, g, (L, d, m) in zip(exact, generic, problems) for t in range(T))
    result = {
        "tasks": T, "repeats": REPEATS, "kappa": KAPPA, "rho": RHO,
        "closed_form_ms_per_update": t_exact * 1e3, "slsqp_ms_per_update": t_slsqp * 1e3,
        "speedup_closed_form_vs_slsqp": t_slsqp / t_exact, "target_ms": 50.0,
        "meets_target": t_exact * 1e3 < 50.0, "worst_frank_wolfe_gap": worst_gap,
        "max_objective_excess_vs_slsqp": obj_diff, "machine": platform.processor() or platform.machine(),
    }
    print(f"relation step, T={T}: closed form {t_exact * 1e3:.3f} ms/update, SLSQP {t_slsqp * 1e3:.1f} ms/update "
          f"({t_slsqp / t_exact:.0f}x); target < 50 ms: {'met' if result['meets_target'] else 'MISSED'}")
    print(f"worst Frank-Wolfe gap {worst_gap:.2e}; closed form minus SLSQP objective, max {obj_diff:.2e} (<= 0: never worse)")
    write_json(OUT, result)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

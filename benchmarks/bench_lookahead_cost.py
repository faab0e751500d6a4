"""Cost of the transfer-gain estimators, measured in one run on a seeded synthetic problem.

Compares the wall time of (1) one joint training run (the base every estimator pays;
measured as ``lookahead_pair`` with its lookaheads at step 1 only, i.e. the joint training
plus one round of T(T+1)/2 lookaheads),
(2) TAG's affinities (T lookaheads per lookahead step, ``tag_affinity``), (3) the grouping
paper's ``lookahead_pair`` (T(T+1)/2 lookaheads of the real optimiser per lookahead step,
each with a model + optimiser copy and restore) and (4) training every single task and
every pair separately (T + T(T-1)/2 runs of the same schedule, what measured pairwise
gains cost).  Prints the times and the ratios to (1); writes
``results/benchmarks/bench_lookahead_cost.json``.

    python benchmarks/bench_lookahead_cost.py [--tasks 7] [--steps 200] [--every 10] [--dim 64]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def synthetic_problem(n_tasks: int, dim: int, n: int = 400, seed: int = 0):
    from mtlbench.methods import Problem, TaskData

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    w = rng.normal(size=(dim, n_tasks))
    data = {}
    for t in range(n_tasks):
        y = (x @ w[:, t] > 0).astype(np.int64)
        data[f"t{t}"] = TaskData(x[: n // 2], y[: n // 2], x[n // 2:], y[n // 2:])
    return Problem(list(data), 2, data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=7)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--every", type=int, default=10, help="lookahead every this many steps (TAG and lookahead_pair)")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "bench_lookahead_cost.json"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from mtlbench.methods import Problem
    from mtlbench.similarity.lookahead_pair import LookaheadPairHparams, lookahead_pair
    from mtlbench.similarity.tag_affinity import TagAffinityHparams, tag_affinity

    problem = synthetic_problem(args.tasks, args.dim)
    base = dict(hidden=args.hidden, dropout=0.0, steps=args.steps, batch_size=32)
    never = args.steps + 1  # a lookahead at step 1 only: the plain joint training

    def timed(fn, repeats: int = 2):
        """The fastest of ``repeats`` runs (the machine is shared)."""
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best

    # warm-up: torch's first forward / backward / Adam step carry one-off costs
    lookahead_pair(problem, LookaheadPairHparams(**{**base, "steps": 5}, lookahead_every=2))

    times = {
        "joint_training": timed(lambda: lookahead_pair(problem, LookaheadPairHparams(**base, lookahead_every=never))),
        "tag_affinity": timed(lambda: tag_affinity(problem, TagAffinityHparams(**base, affinity_every=args.every))),
        "lookahead_pair": timed(lambda: lookahead_pair(problem, LookaheadPairHparams(**base,
                                                                                    lookahead_every=args.every))),
    }
    groups = [(t,) for t in problem.tasks] + list(itertools.combinations(problem.tasks, 2))

    def every_pair():
        for grp in groups:
            sub = Problem(list(grp), problem.n_classes, {t: problem.data[t] for t in grp})
            lookahead_pair(sub, LookaheadPairHparams(**base, lookahead_every=never))

    times["train_every_pair"] = timed(every_pair)
    ratio = {k: v / times["joint_training"] for k, v in times.items()}
    T = args.tasks
    print(f"T={T}, {args.steps} steps, lookahead every {args.every}: lookaheads per lookahead step: TAG {T}, "
          f"lookahead_pair {T * (T + 1) // 2}; separate trainings: {len(groups)}")
    for k in times:
        print(f"{k:18s} {times[k]:8.2f} s   x{ratio[k]:.2f} of one joint training")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "seconds": times, "ratio_to_joint": ratio}, indent=1))


if __name__ == "__main__":
    main()

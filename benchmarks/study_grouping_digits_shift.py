"""A reduced-scale run of the similarity -> grouping -> evaluation chain on ``digits_shift``.

What the DAG does at full scale (docs/methods.md, "Task similarity and grouping"), in one
process with small settings so it fits a shared CPU: pixels features, one 10 % split per seed, every
estimator, measured transfer gains (each task alone and every pair, bMTL), the
estimator-vs-gain rank correlations, groupings for budgets 2, 3, 4 by the MIP and the
baselines, and the mean test accuracy of every grouping after training its groups.

Usage: python benchmarks/study_grouping_digits_shift.py [--raw DIR] [--seeds 0 1] [--steps 200]
Writes results/benchmarks/digits_shift_grouping.json and prints the tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mtlbench.data.registry import get_dataset  # noqa: E402
from mtlbench.errors import MtlbenchError  # noqa: E402
from mtlbench.features.extract import extract_features  # noqa: E402
from mtlbench.features.table import read_features  # noqa: E402
from mtlbench.grouping import baselines  # noqa: E402
from mtlbench.grouping.evaluate import evaluation_table, records_by_set  # noqa: E402
from mtlbench.grouping.mip import partition_tasks  # noqa: E402
from mtlbench.io import read_json, write_json  # noqa: E402
from mtlbench.methods.bmtl import BMTLHparams  # noqa: E402
from mtlbench.similarity.correlation import correlation_table  # noqa: E402
from mtlbench.similarity.h_divergence import a_distance_matrix  # noqa: E402
from mtlbench.similarity.tag_affinity import TagAffinityHparams, tag_affinity  # noqa: E402
from mtlbench.similarity.transfer_gain import gain_matrix, task_set_accuracy, task_sets  # noqa: E402
from mtlbench.similarity.wasserstein import wasserstein_matrix  # noqa: E402
from mtlbench.splits import make_split, write_split  # noqa: E402
from mtlbench.train import build_problem  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/mtlbench_digits_shift")
    ap.add_argument("--ratio", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "digits_shift_grouping.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    work = Path(a.work)
    spec = get_dataset("digits_shift")
    tasks = list(spec.tasks)
    raw, feats = work / "raw", work / "pixels.parquet"
    if not (raw / "manifest.json").exists():
        spec.build(raw)
    if not feats.exists():
        extract_features(raw, "pixels", {"mean": 0.5, "std": 0.5}, feats, device="cpu", progress=False)
    ft = read_features(feats, columns=("sample_id", "task", "label"))
    splits = []
    for seed in a.seeds:
        path = work / f"split_{a.ratio}_{seed}.parquet"
        if not path.exists():
            write_split(path, make_split(ft.sample_id, ft.task, ft.label, a.ratio, seed), a.ratio, seed)
        splits.append(path)
    problems = [build_problem(feats, s, tasks)[0] for s in splits]
    p0 = problems[0]
    train = [(p0.data[t].x_train, p0.data[t].y_train) for t in tasks]
    timings = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        timings[name] = time.perf_counter() - t0
        print(f"[{time.perf_counter() - t_start:6.0f} s] {name}: {timings[name]:.1f} s", flush=True)
        return out

    est_cache = work / "estimates.json"
    cached = read_json(est_cache) if est_cache.exists() else {}
    if cached:
        est = {k: (np.asarray(m), o) for k, (m, o) in cached.items()}
    else:
        est = None
    est = est or {
        "wasserstein_exact": (timed("wasserstein_exact", lambda: wasserstein_matrix(train, method="exact", n_samples=200)), "distance"),
        "wasserstein_sliced": (timed("wasserstein_sliced", lambda: wasserstein_matrix(train, method="sliced", n_projections=100)), "distance"),
        "wasserstein_label": (timed("wasserstein_label", lambda: wasserstein_matrix(train, method="exact", n_samples=200, label_weight=1.0)), "distance"),
        "h_divergence": (timed("h_divergence", lambda: a_distance_matrix([x for x, _ in train], n_samples=None)), "distance"),
        "tag_affinity": (timed("tag_affinity", lambda: tag_affinity(p0, TagAffinityHparams(hidden=a.hidden, steps=a.steps, affinity_every=10), seed=0)), "similarity"),
    }
    write_json(est_cache, {k: [m, o] for k, (m, o) in est.items()})
    hp = BMTLHparams(hidden=a.hidden, steps=a.steps, eval_every=a.steps)
    cache = work / f"task_sets_{a.ratio}_{'-'.join(map(str, a.seeds))}_{a.hidden}_{a.steps}"

    def train_set(ts):
        """One task-set record, cached on disk so a rerun skips finished trainings."""
        path = cache / ("+".join(ts) + ".json")
        if path.exists():
            return read_json(path)
        rec = task_set_accuracy(problems, ts, hp, a.seeds)
        write_json(path, rec)
        return rec

    records = timed("transfer gains (alone + pairs)", lambda: [train_set(ts) for ts in task_sets(tasks)])
    gain, joint, alone = gain_matrix(records, tasks)
    corr = correlation_table(est, gain)
    print(corr.to_string(index=False))

    groupings_by_budget = {}
    recs = records_by_set(records)
    for budget in (2, 3, 4):
        # TAG / HOA select among groups of at most ceil(T / B) + 1 tasks (the overlap
        # model over all 4,095 subsets of 12 tasks is not solved within the time limit)
        size = -(-len(tasks) // budget) + 1
        res = {"mip": partition_tasks(gain, budget, time_limit_s=60),
               "all_in_one": baselines.all_in_one(len(tasks), gain),
               "each_alone": baselines.each_alone(len(tasks), gain)}
        for name, fn, m in (("tag", baselines.tag_grouping, est["tag_affinity"][0]), ("hoa", baselines.hoa_grouping, gain)):
            try:
                res[name] = fn(m, budget, max_group_size=size, time_limit_s=120, gain=gain)
            except MtlbenchError as e:
                print(f"{name} B={budget}: {e}")
        for name, (m, ori) in est.items():
            res[f"cluster_{name}"] = baselines.cluster_grouping(m, budget, ori, "spectral", gain=gain)
        for s in range(3):
            res[f"random_seed{s}"] = baselines.random_grouping(len(tasks), budget, s, gain)
        needed = {frozenset(tasks[t] for t in g) for r in res.values() for g in r.groups} - set(recs)
        for group in sorted(needed, key=lambda g: sorted(g)):
            recs[group] = train_set([t for t in tasks if t in group])
        frame = evaluation_table({k: r.to_json(tasks) for k, r in res.items()}, recs, tasks)
        frame["objective_eq1"] = [res[k].objective for k in frame.grouping]
        frame["status"] = [res[k].status for k in frame.grouping]
        print(f"\nbudget {budget}  (+{len(needed)} groups trained)")
        print(frame.drop(columns="groups").to_string(index=False))
        groupings_by_budget[budget] = {"table": frame.to_dict(orient="records"),
                                       "mip": res["mip"].to_json(tasks)}
    write_json(a.out, {"tasks": tasks, "ratio": a.ratio, "seeds": a.seeds, "hparams": vars(hp),
                       "gain": gain, "joint_accuracy": joint, "alone_accuracy": alone,
                       "estimates": {k: m for k, (m, _) in est.items()},
                       "correlation": corr.to_dict(orient="records"), "groupings": groupings_by_budget,
                       "timings_s": timings, "total_s": time.perf_counter() - t_start,
                       "note": "reduced scale (hidden, steps, 2 seeds, one 10% split per seed) on a shared CPU"})
    print(f"wrote {a.out} in {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()

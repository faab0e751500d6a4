"""Batched seeds vs one seed after another: VMTL on the default digits data, 5 seeds.

Prints the wall-time ratio sequential / batched (> 1: batching is faster) and the peak
resident memory of each mode, each measured in its own subprocess in one run of this
script, and writes ``results/benchmarks/bench_batched_seeds.json``.

    python benchmarks/bench_batched_seeds.py [--features data/features/digits/pixels.parquet]
        [--splits S0.parquet S1.parquet ...] [--device cpu|cuda]

The default features table is the pipeline's (run `make run` or the features stage
first); without --splits, five stratified 5 % splits (seeds 0-4) are drawn into a
temporary folder.  Any features table + split files work.  The
hyper-parameters are the digits schedule of params.yaml with fewer iterations (the
per-iteration cost is what is compared), one CPU thread unless --threads says otherwise.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HPARAMS = {"hidden": 256, "latent": 128, "steps": 40, "eval_every": 40, "lr": 1e-3, "dropout": 0.5}


def _child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from mtlbench.methods.vmtl import VMTLHparams, fit_predict_many
    from mtlbench.train import build_problem

    hp = VMTLHparams(**HPARAMS)
    problems = [build_problem(args.features, s, args.tasks.split(","))[0] for s in args.splits]
    seeds = list(range(len(problems)))
    t0 = time.perf_counter()
    if args.mode == "batched":
        res = fit_predict_many(hp, problems, seeds, device=args.device, progress=False)
    else:
        res = [fit_predict_many(hp, [p], [s], device=args.device, progress=False)[0] for p, s in zip(problems, seeds)]
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    preds = [{t: r.predictions[t].tolist() for t in problems[0].tasks} for r in res]
    print(json.dumps({"wall_s": wall, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "predictions_sha": __import__("hashlib").sha256(json.dumps(preds).encode()).hexdigest()}))


def _draw_splits(features: str, folder: Path, ratio: float = 0.05, n: int = 5) -> list[str]:
    from mtlbench.features.table import read_features
    from mtlbench.splits import make_split, write_split

    ft = read_features(features, columns=("sample_id", "task", "label"))
    paths = []
    for seed in range(n):
        path = folder / f"r{ratio:g}_s{seed}.parquet"
        write_split(path, make_split(ft.sample_id, ft.task, ft.label, ratio, seed), ratio, seed)
        paths.append(str(path))
    return paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", default=str(ROOT / "data/features/digits/pixels.parquet"))
    p.add_argument("--splits", nargs="+", default=None, help="default: 5 seeds of a 5 %% split, drawn here")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--tasks", default="mnist,mnist_m,uci_digits")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mode", choices=["batched", "sequential"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(ROOT / "results/benchmarks/bench_batched_seeds.json"))
    args = p.parse_args()
    if args.mode:
        _child(args)
        return
    if args.splits is None:
        args.splits = _draw_splits(args.features, Path(tempfile.mkdtemp(prefix="bench-splits-")))
    out = {}
    for mode in ("sequential", "batched"):
        cmd = [sys.executable, __file__, "--mode", mode, "--features", args.features, "--tasks", args.tasks,
               "--threads", str(args.threads), "--device", args.device, "--splits", *args.splits]
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[mode] = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{mode:10s} {out[mode]['wall_s']:7.2f} s  peak RSS {out[mode]['peak_rss_mib']:7.1f} MiB", flush=True)
    ratio = out["sequential"]["wall_s"] / out["batched"]["wall_s"]
    same = out["sequential"]["predictions_sha"] == out["batched"]["predictions_sha"]
    print(f"speed-up sequential/batched: {ratio:.2f}x for {len(args.splits)} seeds; identical predictions: {same}")
    record = {"benchmark": "batched_seeds", "method": "vmtl", "hparams": HPARAMS, "n_seeds": len(args.splits),
              "threads": args.threads, "device": args.device, "speedup": ratio, "identical_predictions": same, **out}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

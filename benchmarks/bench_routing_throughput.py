"""Training throughput of the shared routing model (routing_bmtl's POMO model on all six
tasks): training instances per second, on CPU and, when present, on CUDA.

One step draws ``--batch`` fresh instances of every task, rolls out n starts each by
sampling, and takes one Adam step on the joint loss (:func:`mtlbench.methods.blocks.
pomo_train.train_routing`); after ``--warmup`` untimed steps, ``--steps`` steps are timed
and instances/s = tasks x batch x steps / wall.  Two model sizes: ``reduced`` (embedding 64,
3 layers, 4 heads; the CPU configuration's size) and ``paper`` (embedding 128, 6 layers,
8 heads, the grouping paper's public code).  CPU runs ``--threads`` threads (1 by default,
the machines are shared); CUDA adds the paper's batch of 400.

    python benchmarks/bench_routing_throughput.py [--steps 3] [--batch 16] [--threads 1]
        [--sizes reduced,paper] [--devices cpu,cuda]
                                   # prints, writes results/benchmarks/bench_routing_throughput.json
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from mtlbench.data.routing.instances import TASKS, draw, get_task, instance_rng
from mtlbench.io import write_json
from mtlbench.methods.blocks.pomo import POMOHparams, RoutingModel, pomo_loss, rollout, to_tensors
from mtlbench.methods.blocks.pomo_train import seeded_torch

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "bench_routing_throughput.json"
SIZES = {"reduced": {"embedding_dim": 64, "encoder_layers": 3, "heads": 4, "ff_hidden": 128},
         "paper": {"embedding_dim": 128, "encoder_layers": 6, "heads": 8, "ff_hidden": 512}}


def measure(size: str, device: str, batch: int, steps: int, warmup: int, tasks: list[str]) -> dict:
    hp = POMOHparams(**SIZES[size], batch_size=batch)
    gen = seeded_torch(0, device)
    model = RoutingModel(tasks, hp).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=hp.lr)
    streams = {t: instance_rng(t, 0, "train") for t in tasks}

    def step():
        loss = 0.0
        for t in tasks:
            spec = get_task(t)
            obj, logp, _ = rollout(model, spec, to_tensors(spec, draw(t, batch, streams[t]), device), False, gen)
            loss = loss + pomo_loss(spec, obj, logp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    n = len(tasks) * batch * steps
    return {"size": size, "device": device, "batch_per_task": batch, "steps": steps, "tasks": tasks,
            "wall_s": wall, "instances_per_s": n / wall, "s_per_step": wall / steps,
            "parameters": sum(p.numel() for p in model.parameters())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16, help="instances per task per step on CPU")
    ap.add_argument("--cuda-batches", default="64,400", help="instances per task per step on CUDA")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizes", default="reduced,paper")
    ap.add_argument("--devices", default="cpu,cuda")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tasks = args.tasks.split(",")
    rows = []
    for device in args.devices.split(","):
        if device == "cuda" and not torch.cuda.is_available():
            print("cuda: not available, skipped")
            continue
        batches = [args.batch] if device == "cpu" else [int(b) for b in args.cuda_batches.split(",")]
        for size in args.sizes.split(","):
            for batch in batches:
                r = measure(size, device, batch, args.steps, args.warmup, tasks)
                rows.append(r)
                print(f"{device:4s} {size:7s} batch {batch:3d}/task x {len(tasks)} tasks: "
                      f"{r['instances_per_s']:8.1f} instances/s ({r['s_per_step']:.2f} s/step)", flush=True)
    result = {"rows": rows, "threads": args.threads, "machine": platform.processor() or platform.machine(),
              "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

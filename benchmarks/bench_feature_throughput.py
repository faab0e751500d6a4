"""VGG16 fc7 feature extraction: end to end (files -> table) vs the forward pass alone, same batches.

Takes N real JPEGs from the Office-Caltech10 tar (spread over its four domains), extracts
them to a temporary folder, then in one run:

1. end to end: :func:`extract_vgg16_fc7_files` (DataLoader workers decode and resize,
   pinned batches, the model, shards written and merged), wall time;
2. forward alone: the same batches, already decoded, resized and on the device, through
   normalisation and the model, synchronised.

The ratio forward-alone / end-to-end is the share of the time the model is busy
(target: at least 0.80); the time spent in the model inside the pipeline run over its
wall time gives the same share from a single timing (robust on a shared machine).  Random weights (ImageNet weights cannot be fetched here); the
numbers depend on the architecture, not on the weights.  Prints a table and writes
results/benchmarks/feature_throughput.json.

    python benchmarks/bench_feature_throughput.py [--device cpu|cuda] [--images 64]
        [--batch-size 16] [--workers 2] [--precision fp32|bf16|fp16] [--decode cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DEFAULT_TAR = next((p for p in (ROOT.parent / "shared/data/office_caltech10_images.tar",
                                Path("/work/shared/data/office_caltech10_images.tar")) if p.exists()),
                   ROOT.parent / "shared/data/office_caltech10_images.tar")


def pick_jpegs(tar_path: Path, n: int, dest: Path) -> list[str]:
    """Every k-th JPEG of the tar (all domains represented), extracted under dest."""
    with tarfile.open(tar_path) as t:
        members = sorted((m for m in t.getmembers() if m.isfile() and m.name.lower().endswith(".jpg")),
                         key=lambda m: m.name)
        if n > len(members):
            sys.exit(f"--images {n}: the tar holds {len(members)} JPEGs")
        step = len(members) / n
        chosen = [members[int(i * step)] for i in range(n)]
        for m in chosen:
            t.extract(m, dest, filter="data") if hasattr(tarfile, "data_filter") else t.extract(m, dest)
    return [str(dest / m.name) for m in chosen]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tar", default=str(DEFAULT_TAR))
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    ap.add_argument("--decode", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", default=str(ROOT / "results/benchmarks/feature_throughput.json"))
    a = ap.parse_args()

    import torch

    from mtlbench.features.backbones import (
        IMAGENET_MEAN,
        IMAGENET_STD,
        VGG16Config,
        vgg16_fc7_model,
    )
    from mtlbench.features.image_files import (
        decode_file_cpu,
        extract_vgg16_fc7_files,
        resize_crop_uint8,
    )
    from mtlbench.runinfo import resolve_device

    if a.threads:
        torch.set_num_threads(a.threads)
    device = resolve_device(a.device)
    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads)"
    print(f"device: {device} = {name}")
    cfg = VGG16Config(weights="random", batch_size=a.batch_size, precision=a.precision)
    model = vgg16_fc7_model("random", seed=0).to(dev).eval()
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[a.precision]

    with tempfile.TemporaryDirectory(prefix="mtlbench-feat-") as tmp:
        tmp = Path(tmp)
        paths = pick_jpegs(Path(a.tar), a.images, tmp / "img")
        n = len(paths)

        # the same batches, decoded and on the device, for the forward-alone timing
        pre = torch.stack([resize_crop_uint8(decode_file_cpu(p), cfg.resize, cfg.crop) for p in paths]).to(dev)
        batches = [pre[s: s + a.batch_size] for s in range(0, n, a.batch_size)]
        mean = torch.tensor(IMAGENET_MEAN, device=dev).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=dev).view(1, 3, 1, 1)

        def forward_all():
            outs = []
            with torch.inference_mode():
                for b in batches:
                    x = (b.float().div_(255.0) - mean) / std
                    if dev.type == "cuda":
                        x = x.contiguous(memory_format=torch.channels_last)
                    with torch.autocast(device_type=dev.type, dtype=amp, enabled=amp is not None):
                        outs.append(model(x).float().cpu())  # .cpu() synchronises, as in the pipeline
            return outs

        forward_all() if dev.type == "cuda" else None  # warm-up (cuDNN autotuning, allocator)
        t0 = time.perf_counter()
        forward_all()
        forward_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        summary = extract_vgg16_fc7_files(paths, [f"s{i}" for i in range(n)], ["t"] * n, [0] * n,
                                          tmp / "f.parquet", cfg, device=device, workers=a.workers,
                                          shard_size=max(n, 1), decode=a.decode, model=model, progress=False)
        end_to_end_s = time.perf_counter() - t0

    busy = forward_s / end_to_end_s
    result = {
        "device": device, "device_name": name, "images": n, "batch_size": a.batch_size, "workers": a.workers,
        "precision": a.precision, "decode": a.decode, "weights": "random",
        "forward_only_s": round(forward_s, 3), "end_to_end_s": round(end_to_end_s, 3),
        "forward_inside_pipeline_s": summary["forward_seconds"],
        "forward_only_img_per_s": round(n / forward_s, 2), "end_to_end_img_per_s": round(n / end_to_end_s, 2),
        "model_busy_ratio": round(busy, 3),
        # the same share from inside the one pipeline run (robust to load changing between the two timings)
        "model_busy_inside_pipeline": round(summary["forward_seconds"] / end_to_end_s, 3), "target_ratio": 0.80, "meets_target": busy >= 0.80,
        "torch": torch.__version__,
    }
    print(f"{'images':>8} {'batch':>6} {'workers':>8} {'forward-only img/s':>19} {'end-to-end img/s':>17} {'busy':>6}")
    print(f"{n:>8} {a.batch_size:>6} {a.workers:>8} {result['forward_only_img_per_s']:>19} "
          f"{result['end_to_end_img_per_s']:>17} {busy:>6.2f}  (target >= 0.80: {'met' if busy >= 0.8 else 'not met'})")
    print(f"model busy inside the pipeline run: {result['model_busy_inside_pipeline']:.2f}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""VGG16 fc7 feature extraction: end to end (files -> table) vs the forward pass alone, per decode option.

Takes real JPEGs from the Office-Caltech10 tar (every k-th, so all four domains and their
image sizes are represented), extracts them to a temporary folder, then in one run:

1. decode only, per worker: one process, one torch thread, file bytes in memory ->
   (3, 224, 224) uint8, for each decode option: ``pil-float`` (the pipeline before this
   one: PIL decode, float resize; for reference), ``cpu`` (libjpeg-turbo via torchvision,
   uint8 resize: the default), ``draft`` (``jpeg_draft``: PIL with DCT-domain downscale,
   uint8 resize) and, on CUDA, ``cuda`` (nvjpeg on a batch, one resize per image size) and
   ``cuda-each`` (nvjpeg on a batch, one resize per image).  Images per second per worker
   process: times the workers gives the data path's ceiling.
2. forward alone: the same images, already decoded and on the device, in batches,
   through normalisation and the model, synchronised;
3. end to end, per decode option of ``--decode``: :func:`extract_vgg16_fc7_files`
   (DataLoader workers, pinned batches, the model, shards written and merged), wall time.

busy = forward-alone time / end-to-end time, the share of the time the model is busy
(target: at least 0.80); ``busy inside`` = time in the model inside the pipeline run / its
wall time gives the same share from a single timing (robust on a shared machine); ``in
loop`` = forward-alone time / the streaming part's time (batches, shards written and
appended to the table); ``merge s`` = what is left after it (closing the table; a merge of
every shard only when an image was skipped).  ``--images`` may exceed the tar's
2,533 JPEGs: the list is then repeated, so that worker start-up does not dominate.
``--draft-diff K`` adds the pixel and fc7 differences that draft decoding makes on up to K
of the chosen images it changes (those >= 512 px on both sides).  Random weights (ImageNet
weights cannot be fetched here): the timings depend on the architecture, not the weights.
Prints tables and writes results/benchmarks/feature_throughput.json.

    python benchmarks/bench_feature_throughput.py [--device auto|cpu|cuda] [--images 64]
        [--decode-images 256] [--repeats 3] [--batch-size 16] [--workers 2] [--prefetch 4] [--shard-size 4096]
        [--precision fp32|bf16|fp16] [--decode cpu,draft[,cuda]] [--draft-diff 0]
"""

from __future__ import annotations

import argparse
import io
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
E2E_OPTIONS = {"cpu": {"decode": "cpu"}, "draft": {"decode": "cpu", "jpeg_draft": True}, "cuda": {"decode": "cuda"}}


def pick_jpegs(tar_path: Path, n: int, dest: Path) -> list[str]:
    """Every k-th JPEG of the tar (all domains represented), extracted under dest; more than
    the tar holds: all of them, repeated."""
    with tarfile.open(tar_path) as t:
        members = sorted((m for m in t.getmembers() if m.isfile() and m.name.lower().endswith(".jpg")),
                         key=lambda m: m.name)
        step = len(members) / n
        chosen = [members[int(i * step)] for i in range(n)] if n <= len(members) else members
        for m in chosen:
            if not (dest / m.name).exists():
                t.extract(m, dest, filter="data") if hasattr(tarfile, "data_filter") else t.extract(m, dest)
    paths = [str(dest / m.name) for m in chosen]
    return (paths * (n // len(paths) + 1))[:n]


def pil_float(data: bytes, resize: int = 256, crop: int = 224):
    """The worker pipeline before this one (reference): PIL decode, float antialiased resize, rounded."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("RGB"))
    img = torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()  # as the old decode_file_cpu
    x = F.interpolate(img[None].float(), size=(resize, resize), mode="bilinear", antialias=True, align_corners=False)
    top = (resize - crop) // 2
    return x[0, :, top: top + crop, top: top + crop].round_().clamp_(0, 255).to(torch.uint8)


def decode_only(blobs: list[bytes], option: str, dev, batch_size: int) -> float:
    """Images per second of one process (one torch thread) for one decode option, one pass."""
    import torch

    from mtlbench.features.decode import (
        decode_bytes_batch,
        decode_jpeg_rgb,
        decode_resize_crop,
        resize_crop_uint8,
    )

    if option in ("cuda", "cuda-each"):
        tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
        batches = [tensors[s: s + batch_size] for s in range(0, len(tensors), batch_size)]
        if option == "cuda":
            def step(b):
                return decode_bytes_batch(b, dev, 256, 224)[0]
        else:
            def step(b):
                return torch.stack([resize_crop_uint8(x, 256, 224) for x in decode_jpeg_rgb(b, device=dev)])
        step(batches[0])  # warm-up: nvjpeg handles, allocator
        torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        for b in batches:
            step(b)
        torch.cuda.synchronize(dev)
        return len(blobs) / (time.perf_counter() - t0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a DataLoader worker
    try:
        fn = {"pil-float": pil_float, "cpu": lambda d: decode_resize_crop(d, 256, 224),
              "draft": lambda d: decode_resize_crop(d, 256, 224, draft=True)}[option]
        fn(blobs[0])
        t0 = time.perf_counter()
        for b in blobs:
            fn(b)
        return len(blobs) / (time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)


def draft_differences(paths: list[str], k: int, model, dev, amp, batch_size: int) -> dict:
    """Pixel and fc7 differences of draft vs full decoding on up to k images that draft changes."""
    import torch
    from PIL import Image

    from mtlbench.features.backbones import IMAGENET_MEAN, IMAGENET_STD
    from mtlbench.features.decode import decode_resize_crop

    def size(p):
        with Image.open(p) as im:
            return min(im.size)
    big = [p for p in paths if size(p) >= 512]
    chosen = [big[int(i * len(big) / k)] for i in range(min(k, len(big)))]
    if not chosen:
        return {"images_changed_by_draft": 0, "images": len(paths)}
    blobs = [Path(p).read_bytes() for p in chosen]
    full = torch.stack([decode_resize_crop(b, 256, 224) for b in blobs])
    draft = torch.stack([decode_resize_crop(b, 256, 224, draft=True) for b in blobs])
    d = (full.int() - draft.int()).abs().float()
    mean = torch.tensor(IMAGENET_MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=dev).view(1, 3, 1, 1)

    def fc7(x):
        out = []
        with torch.inference_mode():
            for s in range(0, len(x), batch_size):
                b = (x[s: s + batch_size].to(dev).float() / 255 - mean) / std
                with torch.autocast(device_type=dev.type, dtype=amp, enabled=amp is not None):
                    out.append(model(b).float().cpu())
        return torch.cat(out)

    ff, fd = fc7(full), fc7(draft)
    rel = (fd - ff).norm(dim=1) / ff.norm(dim=1)
    cos = torch.nn.functional.cosine_similarity(fd, ff)
    dist = torch.cdist(ff, ff)
    dist.fill_diagonal_(float("inf"))
    nearest = dist.min(1).values / ff.norm(dim=1) if len(ff) > 1 else torch.tensor([float("nan")])
    return {
        "images": len(paths), "images_changed_by_draft": len(big), "compared": len(chosen),
        "pixel_mean_abs_diff": round(float(d.mean()), 3),
        "pixel_mean_abs_diff_worst_image": round(float(d.mean((1, 2, 3)).max()), 3),
        "pixel_max_abs_diff": int(d.max()), "pixel_share_diff_gt4": round(float((d > 4).float().mean()), 4),
        "fc7_rel_l2_median": round(float(rel.median()), 4), "fc7_rel_l2_max": round(float(rel.max()), 4),
        "fc7_cosine_min": round(float(cos.min()), 5),
        # scale: how far the nearest *other* image's features are
        "fc7_nearest_other_image_rel_l2_median": round(float(nearest.median()), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tar", default=str(DEFAULT_TAR))
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    ap.add_argument("--images", type=int, default=64, help="images for the forward-alone and end-to-end timings")
    ap.add_argument("--decode-images", type=int, default=None,
                    help="images for the decode-only timing (default: --images; 0: skip it)")
    ap.add_argument("--repeats", type=int, default=3, help="decode-only passes per option (the best counts)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--prefetch", type=int, default=4, help="batches each worker prepares ahead")
    ap.add_argument("--shard-size", type=int, default=4096, help="images per shard (the pipeline's default)")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    ap.add_argument("--decode", default=None,
                    help="end-to-end decode options, comma-separated: cpu, draft, cuda (default: cpu,draft and, "
                    "on CUDA, cuda)")
    ap.add_argument("--draft-diff", type=int, default=0, help="compare draft vs full decoding on up to K images (0: skip)")
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
    from mtlbench.features.decode import decode_resize_crop
    from mtlbench.features.image_files import extract_vgg16_fc7_files
    from mtlbench.runinfo import resolve_device

    if a.threads:
        torch.set_num_threads(a.threads)
    device = resolve_device(a.device)
    dev = torch.device(device)
    options = (a.decode or ("cpu,draft,cuda" if dev.type == "cuda" else "cpu,draft")).split(",")
    bad = [o for o in options if o not in E2E_OPTIONS or (o == "cuda" and dev.type != "cuda")]
    if bad:
        sys.exit(f"--decode {a.decode}: {bad} not available; allowed: cpu, draft" + (", cuda" if dev.type == "cuda" else ""))
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads)"
    print(f"device: {device} = {name}", flush=True)
    cfg = VGG16Config(weights="random", batch_size=a.batch_size, precision=a.precision)
    model = vgg16_fc7_model("random", seed=0).to(dev).eval()
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[a.precision]
    result = {"device": device, "device_name": name, "batch_size": a.batch_size, "workers": a.workers,
              "prefetch": a.prefetch, "shard_size": a.shard_size, "precision": a.precision, "weights": "random", "torch": torch.__version__,
              "target_ratio": 0.80}

    with tempfile.TemporaryDirectory(prefix="mtlbench-feat-") as tmp:
        tmp = Path(tmp)
        paths = pick_jpegs(Path(a.tar), a.images, tmp / "img")
        n = len(paths)
        result["images"] = n

        # 1. decode only, per worker
        dec_paths = paths if a.decode_images is None else pick_jpegs(Path(a.tar), a.decode_images, tmp / "img") if a.decode_images else []
        blobs = [Path(p).read_bytes() for p in dec_paths]
        dec_options = ["pil-float", "cpu", "draft"] + (["cuda", "cuda-each"] if dev.type == "cuda" else [])
        dec_options = dec_options if blobs else []  # --decode-images 0: no decode-only timing
        print("" if not blobs else f"\ndecode only ({len(blobs)} images, one process, one torch thread; cuda*: batches of "
              f"{a.batch_size}; best of {a.repeats} interleaved passes)")
        rates = {o: [] for o in dec_options}
        for _ in range(a.repeats):  # interleaved, so that a change in the machine's load hits every option
            for o in dec_options:
                rates[o].append(decode_only(blobs, o, dev, a.batch_size))
        decode_rate = {o: round(max(r), 1) for o, r in rates.items()}
        for o in dec_options:
            print(f"  {o:10s} {decode_rate[o]:9.1f} img/s per worker   ({decode_rate[o] / decode_rate['pil-float']:.2f}x pil-float)",
                  flush=True)
        if blobs:
            print(f"  ({a.workers} workers x cpu: {a.workers * decode_rate['cpu']:.0f} img/s ceiling of the data path)")
        result["decode_images"] = len(blobs)
        result["decode_only_img_per_s_per_worker"] = decode_rate

        # 2. forward alone: the same batches, decoded and on the device
        crops = {p: decode_resize_crop(Path(p).read_bytes(), cfg.resize, cfg.crop) for p in dict.fromkeys(paths)}
        pre = torch.stack([crops[p] for p in paths]).to(dev)
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
        result["forward_only_s"] = round(forward_s, 3)
        result["forward_only_img_per_s"] = round(n / forward_s, 2)
        print(f"\nforward alone: {n} images in {forward_s:.2f} s = {n / forward_s:.1f} img/s", flush=True)

        # 3. end to end, per decode option
        result["end_to_end"] = {}
        print(f"\n{'decode':>8} {'images':>7} {'batch':>6} {'workers':>8} {'forward-only img/s':>19} "
              f"{'end-to-end img/s':>17} {'busy':>6} {'busy inside':>12} {'in loop':>8} {'merge s':>8}")
        for o in options:
            t0 = time.perf_counter()
            summary = extract_vgg16_fc7_files(paths, [f"s{i}" for i in range(n)], ["t"] * n, [0] * n,
                                              tmp / f"f_{o}.parquet", cfg, device=device, workers=a.workers,
                                              shard_size=a.shard_size, model=model, progress=False,
                                              prefetch=a.prefetch, **E2E_OPTIONS[o])
            e2e = time.perf_counter() - t0
            busy, inside = forward_s / e2e, summary["forward_seconds"] / e2e
            result["end_to_end"][o] = {
                "end_to_end_s": round(e2e, 3), "end_to_end_img_per_s": round(n / e2e, 2),
                "forward_inside_pipeline_s": summary["forward_seconds"], "model_busy_ratio": round(busy, 3),
                "model_busy_inside_pipeline": round(inside, 3), "meets_target": busy >= 0.80,
                # the streaming part (workers start, batches, shards written and appended to the table) and
                # what is left after it (nothing, or the merge of every shard when one skipped an image)
                "loop_s": summary["loop_seconds"], "merge_s": summary["merge_seconds"],
                "model_busy_in_loop": round(forward_s / summary["loop_seconds"], 3)}
            print(f"{o:>8} {n:>7} {a.batch_size:>6} {a.workers:>8} {n / forward_s:>19.1f} {n / e2e:>17.1f} "
                  f"{busy:>6.2f} {inside:>12.2f} {forward_s / summary['loop_seconds']:>8.2f} {summary['merge_seconds']:>8.2f}"
                  f"  (target >= 0.80: {'met' if busy >= 0.8 else 'not met'})", flush=True)

        if a.draft_diff:
            all_paths = sorted(set(paths) | set(dec_paths))
            result["draft_differences"] = draft_differences(all_paths, a.draft_diff, model, dev, amp, a.batch_size)
            print("\ndraft vs full decoding:", json.dumps(result["draft_differences"], indent=1))

    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

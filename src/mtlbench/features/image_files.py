"""VGG16 fc7 over image files at full scale: DataLoader decoding, sharded resumable output.

:func:`extract_vgg16_fc7_files` runs the fc7 model over a list of image files (any size,
JPEG/PNG/...) and writes the features table (:mod:`mtlbench.features.table`):

- decoding and the square resize + centre crop run in DataLoader workers (PIL decode,
  ``resize x resize`` bilinear with antialiasing, centre ``crop``, rounded to uint8), the
  batches travel in pinned memory when the device is CUDA; normalisation and the model
  run on the device, in fp32 or under bf16/fp16 autocast (recorded in the metadata);
- optionally (``decode="cuda"``, only where CUDA is present) workers only read the file
  bytes and JPEGs are decoded on the GPU (``torchvision.io.decode_jpeg(device="cuda")``)
  and resized there, because CPU JPEG decoding caps throughput well below the model's;
  files that are not JPEG fall back to the CPU decoder;
- output goes to shards of ``shard_size`` samples,
  ``<out stem>.shards/NNNNN.parquet``, each written atomically; a run that is
  interrupted resumes from the last complete shard; the shards are then merged into
  ``out`` row group by row group (memory of one shard, not of the dataset);
- an unreadable image stops the run with its path, unless ``skip_unreadable`` is set,
  in which case it is left out and listed in the metadata (``skipped``).

Features do not depend on the batch size (each image is preprocessed alone), so
``batch_size`` and ``workers`` are not part of the shards' identity.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..io import atomic_path, config_hash, write_json
from .backbones import IMAGENET_MEAN, IMAGENET_STD, VGG16FC7, VGG16Config
from .table import META_KEY, read_metadata, write_features

PLAN = "plan.json"


def resize_crop_uint8(img, resize: int, crop: int):
    """(3, H, W) uint8 tensor -> (3, crop, crop) uint8: square resize (bilinear, antialias), centre crop.

    The same arithmetic on the CPU (workers) and on the GPU (``decode="cuda"``).
    """
    import torch
    import torch.nn.functional as F

    x = F.interpolate(img[None].float(), size=(resize, resize), mode="bilinear", antialias=True,
                      align_corners=False)
    top = (resize - crop) // 2
    x = x[0, :, top: top + crop, top: top + crop]
    return x.round_().clamp_(0, 255).to(torch.uint8)


def decode_file_cpu(path: str):
    """Decode any PIL-readable image to a (3, H, W) uint8 tensor (grey and CMYK to RGB)."""
    import torch
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


class ImageFiles:
    """Map-style dataset over files: (index, (3, crop, crop) uint8 or raw bytes, error or None)."""

    def __init__(self, paths: Sequence[str], resize: int, crop: int, raw_bytes: bool):
        self.paths, self.resize, self.crop, self.raw_bytes = list(paths), resize, crop, raw_bytes

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import torch

        path = self.paths[i]
        try:
            if self.raw_bytes:
                with open(path, "rb") as f:
                    data = f.read()
                if not data:
                    raise OSError("empty file")
                return i, torch.frombuffer(bytearray(data), dtype=torch.uint8), None
            return i, resize_crop_uint8(decode_file_cpu(path), self.resize, self.crop), None
        except Exception as e:  # any decoder error: reported by path, decided by the caller
            return i, None, f"{type(e).__name__}: {e}"


def _collate(items):
    import torch

    ok = [(i, x) for i, x, err in items if err is None]
    failed = [(i, err) for i, x, err in items if err is not None]
    idx = [i for i, _ in ok]
    if ok and ok[0][1].dim() == 3:
        return idx, torch.stack([x for _, x in ok]), failed
    return idx, [x for _, x in ok], failed


def _worker_init(_):
    import torch

    torch.set_num_threads(1)  # one decode per worker process; the workers are the parallelism


def decode_bytes_batch(blobs, device, resize: int, crop: int):
    """Raw file bytes -> ((B', 3, crop, crop) uint8 on ``device``, [(position, error)] of undecodable ones).

    JPEGs are decoded in one ``torchvision.io.decode_jpeg`` call on ``device`` (nvjpeg on
    CUDA); other formats, and a batch whose joint decode fails, fall back to one-by-one
    decoding so that a bad file is reported by itself.
    """
    import warnings

    with warnings.catch_warnings():
        # torchvision 0.29 announces a move of its decoders to TorchCodec; they still work
        warnings.simplefilter("ignore", DeprecationWarning)
        return _decode_bytes_batch(blobs, device, resize, crop)


def _decode_bytes_batch(blobs, device, resize: int, crop: int):
    import torch
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg

    out: list = [None] * len(blobs)
    failed: list[tuple[int, str]] = []
    jpeg_at = [k for k, b in enumerate(blobs) if len(b) > 2 and b[0] == 0xFF and b[1] == 0xD8]
    if jpeg_at:
        try:
            decoded = decode_jpeg([blobs[k] for k in jpeg_at], mode=ImageReadMode.RGB, device=device)
            for k, img in zip(jpeg_at, decoded):
                out[k] = img
        except RuntimeError:
            pass  # one bad file spoils the batch call: decode one by one below
    for k, b in enumerate(blobs):
        if out[k] is not None:
            continue
        try:
            if k in jpeg_at:
                out[k] = decode_jpeg(b, mode=ImageReadMode.RGB, device=device)
            else:  # PNG, BMP, ...: the CPU decoder
                out[k] = decode_image(b, mode=ImageReadMode.RGB).to(device)
        except RuntimeError as e:
            failed.append((k, f"{type(e).__name__}: {e}"))
    good = [resize_crop_uint8(img, resize, crop) for img in out if img is not None]
    x = torch.stack(good) if good else torch.empty((0, 3, crop, crop), dtype=torch.uint8, device=device)
    return x, failed


def _plan(sample_ids: Sequence[str], paths: Sequence[str], config: VGG16Config, shard_size: int, decode: str) -> dict:
    # only what changes the numbers: not batch_size, workers or device
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "batch_size"}
    return {"settings": settings, "shard_size": shard_size, "decode": decode, "num_samples": len(sample_ids),
            "samples_sha256": config_hash([list(sample_ids), list(paths)])}


def shard_dir_for(out_path: str | os.PathLike) -> Path:
    out_path = Path(out_path)
    return out_path.with_name(out_path.name.removesuffix(".parquet") + ".shards")


def extract_vgg16_fc7_files(
    paths: Sequence[str],
    sample_ids: Sequence[str],
    tasks: Sequence[str],
    labels: Sequence[int],
    out_path: str | os.PathLike,
    config: VGG16Config,
    *,
    device: str = "cpu",
    workers: int = 4,
    shard_size: int = 4096,
    skip_unreadable: bool = False,
    decode: str = "cpu",
    metadata: dict | None = None,
    model=None,
    progress: bool = True,
) -> dict:
    """Features of every image file -> the features table at ``out_path``; returns a summary.

    ``paths``, ``sample_ids``, ``tasks``, ``labels``: one entry per image, in output order.
    ``decode``: 'cpu' (PIL in the workers, the default) or 'cuda' (JPEG decode on the GPU;
    only with a CUDA device).  ``model``: an already built :func:`vgg16_fc7_model` (tests,
    benchmarks); otherwise it is built from ``config`` when a shard needs computing.
    The summary holds ``computed_shards``, ``reused_shards``, ``skipped``, ``seconds`` and
    ``forward_seconds`` (time in the model, synchronised).
    """
    import torch
    from tqdm.auto import tqdm

    n = len(paths)
    if not (len(sample_ids) == len(tasks) == len(labels) == n):
        raise DataError("paths, sample_ids, tasks and labels differ in length")
    if n == 0:
        raise DataError("no images to extract")
    if decode not in ("cpu", "cuda"):
        raise ConfigError(f"decode: {decode!r}; allowed: 'cpu', 'cuda'")
    if decode == "cuda" and not str(device).startswith("cuda"):
        raise ConfigError(f"decode: 'cuda' needs a CUDA device, got device {device!r}; use decode: 'cpu'")
    if shard_size < 1:
        raise ConfigError("shard_size: must be >= 1")
    config.check("backbones.vgg16_fc7")
    out_path = Path(out_path)
    shard_dir = shard_dir_for(out_path)
    plan = _plan(sample_ids, paths, config, shard_size, decode)
    plan_path = shard_dir / PLAN
    if plan_path.exists() and json.loads(plan_path.read_text()) != plan:
        print(f"{shard_dir}: shards were made with other settings or samples; starting again", file=sys.stderr)
        for f in shard_dir.glob("*.parquet"):
            f.unlink()
    shard_dir.mkdir(parents=True, exist_ok=True)
    write_json(plan_path, plan)

    n_shards = (n + shard_size - 1) // shard_size
    shard_path = [shard_dir / f"{k:05d}.parquet" for k in range(n_shards)]
    pending = [k for k in range(n_shards) if not shard_path[k].exists()]
    started = time.perf_counter()
    forward_s = 0.0
    meta_base = dict(VGG16FC7.describe(config), config=dataclasses.asdict(config), decode=decode,
                     preprocessing_detail=f"decode RGB ({'GPU nvjpeg for JPEG' if decode == 'cuda' else 'PIL'}), "
                     f"resize {config.resize}x{config.resize} bilinear antialias, centre crop {config.crop}, "
                     "rounded to uint8, /255, ImageNet mean/std", **(metadata or {}))

    if pending:
        device_t = torch.device(device)
        if model is None:
            from .backbones import vgg16_fc7_model

            model = vgg16_fc7_model(config.weights, config.seed)
        model = model.to(device_t).eval()
        if device_t.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[config.precision]
        mean = torch.tensor(IMAGENET_MEAN, device=device_t).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=device_t).view(1, 3, 1, 1)
        batches = [list(range(s, min(s + config.batch_size, (k + 1) * shard_size, n)))
                   for k in pending for s in range(k * shard_size, min((k + 1) * shard_size, n), config.batch_size)]
        loader = torch.utils.data.DataLoader(
            ImageFiles(paths, config.resize, config.crop, raw_bytes=decode == "cuda"),
            batch_sampler=batches, num_workers=workers, collate_fn=_collate,
            pin_memory=device_t.type == "cuda" and decode == "cpu", worker_init_fn=_worker_init if workers else None,
            persistent_workers=False, prefetch_factor=4 if workers else None)
        feats: dict[int, np.ndarray] = {}
        skipped: dict[int, list] = {}
        bar = tqdm(total=sum(len(b) for b in batches), unit="img", desc="vgg16_fc7", disable=not progress)
        with torch.inference_mode():
            for idx, batch, failed in loader:
                x = None
                if idx and decode == "cuda":
                    x, bad = decode_bytes_batch(batch, device_t, config.resize, config.crop)
                    bad_pos = {k for k, _ in bad}
                    failed = failed + [(idx[k], err) for k, err in bad]
                    idx = [i for k, i in enumerate(idx) if k not in bad_pos]
                for i, err in failed:
                    if not skip_unreadable:
                        raise DataError(f"unreadable image {paths[i]} (sample {sample_ids[i]}): {err}. "
                                        "Replace the file, or set skip_unreadable: true to leave it out")
                    skipped.setdefault(i // shard_size, []).append(
                        {"sample_id": sample_ids[i], "path": str(paths[i]), "error": err})
                if idx:
                    if x is None:
                        x = batch.to(device_t, non_blocking=True)
                    t0 = time.perf_counter()
                    x = (x.float().div_(255.0) - mean) / std
                    if device_t.type == "cuda":
                        x = x.contiguous(memory_format=torch.channels_last)
                    with torch.autocast(device_type=device_t.type, dtype=amp, enabled=amp is not None):
                        y = model(x)
                    y = y.float().cpu().numpy()  # synchronises: the forward time is real
                    forward_s += time.perf_counter() - t0
                    for i, row in zip(idx, y):
                        feats[i] = row
                bar.update(len(idx) + len(failed))
                k = (idx or [i for i, _ in failed])[0] // shard_size
                lo, hi = k * shard_size, min((k + 1) * shard_size, n)
                done = sum(1 for i in range(lo, hi) if i in feats) + len(skipped.get(k, []))
                if done == hi - lo:
                    _write_shard(shard_path[k], range(lo, hi), feats, sample_ids, tasks, labels,
                                 dict(meta_base, shard=k, skipped=skipped.pop(k, [])))
                    for i in range(lo, hi):
                        feats.pop(i, None)
        bar.close()
    summary = merge_shards(shard_path, out_path, meta_base)
    summary.update(computed_shards=len(pending), reused_shards=n_shards - len(pending),
                   seconds=round(time.perf_counter() - started, 3), forward_seconds=round(forward_s, 3))
    return summary


def _write_shard(path: Path, rows: range, feats: dict, sample_ids, tasks, labels, meta: dict) -> None:
    keep = [i for i in rows if i in feats]
    feature = np.stack([feats[i] for i in keep]) if keep else np.zeros((0, 4096), np.float32)
    write_features(path, [sample_ids[i] for i in keep], [tasks[i] for i in keep],
                   np.asarray([labels[i] for i in keep], dtype=np.int64), feature, meta)


def merge_shards(shard_paths: Sequence[Path], out_path: Path, meta: dict) -> dict:
    """Concatenate the shards (in order) into one table, one row group per shard, atomically."""
    import pyarrow.parquet as pq

    metas = [read_metadata(p) for p in shard_paths]
    skipped = [s for m in metas for s in m.get("skipped", [])]
    num = sum(m["num_samples"] for m in metas)
    if num == 0:
        raise DataError(f"{out_path}: every image was skipped as unreadable")
    final = dict(meta, skipped=skipped, shards=len(shard_paths), feature_dim=4096, num_samples=num)
    final.pop("shard", None)
    first = pq.read_schema(shard_paths[0])
    schema = first.with_metadata({META_KEY: json.dumps(final, sort_keys=True).encode()})
    with atomic_path(out_path) as tmp:
        with pq.ParquetWriter(tmp, schema) as writer:
            for p in shard_paths:
                table = pq.read_table(p)
                if table.num_rows:
                    writer.write_table(table.replace_schema_metadata(schema.metadata))
    return {"num_samples": num, "skipped": skipped, "shards": len(shard_paths)}


def extract_index_features(raw_dir: str | os.PathLike, out_path: str | os.PathLike, config: dict, *,
                           device: str = "cpu", workers: int = 4, shard_size: int = 4096,
                           skip_unreadable: bool = False, decode: str = "cpu", progress: bool = True,
                           model=None) -> dict:
    """The features stage for an image-file dataset: ``raw_dir/index.parquet`` -> VGG16 fc7 table.

    ``model``: an already built fc7 model (tests); by default it is built from ``config``.
    """
    from ..config import build_dataclass
    from ..data.prepare import MANIFEST, read_index
    from ..io import read_json

    cfg = build_dataclass(VGG16Config, config, "backbones.vgg16_fc7")
    raw_dir = Path(raw_dir)
    records = read_index(raw_dir)
    manifest = read_json(raw_dir / MANIFEST)
    meta = {"dataset": manifest.get("dataset"), "classes": manifest.get("classes"),
            "source_files": manifest.get("files", {}),
            "source_archives": {s["filename"]: s["sha256"] for s in manifest.get("sources", [])},
            "task_types": {}, "splits": {r.sample_id: r.split for r in records if r.split is not None} or None}
    return extract_vgg16_fc7_files([str(raw_dir / r.path) for r in records], [r.sample_id for r in records],
                                   [r.task for r in records], [r.label for r in records], out_path, cfg,
                                   device=device, workers=workers, shard_size=shard_size,
                                   skip_unreadable=skip_unreadable, decode=decode, metadata=meta,
                                   progress=progress, model=model)

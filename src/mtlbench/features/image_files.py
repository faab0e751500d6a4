"""VGG16 fc7 over image files at full scale: DataLoader decoding, sharded resumable output.

:func:`extract_index_features` is the features stage of every image-file dataset (the
downloaded releases and ``kind: image_folder``): it reads the image index of the raw
folder (:mod:`mtlbench.data.raw`) and runs :func:`extract_vgg16_fc7_files`, which runs
the fc7 model over the images (any size, JPEG/PNG/..., in a folder or a tar/zip archive)
and writes the features table (:mod:`mtlbench.features.table`):

- decoding, the square resize and the centre crop run in DataLoader workers
  (:mod:`mtlbench.features.decode`: libjpeg-turbo through torchvision for JPEGs, PIL for
  other formats; ``resize x resize`` bilinear with antialiasing in uint8; centre
  ``crop``); workers return uint8 batches, which travel in pinned memory when the device
  is CUDA; normalisation and the model run on the device, in fp32 or under bf16/fp16
  autocast (recorded in the metadata);
- optionally (``jpeg_draft``) JPEGs are decoded by PIL at a reduced DCT scale (faster on
  large images; slightly different pixels, recorded in the metadata);
- optionally (``decode="cuda"``, only where CUDA is present) workers only read the file
  bytes and JPEGs are decoded on the GPU (``torchvision.io.decode_jpeg(device="cuda")`` on
  the batch) and resized there, one resize call per distinct image size; files that are
  not JPEG fall back to the CPU decoder;
- output goes to shards of ``shard_size`` samples,
  ``<out stem>.shards/NNNNN.parquet``, each written atomically; a run that is
  interrupted resumes from the last complete shard; each shard is also appended, in
  order, to the merged table ``out`` (one row group per shard; memory of a few shards,
  not of the dataset), in a background thread while the next batches run (see
  :class:`_Output`);
- an unreadable image stops the run with its path, unless ``skip_unreadable`` is set,
  in which case it is left out and listed in the metadata (``skipped``).

Features do not depend on the batch size (each image is preprocessed alone), so
``batch_size``, ``workers`` and ``prefetch`` are not part of the shards' identity.
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
from .decode import decode_bytes_batch, decode_error, decode_resize_crop, decode_rgb_tensor
from .table import META_KEY, features_table, provenance, read_metadata, write_features

PLAN = "plan.json"


class ImageFiles:
    """Map-style dataset over an image root: item i is (i, tensor or None, error or None).

    ``images``: a reader with ``read(path) -> bytes`` and ``describe(path)``
    (:class:`~mtlbench.data.raw.FolderImages`, or a :class:`~mtlbench.data.sources.Source`
    for an archive; reopened in each worker).  ``mode``: 'crop' -> the (3, crop, crop)
    uint8 input crop; 'draft' -> the same with JPEG draft decoding; 'bytes' -> the raw
    file bytes (decoded on the GPU); 'full' -> the whole decoded (3, H, W) image.
    """

    MODES = ("crop", "draft", "bytes", "full")

    def __init__(self, images, paths: Sequence[str], resize: int, crop: int, mode: str = "crop"):
        if mode not in self.MODES:
            raise ValueError(f"mode {mode!r}; allowed: {self.MODES}")
        self.images, self.paths, self.resize, self.crop, self.mode = images, list(paths), resize, crop, mode

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import torch

        path = self.paths[i]
        try:
            data = self.images.read(path)
            if not data:
                raise OSError("empty file")
            if self.mode == "bytes":
                return i, torch.frombuffer(bytearray(data), dtype=torch.uint8), None
            where = self.images.describe(path)
            if self.mode == "full":
                return i, decode_rgb_tensor(data, where).contiguous(), None
            return i, decode_resize_crop(data, self.resize, self.crop, draft=self.mode == "draft", where=where), None
        except Exception as e:  # any decoder error: reported by path, decided by the caller
            return i, None, decode_error(e)


def _collate(items):
    import torch

    ok = [(i, x) for i, x, err in items if err is None]
    failed = [(i, err) for i, x, err in items if err is not None]
    idx = [i for i, _ in ok]
    if ok and ok[0][1].dim() == 3:
        try:
            return idx, torch.stack([x for _, x in ok]), failed
        except RuntimeError:  # 'full' images of different sizes: the caller says what to do
            pass
    return idx, [x for _, x in ok], failed


def _worker_init(_):
    import torch

    torch.set_num_threads(1)  # one decode per worker process; the workers are the parallelism


def image_loader(dataset: ImageFiles, batches, workers: int, pin_memory: bool, prefetch: int = 4):
    """The DataLoader over ``batches`` (lists of indices), ``workers`` processes, uint8 out."""
    import torch

    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batches, num_workers=workers, collate_fn=_collate, pin_memory=pin_memory,
        worker_init_fn=_worker_init if workers else None, persistent_workers=False,
        prefetch_factor=prefetch if workers else None)


def preprocessing_detail(config: VGG16Config, decode: str, jpeg_draft: bool) -> str:
    if decode == "cuda":
        how = "nvjpeg on the GPU for JPEGs (PIL for other formats), resize in float on the GPU, rounded"
    elif jpeg_draft:
        how = (f"JPEGs with both sides >= {2 * config.resize} px: PIL with draft (DCT-domain downscale by 1/2, 1/4 "
               f"or 1/8 keeping both sides >= {config.resize}); smaller JPEGs libjpeg-turbo via torchvision; other "
               "formats PIL; resize in uint8 (torchvision)")
    else:
        how = "libjpeg-turbo via torchvision for JPEGs (PIL for other formats), resize in uint8 (torchvision)"
    return (f"decode RGB ({how}); resize {config.resize}x{config.resize} bilinear antialias (not aspect-preserving), "
            f"centre crop {config.crop}, uint8, /255, ImageNet mean/std on the device")


# the workers' preprocessing: part of the shards' identity, so that shards made by an
# earlier pipeline (PIL decode, float resize) are not mixed with these
PIPELINE = "v2: torchvision uint8 resize"


def _plan(sample_ids: Sequence[str], paths: Sequence[str], config: VGG16Config, shard_size: int, decode: str,
          jpeg_draft: bool) -> dict:
    # only what changes the numbers: not batch_size, workers, prefetch or device
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "batch_size"}
    return {"settings": settings, "shard_size": shard_size, "decode": decode, "jpeg_draft": jpeg_draft,
            "pipeline": PIPELINE, "num_samples": len(sample_ids),
            "samples_sha256": config_hash([list(sample_ids), list(paths)])}


def shard_dir_for(out_path: str | os.PathLike) -> Path:
    out_path = Path(out_path)
    return out_path.with_name(out_path.name.removesuffix(".parquet") + ".shards")


def check_decode(decode: str, jpeg_draft: bool, device: str) -> None:
    if decode not in ("cpu", "cuda"):
        raise ConfigError(f"decode: {decode!r}; allowed: 'cpu', 'cuda'")
    if decode == "cuda" and not str(device).startswith("cuda"):
        raise ConfigError(f"decode: 'cuda' needs a CUDA device, got device {device!r}; use decode: 'cpu'")
    if decode == "cuda" and jpeg_draft:
        raise ConfigError("jpeg_draft: true works with decode: 'cpu' only (nvjpeg has no DCT-domain downscale)")


def extract_vgg16_fc7_files(
    paths: Sequence[str],
    sample_ids: Sequence[str],
    tasks: Sequence[str],
    labels: Sequence[int],
    out_path: str | os.PathLike,
    config: VGG16Config,
    *,
    images=None,
    device: str = "cpu",
    workers: int = 4,
    shard_size: int = 4096,
    skip_unreadable: bool = False,
    decode: str = "cpu",
    jpeg_draft: bool = False,
    prefetch: int = 4,
    metadata: dict | None = None,
    model=None,
    progress: bool = True,
) -> dict:
    """Features of every image file -> the features table at ``out_path``; returns a summary.

    ``paths``, ``sample_ids``, ``tasks``, ``labels``: one entry per image, in output order;
    ``paths`` relative to ``images`` (a reader with ``read``/``describe``, e.g. from
    :meth:`mtlbench.data.raw.RawImageFiles.images`; default: the file system, so plain
    paths).  ``decode``: 'cpu' (in the workers, the default) or 'cuda' (JPEG decode on the
    GPU; only with a CUDA device).  ``jpeg_draft``: CPU decoding of JPEGs with PIL's DCT
    downscale (faster on large images, slightly different pixels; recorded in the
    metadata).  ``prefetch``: batches each worker prepares ahead.  ``model``: an already
    built :func:`vgg16_fc7_model` (tests, benchmarks); otherwise it is built from
    ``config`` when a shard needs computing.  The summary holds ``computed_shards``,
    ``reused_shards``, ``skipped``, ``seconds`` and ``forward_seconds`` (time in the model,
    synchronised).
    """
    import torch
    from tqdm.auto import tqdm

    from ..data.raw import FolderImages

    images = images if images is not None else FolderImages(".")
    n = len(paths)
    if not (len(sample_ids) == len(tasks) == len(labels) == n):
        raise DataError("paths, sample_ids, tasks and labels differ in length")
    if n == 0:
        raise DataError("no images to extract")
    check_decode(decode, jpeg_draft, device)
    if shard_size < 1 or prefetch < 1:
        raise ConfigError("shard_size and prefetch: must be >= 1")
    config.check("backbones.vgg16_fc7")
    out_path = Path(out_path)
    shard_dir = shard_dir_for(out_path)
    plan = _plan(sample_ids, paths, config, shard_size, decode, jpeg_draft)
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
                     jpeg_draft=jpeg_draft, preprocessing_detail=preprocessing_detail(config, decode, jpeg_draft),
                     **(metadata or {}))

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
        mode = "bytes" if decode == "cuda" else "draft" if jpeg_draft else "crop"
        loader = image_loader(ImageFiles(images, paths, config.resize, config.crop, mode), batches, workers,
                              pin_memory=device_t.type == "cuda" and decode == "cpu", prefetch=prefetch)
        feats: dict[int, np.ndarray] = {}
        skipped: dict[int, list] = {}
        output = _Output(shard_path, out_path, meta_base, n, pending)  # written while the next batches run
        bar = tqdm(total=sum(len(b) for b in batches), unit="img", desc="vgg16_fc7", disable=not progress)
        with torch.inference_mode(), output:
            for idx, batch, failed in loader:
                x = None
                if idx and decode == "cuda":
                    x, bad = decode_bytes_batch(batch, device_t, config.resize, config.crop,
                                                where=[images.describe(paths[i]) for i in idx])
                    bad_pos = {k for k, _ in bad}
                    failed = failed + [(idx[k], err) for k, err in bad]
                    idx = [i for k, i in enumerate(idx) if k not in bad_pos]
                for i, err in failed:
                    if not skip_unreadable:
                        raise DataError(f"unreadable image {images.describe(paths[i])} (sample {sample_ids[i]}): "
                                        f"{err}. Replace the file, or set skip_unreadable: true to leave it out")
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
                    output.submit(k, range(lo, hi), feats, sample_ids, tasks, labels,
                                  dict(meta_base, shard=k, skipped=skipped.pop(k, [])))
                    for i in range(lo, hi):
                        feats.pop(i, None)
        bar.close()
    loop_s = time.perf_counter() - started
    summary = (output.finish() if pending else None) or merge_shards(shard_path, out_path, meta_base)
    summary.update(computed_shards=len(pending), reused_shards=n_shards - len(pending),
                   seconds=round(time.perf_counter() - started, 3), forward_seconds=round(forward_s, 3),
                   loop_seconds=round(loop_s, 3), merge_seconds=round(time.perf_counter() - started - loop_s, 3))
    return summary


class _Output:
    """The shards and the merged table, written in one background thread while the next
    batches run (Parquet encoding and file writes release the GIL).

    Each complete shard is written to its file and then appended to the merged table (a
    temporary file beside ``out_path``), after the reused shards before it, so that at the
    end only the last shard's writes remain instead of a merge of every shard.  The merged
    table's metadata is fixed when it is opened, with the images skipped so far (those of
    reused shards); if a computed shard skips more, the merged table is dropped and
    :meth:`finish` says so (the caller then runs :func:`merge_shards`).  At most
    ``max_pending`` shards wait in memory; leaving the ``with`` block waits for every write
    and raises the first error.
    """

    def __init__(self, shard_paths: Sequence[Path], out_path: Path, meta: dict, n: int, pending: Sequence[int],
                 max_pending: int = 2):
        from concurrent.futures import ThreadPoolExecutor

        self.shard_paths, self.out_path, self.max_pending = list(shard_paths), Path(out_path), max_pending
        todo = set(pending)
        skipped = [s for k, p in enumerate(self.shard_paths) if k not in todo
                   for s in read_metadata(p).get("skipped", [])]
        final = dict(meta, skipped=skipped, shards=len(self.shard_paths), feature_dim=4096,
                     num_samples=n - len(skipped))
        final.pop("shard", None)
        self.summary = {"num_samples": final["num_samples"], "skipped": skipped, "shards": len(self.shard_paths)}
        self.schema_meta = {META_KEY: json.dumps(final, sort_keys=True).encode()}
        self.tmp = self.out_path.with_name(f".{self.out_path.name}.{os.getpid()}.merging")
        self.writer, self.next_k, self.valid = None, 0, True
        self.pool, self.futures = ThreadPoolExecutor(1, thread_name_prefix="shards"), []

    def submit(self, k: int, rows: range, feats: dict, sample_ids, tasks, labels, meta: dict) -> None:
        keep = [i for i in rows if i in feats]
        feature = np.stack([feats[i] for i in keep]) if keep else np.zeros((0, 4096), np.float32)
        if meta.get("skipped"):
            self.valid = False  # set before shard k's task runs: the merged table stops here
        self._reap()
        while len(self.futures) >= self.max_pending:
            self.futures[0].result()
            self._reap()
        self.futures.append(self.pool.submit(
            self._write, k, [sample_ids[i] for i in keep], [tasks[i] for i in keep],
            np.asarray([labels[i] for i in keep], dtype=np.int64), feature, meta))

    def _write(self, k: int, sample_ids, tasks, labels, feature, meta: dict) -> None:  # in the thread
        import pyarrow.parquet as pq

        table = features_table(sample_ids, tasks, labels, feature, meta)
        with atomic_path(self.shard_paths[k]) as tmp:
            pq.write_table(table, tmp)
        self._append_through(k, table)

    def _append_through(self, k: int, table=None) -> None:
        """Append shards next_k..k to the merged table (shard k from ``table`` if given)."""
        import pyarrow.parquet as pq

        while self.valid and self.next_k <= k:
            t = table if table is not None and self.next_k == k else pq.read_table(self.shard_paths[self.next_k])
            if t.num_rows:
                if self.writer is None:
                    self.writer = pq.ParquetWriter(self.tmp, t.schema.with_metadata(self.schema_meta))
                self.writer.write_table(t)
            self.next_k += 1

    def _reap(self) -> None:
        for f in self.futures:
            if f.done():
                f.result()  # a failed write raises here
        self.futures = [f for f in self.futures if not f.done()]

    def _discard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.tmp.unlink(missing_ok=True)

    def finish(self) -> dict | None:
        """The merged table, moved onto ``out_path``: its summary; None when it was dropped."""
        if self.valid and self.summary["num_samples"] > 0:
            try:
                self._append_through(len(self.shard_paths) - 1)  # reused shards after the last computed one
                self.writer.close()
                self.writer = None
                os.replace(self.tmp, self.out_path)
                return self.summary
            finally:
                self._discard()
        self._discard()
        return None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.pool.shutdown(wait=True)  # a killed run still writes the shards it completed
        try:
            if exc_type is None:
                for f in self.futures:
                    f.result()
        except BaseException:
            self._discard()
            raise
        if exc_type is not None:
            self._discard()
        return False


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


def index_metadata(raw) -> dict:
    """The features table's metadata block from an image index's manifest (provenance)."""
    m = raw.manifest
    return {**provenance(m), "classes": m.get("classes"), "images": m.get("images"),
            "source_archives": {s["filename"]: s["sha256"] for s in m.get("sources", [])},
            "task_types": m.get("task_types", {}),
            "splits": {s: p for s, p in zip(raw.sample_id.tolist(), raw.split.tolist()) if p is not None} or None}


def extract_index_features(raw_dir, out_path: str | os.PathLike, config: dict, *,
                           backbone: str = "vgg16_fc7", device: str = "cpu", workers: int = 4,
                           shard_size: int = 4096, skip_unreadable: bool = False, decode: str = "cpu",
                           jpeg_draft: bool = False, prefetch: int = 4, progress: bool = True, model=None) -> dict:
    """The features stage for an image-file dataset (a release or ``kind: image_folder``):
    the image index of ``raw_dir`` (:func:`mtlbench.data.raw.load_raw`; or the index it
    loads, :class:`~mtlbench.data.raw.RawImageFiles`, read once) -> the features table.

    ``vgg16_fc7`` runs :func:`extract_vgg16_fc7_files` (sharded, resumable); a backbone
    without a model (``pixels``) gets the decoded images as they are, which must then be
    of one size.  ``model``: an already built fc7 model (tests); by default it is built
    from ``config``.
    """
    from ..checks import build_dataclass, unknown_key_error
    from ..data.raw import RawImageFiles, load_raw
    from .backbones import BACKBONES

    if backbone not in BACKBONES:
        raise unknown_key_error("backbones", backbone, BACKBONES)
    raw = raw_dir if isinstance(raw_dir, RawImageFiles) else load_raw(raw_dir)
    if not isinstance(raw, RawImageFiles):
        raise DataError(f"{raw_dir}: holds images.npz, not an image index; use mtlbench features")
    cls = BACKBONES[backbone]
    cfg = build_dataclass(cls.Config, config, f"backbones.{backbone}")
    meta = index_metadata(raw)
    if backbone != "vgg16_fc7":
        return _extract_full_images(raw, cls, cfg, out_path, meta, device, workers, prefetch, progress)
    return extract_vgg16_fc7_files(raw.path.tolist(), raw.sample_id.tolist(), raw.task.tolist(), raw.label.tolist(),
                                   out_path, cfg, images=raw.images(), device=device, workers=workers,
                                   shard_size=shard_size, skip_unreadable=skip_unreadable, decode=decode,
                                   jpeg_draft=jpeg_draft, prefetch=prefetch, metadata=meta, progress=progress,
                                   model=model)


def _extract_full_images(raw, cls, cfg, out_path, meta: dict, device: str, workers: int, prefetch: int,
                         progress: bool) -> dict:
    """A backbone without an input size over an image index: whole decoded images, batch by batch."""
    from tqdm.auto import tqdm

    n = len(raw.sample_id)
    batch_size = 256
    batches = [list(range(s, min(s + batch_size, n))) for s in range(0, n, batch_size)]
    images = raw.images()
    loader = image_loader(ImageFiles(images, raw.path.tolist(), 0, 0, "full"), batches, workers,
                          pin_memory=False, prefetch=prefetch)
    outs = []
    for _idx, batch, failed in tqdm(loader, total=len(batches), desc=cls.name, unit="batch", disable=not progress):
        if failed:
            i, err = failed[0]
            raise DataError(f"{images.describe(raw.path[i])}: unreadable image ({err})")
        if isinstance(batch, list):
            raise DataError(f"backbone {cls.name}: images differ in size and it has no input size; "
                            "use a backbone that resizes (vgg16_fc7)")
        outs.append(cls.extract(batch.numpy(), cfg, device=device, progress=False))
    feats = np.concatenate(outs)
    meta = dict(cls.describe(cfg), config=dataclasses.asdict(cfg), **meta)
    write_features(out_path, raw.sample_id, raw.task, raw.label, feats, meta)
    return {"num_samples": n, "skipped": [], "shards": 1}

"""The features stage: raw data -> features table, the one entry point for every backbone.

Array raw data (the embedded datasets, ``amtnn_digits``) is batched in memory; a time
series (ETT) becomes forecast windows; an image index (the image releases,
``image_folder``) goes to :func:`mtlbench.features.image_files.extract_index_features`
(DataLoader decoding; VGG16 fc7 in resumable shards).  ``mtlbench features`` and the
``features`` rule call :func:`extract_features`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..checks import build_dataclass
from ..data.raw import RawImageFiles, RawSeries, load_raw
from ..errors import DataError
from .backbones import BACKBONES
from .table import provenance, write_features


def extract_features(raw_dir: str | Path, backbone: str, config: dict, out_path: str | Path,
                     device: str = "cpu", progress: bool = True, workers: int = 0, **image_options) -> dict:
    """Run ``backbone`` over every sample of ``raw_dir`` and write the features table;
    returns ``{num_samples, skipped, shards}`` (``skipped``: unreadable images left out).

    ``workers``: DataLoader processes decoding image files (0: in this process).
    ``image_options``: the decoding settings of an image index (params.yaml ``features``:
    shard_size, skip_unreadable, decode, jpeg_draft, prefetch), passed to
    :func:`~mtlbench.features.image_files.extract_index_features`; array and series data
    take none of them.
    """
    from ..checks import unknown_key_error

    if backbone not in BACKBONES:
        raise unknown_key_error("backbones", backbone, BACKBONES)
    raw = load_raw(raw_dir)
    cls = BACKBONES[backbone]
    if isinstance(raw, RawSeries) or cls.input == "series":
        return _series_features(raw, cls, build_dataclass(cls.Config, config, f"backbones.{backbone}"), out_path)
    if isinstance(raw, RawImageFiles):
        from .image_files import extract_index_features

        return extract_index_features(raw, out_path, config, backbone=backbone, device=device, workers=workers,
                                      progress=progress, **image_options)
    cfg = build_dataclass(cls.Config, config, f"backbones.{backbone}")
    feats = cls.extract(raw.image, cfg, device=device, progress=progress)
    meta = dict(cls.describe(cfg), config=dataclasses.asdict(cfg), **provenance(raw.manifest),
                classes=raw.manifest.get("classes"), task_types=raw.manifest.get("task_types", {}),
                source=raw.manifest.get("source"))
    write_features(out_path, raw.sample_id, raw.task, raw.label, feats, meta)
    return {"num_samples": len(raw.sample_id), "skipped": [], "shards": 1}


def _series_features(raw, cls, cfg, out_path) -> dict:
    """A time series (ETT) -> forecast windows (:mod:`mtlbench.features.windows`)."""
    from .windows import make_windows

    if not isinstance(raw, RawSeries):
        cls.extract(None, cfg)  # raises: an image dataset with the window backbone
    if cls.input != "series":
        raise DataError(f"{raw.manifest.get('dataset')}: a time series; backbone {cls.name!r} takes images, "
                        "use backbone 'window'")
    sph = int(raw.manifest["steps_per_hour"])
    win = make_windows(raw.time, raw.values, raw.columns, raw.manifest["parts"], cfg.lookback_hours * sph,
                       cfg.horizon_hours * sph, cfg.stride_hours * sph, tasks=raw.manifest.get("tasks"))
    meta = dict(cls.describe(cfg), config=dataclasses.asdict(cfg), **provenance(raw.manifest),
                sources=raw.manifest.get("sources"), classes=None, steps_per_hour=sph, **win["metadata"])
    write_features(out_path, win["sample_id"], win["task"], win["label"], win["feature"], meta)
    return {"num_samples": len(win["sample_id"]), "skipped": [], "shards": 1}


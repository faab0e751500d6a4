"""``kind: image_folder``: a user's images laid out ``{task}/{class}/*.{jpg,jpeg,png,bmp}``.

The raw stage of this kind does not decode anything: :func:`index_image_folder` lists the
files of a folder or archive (:class:`~mtlbench.data.sources.Source`) and writes the
*file-index* form of the raw contract (:func:`mtlbench.data.raw.write_raw_index`): one
row per image with its sample id, task, label and the member path.  The features stage
then decodes the images in batches (:class:`ImageFileDataset` in DataLoader workers),
because variable-size JPEGs do not fit one (N, 3, H, W) array.

Decoding (:func:`decode_rgb`) turns grayscale, palette, CMYK and alpha images into
3-channel RGB (alpha is dropped, not composited); an unreadable file is reported by path.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .kinds import ImageFolderConfig
from .raw import write_raw_index
from .sources import Source


def scan_image_folder(cfg: ImageFolderConfig) -> tuple[pd.DataFrame, list[str], Source, dict]:
    """List the images: (index, classes, source, counts of skipped files); reads no image.

    index: DataFrame with ``sample_id`` (``{task}/{class}/{file}``), ``task``, ``label``
    (0..C-1 in ``classes`` order) and ``member`` (path relative to the source root),
    rows sorted by (task order, class, file).
    """
    src = Source(cfg.root, cfg.subdir)
    exts = tuple(e.lower() for e in cfg.extensions)
    found: dict[str, dict[str, list[str]]] = {}
    skipped = 0
    for name in src.names:
        parts = name.split("/")
        if len(parts) == 3 and parts[2].lower().endswith(exts) and not parts[2].startswith("."):
            found.setdefault(parts[0], {}).setdefault(parts[1], []).append(name)
        else:
            skipped += 1  # READMEs, checksum files, anything outside {task}/{class}/file
    if not found:
        raise DataError(f"{cfg.root}: no images laid out as {{task}}/{{class}}/*{{{','.join(exts)}}} "
                        f"under {src.prefix or 'the root'!r}; first files: {src.names[:5]}")
    tasks = list(cfg.tasks) or sorted(found)
    missing = [t for t in tasks if t not in found]
    if missing:
        raise DataError(f"{cfg.root}: task folders {missing} not found; task folders present: {sorted(found)}")
    if cfg.classes:
        classes = list(cfg.classes)
        for t in tasks:
            extra = sorted(set(found[t]) - set(classes))
            if extra:
                raise DataError(f"{cfg.root}: task {t!r} has class folders {extra} that classes: does not list")
    else:
        classes = sorted(found[tasks[0]])
        for t in tasks[1:]:
            if set(found[t]) != set(classes):
                only_here = sorted(set(found[t]) - set(classes))
                absent = sorted(set(classes) - set(found[t]))
                raise DataError(f"{cfg.root}: task {t!r} has different classes from task {tasks[0]!r}: "
                                f"only in {t!r}: {only_here}, missing from {t!r}: {absent} "
                                "(list the classes explicitly with classes: to allow missing ones)")
    rows = []
    for t in tasks:
        for label, c in enumerate(classes):
            for member in sorted(found[t].get(c, [])):
                rows.append((member, t, label, member))
    index = pd.DataFrame(rows, columns=["sample_id", "task", "label", "member"])
    return index, classes, src, {"skipped_files": skipped}


def index_image_folder(dataset: str, config: dict, out_dir: str | Path) -> dict:
    """The raw stage of an image_folder dataset: write ``data/raw/{dataset}/`` (index form)."""
    from ..config import build_dataclass

    cfg = build_dataclass(ImageFolderConfig, {"kind": "image_folder", **config}, f"datasets.{dataset}")
    index, classes, src, extra = scan_image_folder(cfg)
    manifest = {"dataset": dataset, "kind": "image_folder", "classes": classes,
                "source": {"root": str(Path(cfg.root).resolve()), "subdir": src.prefix.rstrip("/"),
                           "archive_sha256": src.archive_sha256(), **extra}}
    return write_raw_index(out_dir, index, manifest)


def decode_rgb(data: bytes, where: str) -> np.ndarray:
    """Image file bytes -> (3, H, W) uint8 RGB; grayscale, CMYK, palette, alpha converted."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode == "P" and "transparency" in im.info:
                im = im.convert("RGBA")
            rgb = im.convert("RGB")
            arr = np.asarray(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"{where}: unreadable image ({type(e).__name__}: {e})") from e
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def resize_uint8(img, size: int):
    """(3, H, W) uint8 tensor -> (3, size, size) uint8, bilinear with antialias (square)."""
    import torch
    import torch.nn.functional as F

    if img.shape[1] == size and img.shape[2] == size:
        return img
    x = F.interpolate(img[None].float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x[0].round_().clamp_(0, 255).to(torch.uint8)


class ImageFileDataset:
    """Map-style dataset for a DataLoader: item i is image ``members[i]`` of ``source`` as a
    (3, H, W) uint8 tensor, resized to (3, size, size) when ``size`` is given.  Picklable,
    so each worker process decodes its own batches (the archive is reopened per worker)."""

    def __init__(self, source: Source, members, size: int | None = None):
        self.source, self.members, self.size = source, list(members), size

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int):
        import torch

        m = self.members[i]
        img = torch.from_numpy(decode_rgb(self.source.read(m), self.source.describe(m)))
        return resize_uint8(img, self.size) if self.size else img

"""``kind: image_folder``: a user's images laid out ``{task}/{class}/*.{jpg,jpeg,png,bmp}``.

The raw stage of this kind does not decode anything: :func:`index_image_folder` lists the
files of a folder or archive (:class:`~mtlbench.data.sources.Source`) and writes the
image index of the raw contract (:func:`mtlbench.data.raw.write_image_index`, the same
format as the downloaded releases'): one row per image with its sample id, task, class,
label and path inside the folder or archive, which ``manifest["images"]`` names.  The
features stage then decodes the images in batches in DataLoader workers
(:mod:`mtlbench.features.image_files`), because variable-size JPEGs do not fit one
(N, 3, H, W) array.

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
from .raw import write_image_index
from .sources import Source


def scan_image_folder(cfg: ImageFolderConfig) -> tuple[pd.DataFrame, list[str], Source, dict]:
    """List the images: (index, classes, source, counts of skipped files); reads no image.

    index: DataFrame with ``sample_id`` (``{task}/{class}/{file}``), ``task``,
    ``class_name``, ``label`` (0..C-1 in ``classes`` order) and ``path`` (relative to the
    source root), rows sorted by (task order, class, file).
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
                rows.append((member, t, c, label, member))
    index = pd.DataFrame(rows, columns=["sample_id", "task", "class_name", "label", "path"])
    return index, classes, src, {"skipped_files": skipped}


def index_image_folder(dataset: str, config: dict, out_dir: str | Path) -> dict:
    """The raw stage of an image_folder dataset: write ``data/raw/{dataset}/`` (index form)."""
    from ..checks import build_dataclass

    cfg = build_dataclass(ImageFolderConfig, {"kind": "image_folder", **config}, f"datasets.{dataset}")
    index, classes, src, extra = scan_image_folder(cfg)
    images = {"root": str(Path(cfg.root).resolve()), "subdir": src.prefix.rstrip("/"),
              "archive_sha256": src.archive_sha256()}
    manifest = {"dataset": dataset, "kind": "image_folder", "classes": classes, "source": {**images, **extra}}
    return write_image_index(out_dir, index, manifest, images)


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

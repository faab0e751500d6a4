"""The real benchmark datasets: where to get them, how to check them, how to read their layout.

Each :class:`DatasetSource` names its files (:class:`~mtlbench.data.download.Source`:
mirrors and published checksums), its tasks (domains), classes and the published number
of images per task, and a *layout parser*: a function from the extracted root folder to
plain :class:`ImageRecord` rows (sample id, task, class name, label, path relative to
the root, split where the release has one).  Nothing here is fetched at import time;
URLs are data, and every one can be replaced from params.yaml
(:func:`with_overrides`).

Labels are positions in ``classes``.  For the folder releases (Office-Home,
Office-Caltech) ``classes`` is sorted alphabetically (case-insensitive); ImageCLEF-DA and
DomainNet keep the order of the ids in their list files.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from ..errors import ConfigError, DataError
from .download import Source

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff")


class ImageRecord(NamedTuple):
    sample_id: str  # unique within the dataset: "<task>/<path inside the task's folder>"
    task: str
    class_name: str
    label: int  # position of class_name in the dataset's classes
    path: str  # POSIX path relative to the extracted root
    split: str | None = None  # 'train' / 'test' where the release fixes one (DomainNet)


@dataclass(frozen=True)
class DatasetSource:
    name: str
    tasks: tuple[str, ...]
    classes: tuple[str, ...]
    files: tuple[Source, ...]
    expected_counts: dict[str, int]  # task -> images, as published
    layout: Callable[[Path, DatasetSource], list[ImageRecord]] | None  # None: array dataset
    description: str = ""
    citation: str = ""
    task_dirs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # folder names per task
    class_aliases: dict[str, str] = field(default_factory=dict)  # folder name -> class
    # a raw stage of its own after the verified download (spec, raw_dir, downloads_dir, manifest)
    # -> manifest, for data that are not images (ETT: a time series)
    prepare: Callable[..., dict] | None = None
    default_backbone: str | None = None  # None: pixels for array data, vgg16_fc7 for image files
    task_types: dict[str, str] = field(default_factory=dict)  # task -> classification|regression
    time_series: bool = False  # samples are windows of one series, split chronologically

    def file(self, filename: str) -> Source:
        for f in self.files:
            if f.filename == filename:
                return f
        raise ConfigError(f"datasets.{self.name}.sources: unknown file {filename!r}; "
                          f"allowed: {', '.join(f.filename for f in self.files)}")

    def label_of(self, class_folder: str) -> tuple[str, int]:
        name = self.class_aliases.get(class_folder, class_folder)
        try:
            return name, self.classes.index(name)
        except ValueError:
            raise DataError(f"{self.name}: unknown class folder {class_folder!r}; "
                            f"known: {', '.join(self.classes[:8])}, ...") from None


def _sorted_classes(names) -> tuple[str, ...]:
    return tuple(sorted(names, key=str.lower))


def with_overrides(spec: DatasetSource, overrides: dict | None) -> DatasetSource:
    """Apply the params.yaml block ``datasets.<name>.download`` to a source spec.

    Keys: ``sources: {<filename>: {urls: [...], md5: str, sha256: str, size: int}}`` and
    ``expected_counts: {<task>: int}``.  An unknown key or file name is a ConfigError.
    """
    if not overrides:
        return spec
    where = f"datasets.{spec.name}.download"
    unknown = set(overrides) - {"sources", "expected_counts"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: sources, expected_counts")
    files = {f.filename: f for f in spec.files}
    for filename, o in (overrides.get("sources") or {}).items():
        base = spec.file(filename)
        bad = set(o) - {"urls", "md5", "sha256", "size"}
        if bad:
            raise ConfigError(f"{where}.sources.{filename}: unknown keys {sorted(bad)}; allowed: urls, md5, sha256, size")
        urls = o.get("urls", base.urls)
        if isinstance(urls, str) or not all(isinstance(u, str) for u in urls):
            raise ConfigError(f"{where}.sources.{filename}.urls: a list of URLs, got {urls!r}")
        # a new mirror keeps the published checksum unless the override gives one
        changes = {"urls": tuple(urls)}
        for k in ("md5", "sha256", "size"):
            if k in o:
                changes[k] = o[k]
        files[filename] = dataclasses.replace(base, **changes)
    counts = dict(spec.expected_counts)
    for task, n in (overrides.get("expected_counts") or {}).items():
        if task not in spec.tasks:
            raise ConfigError(f"{where}.expected_counts: unknown task {task!r}; allowed: {', '.join(spec.tasks)}")
        counts[task] = int(n)
    return dataclasses.replace(spec, files=tuple(files[f.filename] for f in spec.files), expected_counts=counts)


def check_counts(spec: DatasetSource, records: list[ImageRecord]) -> dict[str, int]:
    """Images per task against ``spec.expected_counts``; a clear DataError when they differ."""
    counts = Counter(r.task for r in records)
    wrong = [f"{t}: {counts.get(t, 0)} (published {n})" for t, n in spec.expected_counts.items() if counts.get(t, 0) != n]
    if wrong:
        raise DataError(f"{spec.name}: images per task differ from the published counts: {'; '.join(wrong)}. "
                        "The archive is incomplete or another release; fetch it again, or set "
                        f"datasets.{spec.name}.download.expected_counts if you use a different release on purpose")
    return {t: counts.get(t, 0) for t in spec.tasks}


# ---------------------------------------------------------------------------------------
# layout helpers


def _walk_dirs(root: Path, max_depth: int):
    """Directories under root (root included) up to max_depth levels, sorted (reproducible)."""
    stack = [(root, 0)]
    while stack:
        d, depth = stack.pop(0)
        yield d
        if depth < max_depth:
            with os.scandir(d) as it:
                subs = sorted(Path(e.path) for e in it if e.is_dir(follow_symlinks=False))
            stack.extend((s, depth + 1) for s in subs)


def _find_task_dir(root: Path, spec: DatasetSource, task: str, max_depth: int = 4) -> Path:
    names = {n.lower() for n in spec.task_dirs.get(task, (task,))}
    hits = [d for d in _walk_dirs(root, max_depth) if d.name.lower() in names and d != root
            and any(c.is_dir() for c in d.iterdir())]
    # a folder named like the task that holds class folders (or an 'images' folder of them)
    hits = [d for d in hits if _class_root(d, spec) is not None]
    if not hits:
        raise DataError(f"{spec.name}: no folder for task {task!r} (named {sorted(names)}) with class folders "
                        f"under {root}; is the archive the published one?")
    return hits[0]


def _class_root(task_dir: Path, spec: DatasetSource) -> Path | None:
    for cand in (task_dir, task_dir / "images"):
        if cand.is_dir() and any(spec.class_aliases.get(c.name, c.name) in spec.classes
                                 for c in cand.iterdir() if c.is_dir()):
            return cand
    return None


def folder_layout(root: Path, spec: DatasetSource) -> list[ImageRecord]:
    """``<task folder>/[images/]<class folder>/<image>``: the Office-Home and Office-Caltech releases."""
    records = []
    for task in spec.tasks:
        task_dir = _find_task_dir(root, spec, task)
        class_root = _class_root(task_dir, spec)
        for class_dir in sorted(p for p in class_root.iterdir() if p.is_dir()):
            class_name, label = spec.label_of(class_dir.name)
            for img in sorted(class_dir.iterdir()):
                if img.is_file() and img.suffix.lower() in IMAGE_SUFFIXES and not img.name.startswith("."):
                    rel = img.relative_to(root).as_posix()
                    records.append(ImageRecord(f"{task}/{class_name}/{img.name}", task, class_name, label, rel))
    return records


class _PathResolver:
    """Resolve a path from a list file (relative, or absolute from the author's machine) under root."""

    def __init__(self, root: Path, anchors: tuple[str, ...]):
        self.root = root
        self.anchors = {a.lower() for a in anchors}
        self.bases = [d for d in _walk_dirs(root, 2)]

    def __call__(self, listed: str) -> str | None:
        parts = PurePosixPath(listed.replace("\\", "/")).parts
        # keep the tail from the first component naming a task folder (drops '/home/x/data/...')
        for i, p in enumerate(parts):
            if p.lower() in self.anchors:
                parts = parts[i:]
                break
        else:
            parts = tuple(p for p in parts if p not in ("/", ".", ".."))
        rel = PurePosixPath(*parts)
        for base in self.bases:
            if (base / rel).is_file():
                return (base / rel).relative_to(self.root).as_posix()
        return None


def _find_file(root: Path, names: tuple[str, ...]) -> Path:
    lowered = {n.lower() for n in names}
    for d in _walk_dirs(root, 3):
        for f in sorted(d.iterdir()):
            if f.is_file() and f.name.lower() in lowered:
                return f
    raise DataError(f"no list file {' or '.join(names)} under {root}; is the archive the published one?")


def _read_list(path: Path) -> list[tuple[str, int]]:
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        m = re.match(r"^(.*\S)\s+(-?\d+)\s*$", line)
        if not m:
            raise DataError(f"{path}:{n}: expected '<path> <label>', got {line!r}")
        rows.append((m.group(1), int(m.group(2))))
    return rows


def list_layout(list_names: Callable[[str], dict[str | None, tuple[str, ...]]], class_from: str) -> Callable:
    """Layout read from list files ``<path> <label>`` per task (and per split).

    ``list_names(task)`` -> {split or None: candidate list-file names}.  ``class_from``:
    'label' (the class is ``classes[label]``) or 'folder' (the class is the image's parent
    folder, and the label in the list must agree with it).
    """

    def parse(root: Path, spec: DatasetSource) -> list[ImageRecord]:
        anchors = tuple(n for t in spec.tasks for n in spec.task_dirs.get(t, (t,)))
        resolve = _PathResolver(root, anchors)
        records, missing = [], []
        for task in spec.tasks:
            for split, names in list_names(task).items():
                list_file = _find_file(root, names)
                for listed, label in _read_list(list_file):
                    rel = resolve(listed)
                    if rel is None:
                        missing.append(f"{listed} ({list_file.name})")
                        continue
                    if class_from == "folder":
                        class_name, folder_label = spec.label_of(PurePosixPath(rel).parent.name)
                        if folder_label != label:
                            raise DataError(f"{list_file}: {listed} has label {label}, its folder says "
                                            f"{class_name} = {folder_label}")
                    else:
                        if not 0 <= label < len(spec.classes):
                            raise DataError(f"{list_file}: label {label} outside 0..{len(spec.classes) - 1}")
                        class_name = spec.classes[label]
                    tail = PurePosixPath(rel).parts
                    # sample id from the task folder on: stable across extraction roots
                    anchor_at = next((i for i, p in enumerate(tail) if p.lower() in resolve.anchors), 0)
                    sample_id = f"{task}/" + "/".join(tail[anchor_at + 1:])
                    records.append(ImageRecord(sample_id, task, class_name, label, rel, split))
        if missing:
            raise DataError(f"{spec.name}: {len(missing)} images named in the list files are missing under {root}, "
                            f"first: {missing[0]}")
        return records

    return parse


# ---------------------------------------------------------------------------------------
# the datasets

THULM_NOTE = "thuml Transfer-Learning-Library download_list (tllib/vision/datasets)"

OFFICE_HOME_CLASSES = _sorted_classes((
    "Alarm_Clock", "Backpack", "Batteries", "Bed", "Bike", "Bottle", "Bucket", "Calculator", "Calendar",
    "Candles", "Chair", "Clipboards", "Computer", "Couch", "Curtains", "Desk_Lamp", "Drill", "Eraser",
    "Exit_Sign", "Fan", "File_Cabinet", "Flipflops", "Flowers", "Folder", "Fork", "Glasses", "Hammer",
    "Helmet", "Kettle", "Keyboard", "Knives", "Lamp_Shade", "Laptop", "Marker", "Monitor", "Mop", "Mouse",
    "Mug", "Notebook", "Oven", "Pan", "Paper_Clip", "Pen", "Pencil", "Postit_Notes", "Printer", "Push_Pin",
    "Radio", "Refrigerator", "Ruler", "Scissors", "Screwdriver", "Shelf", "Sink", "Sneakers", "Soda",
    "Speaker", "Spoon", "TV", "Table", "Telephone", "ToothBrush", "Toys", "Trash_Can", "Webcam",
))

OFFICE_CALTECH_CLASSES = ("backpack", "bike", "calculator", "headphones", "keyboard", "laptop", "monitor",
                          "mouse", "mug", "projector")

# ImageCLEF-DA: 12 classes shared by Caltech-256 (c), ImageNet ILSVRC 2012 (i), Pascal VOC 2012 (p)
# and Bing (b); the list files' ids follow this order
IMAGE_CLEF_CLASSES = ("aeroplane", "bike", "bird", "boat", "bottle", "bus", "car", "dog", "horse", "monitor",
                      "motorbike", "people")

DOMAINNET_TASKS = ("clipart", "infograph", "painting", "quickdraw", "real", "sketch")
# (train, test) lines of the official cleaned lists, http://ai.bu.edu/M3SDA/ (586,575 images)
DOMAINNET_LIST_COUNTS = {"clipart": (33525, 14604), "infograph": (36023, 15582), "painting": (50416, 21850),
                         "quickdraw": (120750, 51750), "real": (120906, 52041), "sketch": (48212, 20916)}

_DOMAINNET_BASE = "http://csr.bu.edu/ftp/visda/2019/multi-source"
_DOMAINNET_ZIP = {"clipart": "groundtruth/clipart.zip", "infograph": "infograph.zip",
                  "painting": "groundtruth/painting.zip", "quickdraw": "quickdraw.zip", "real": "real.zip",
                  "sketch": "sketch.zip"}


def _domainnet_classes() -> tuple[str, ...]:
    from ._domainnet_classes import DOMAINNET_CLASSES

    return DOMAINNET_CLASSES


SOURCES: dict[str, DatasetSource] = {
    "office_home": DatasetSource(
        name="office_home",
        tasks=("Art", "Clipart", "Product", "Real_World"),
        classes=OFFICE_HOME_CLASSES,
        files=tuple(
            Source(f"{d}.tgz", (url,), note=THULM_NOTE)
            for d, url in (
                ("Art", "https://cloud.tsinghua.edu.cn/f/4691878067d04755beab/?dl=1"),
                ("Clipart", "https://cloud.tsinghua.edu.cn/f/0d41e7da4558408ea5aa/?dl=1"),
                ("Product", "https://cloud.tsinghua.edu.cn/f/76186deacd7c4fa0a679/?dl=1"),
                ("Real_World", "https://cloud.tsinghua.edu.cn/f/dee961894cc64b1da1d7/?dl=1"),
            )
        ),
        expected_counts={"Art": 2427, "Clipart": 4365, "Product": 4439, "Real_World": 4357},
        layout=folder_layout,
        task_dirs={"Real_World": ("Real_World", "Real World")},
        description="Office-Home (Venkateswara et al., CVPR 2017): 15,588 images, 65 classes, 4 domains.",
        citation="http://hemanthdv.org/OfficeHome-Dataset/",
    ),
    "office_caltech": DatasetSource(
        name="office_caltech",
        tasks=("amazon", "webcam", "dslr", "caltech"),
        classes=OFFICE_CALTECH_CLASSES,
        files=(Source("officecaltech.tgz", ("https://cloud.tsinghua.edu.cn/f/e93f2e07d93243d6b57e/?dl=1",),
                      note=THULM_NOTE + ", OfficeCaltech"),),
        expected_counts={"amazon": 958, "webcam": 295, "dslr": 157, "caltech": 1123},
        layout=folder_layout,
        task_dirs={"caltech": ("caltech", "caltech10")},
        class_aliases={"back_pack": "backpack", "laptop_computer": "laptop"},
        description="Office-Caltech10 (Gong et al., CVPR 2012): the 10 classes shared by Office-31 and "
        "Caltech-256, 2,533 images, 4 domains.",
    ),
    "image_clef": DatasetSource(
        name="image_clef",
        tasks=("c", "i", "p", "b"),
        classes=IMAGE_CLEF_CLASSES,
        files=(Source("image_CLEF.zip",
                      ("https://drive.google.com/uc?export=download&id=0B9kJH0-rJ2uRS3JILThaQXJhQlk",),
                      note="thuml DAN/JAN (Xlearn) README, ImageCLEF-DA link"),),
        expected_counts={"c": 600, "i": 600, "p": 600, "b": 600},
        layout=list_layout(lambda t: {None: (f"{t}List.txt", f"{t}_list.txt", f"{t}.txt")}, class_from="label"),
        description="ImageCLEF-DA (ImageCLEF 2014 domain adaptation challenge): 12 classes, 50 images per class "
        "in each of Caltech-256 (c), ImageNet (i), Pascal VOC 2012 (p) and Bing (b).",
        citation="https://www.imageclef.org/2014/adaptation",
    ),
    "domainnet": DatasetSource(
        name="domainnet",
        tasks=DOMAINNET_TASKS,
        classes=(),  # filled below from _domainnet_classes (345 names, kept in their own module)
        files=tuple(Source(f"{d}.zip", (f"{_DOMAINNET_BASE}/{_DOMAINNET_ZIP[d]}",),
                           note="official DomainNet release, http://ai.bu.edu/M3SDA/") for d in DOMAINNET_TASKS)
        + tuple(Source(f"{d}_{s}.txt", (f"{_DOMAINNET_BASE}/domainnet/txt/{d}_{s}.txt",),
                       note="official DomainNet train/test lists") for d in DOMAINNET_TASKS for s in ("train", "test")),
        expected_counts={d: tr + te for d, (tr, te) in DOMAINNET_LIST_COUNTS.items()},
        layout=list_layout(lambda t: {"train": (f"{t}_train.txt",), "test": (f"{t}_test.txt",)}, class_from="folder"),
        description="DomainNet (Peng et al., ICCV 2019), cleaned release: 345 classes, 6 domains, the official "
        "train/test lists.",
        citation="http://ai.bu.edu/M3SDA/",
    ),
    "amtnn_digits": DatasetSource(
        name="amtnn_digits",
        tasks=("mnist", "mnist_m", "svhn"),
        classes=tuple(str(i) for i in range(10)),
        files=tuple(
            Source(name, ("https://ossci-datasets.s3.amazonaws.com/mnist/" + name, "http://yann.lecun.com/exdb/mnist/" + name),
                   md5=md5, note="torchvision.datasets.MNIST mirrors and resources")
            for name, md5 in (
                ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
            )
        )
        + (
            Source("train_32x32.mat", ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",),
                   md5="e26dedcc434d2e4c54c9b2d4a06d8373", note="torchvision.datasets.SVHN split_list"),
            Source("test_32x32.mat", ("http://ufldl.stanford.edu/housenumbers/test_32x32.mat",),
                   md5="eb5a983be6a315427106f1b164d9cef3", note="torchvision.datasets.SVHN split_list"),
            Source("mnist_m.tar.gz", ("https://cornell.box.com/shared/static/jado7quprg6hzzdubvwzh9umr75damwi",),
                   md5="859df31c91afe82e80e5012ba928f279",
                   note="MNIST-M release (Ganin & Lempitsky 2015), mirror used by pytorch-adapt"),
        ),
        # train + test of each release
        expected_counts={"mnist": 70000, "mnist_m": 68002, "svhn": 99289},
        layout=None,
        description="The digit domains of AMTNN: MNIST, MNIST-M and SVHN (train and test parts), 10 classes.",
    ),
}
SOURCES["domainnet"] = dataclasses.replace(SOURCES["domainnet"], classes=_domainnet_classes())


def _prepare_ett(spec: DatasetSource, raw_dir: Path, downloads_dir: Path, manifest: dict) -> dict:
    from .ett import prepare_ett

    return prepare_ett(spec, raw_dir, downloads_dir, manifest)


def _ett_sources() -> dict[str, DatasetSource]:
    from .ett import ETT_FILES, ETT_TASKS, ett_urls

    out = {}
    for name, (filename, sha256, steps_per_hour, rows) in ETT_FILES.items():
        every = "hourly" if steps_per_hour == 1 else f"every {60 // steps_per_hour} minutes"
        out[name] = DatasetSource(
            name=name,
            tasks=ETT_TASKS,
            classes=(),
            files=(Source(filename, ett_urls(filename), sha256=sha256,
                          note="zhouhaoyi/ETDataset, folder ETT-small (Informer, AAAI 2021)"),),
            expected_counts=dict.fromkeys(ETT_TASKS, rows),  # rows of the series, each a value of every task
            layout=None,
            description=f"ETT {filename[:-4]} (Zhou et al., AAAI 2021): electricity transformer load and oil "
            f"temperature {every}, 2016-07-01 to 2018-06-26, {rows:,} rows; 7 variables, each a regression "
            "task (forecast it from a window of all 7).",
            citation="https://github.com/zhouhaoyi/ETDataset",
            prepare=_prepare_ett,
            default_backbone="window",
            task_types=dict.fromkeys(ETT_TASKS, "regression"),
            time_series=True,
        )
    return out


SOURCES.update(_ett_sources())


def get_source(name: str, overrides: dict | None = None) -> DatasetSource:
    from ..checks import unknown_key_error

    if name not in SOURCES:
        raise unknown_key_error("datasets", name, SOURCES)
    return with_overrides(SOURCES[name], overrides)

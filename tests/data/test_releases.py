"""Each real dataset's download + layout parser on a tiny archive in the release's own layout.

The archives are built here in tmp_path and served from 127.0.0.1; the registry's URLs are
replaced through the params overrides (``datasets.<name>.download``), as a user would.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zipfile

import numpy as np
import pytest
from localhttp import Served, no_proxy, serve  # noqa: F401 (autouse fixture)
from PIL import Image

from mtlbench.data.prepare import prepare_dataset, read_index
from mtlbench.data.releases import SOURCES, get_source
from mtlbench.errors import ConfigError, DataError


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def run_prepare(tmp_path, name, archives: dict[str, bytes], counts: dict[str, int], publish_md5=True):
    files = {f"/{fn}": Served(data) for fn, data in archives.items()}
    with serve(files) as base:
        overrides = {"sources": {fn: {"urls": [f"{base}/{fn}"]} | ({"md5": hashlib.md5(d).hexdigest()} if publish_md5 else {})
                                 for fn, d in archives.items()},
                     "expected_counts": counts}
        spec = get_source(name, overrides)
        manifest = prepare_dataset(spec, tmp_path / "raw" / name, retries=2, backoff_s=0, timeout_s=5,
                                   progress=False, sleep=lambda s: None)
    return spec, manifest, files


def check_index(tmp_path, name, manifest, spec):
    raw = tmp_path / "raw" / name
    recs = read_index(raw)
    assert manifest["samples_per_task"] == {t: sum(r.task == t for r in recs) for t in spec.tasks}
    for r in recs:
        assert (raw / r.path).is_file(), r.path
        assert spec.classes[r.label] == r.class_name
    assert len({r.sample_id for r in recs}) == len(recs)
    assert json.loads((raw / "manifest.json").read_text())["dataset"] == name
    return recs


def test_office_home(tmp_path):
    archives = {}
    for k, d in enumerate(("Art", "Clipart", "Product", "Real_World")):
        # the official archive names the folder "Real World"; TLlib's tgz "Real_World"
        folder = "Real World" if d == "Real_World" else d
        archives[f"{d}.tgz"] = tgz({f"{folder}/Alarm_Clock/00001.jpg": jpeg(k), f"{folder}/Alarm_Clock/00002.jpg": jpeg(k + 9),
                                    f"{folder}/TV/00001.jpg": jpeg(k + 20), f"{folder}/Backpack/00003.jpg": jpeg(k + 30)})
    counts = dict.fromkeys(("Art", "Clipart", "Product", "Real_World"), 4)
    spec, manifest, files = run_prepare(tmp_path, "office_home", archives, counts)
    recs = check_index(tmp_path, "office_home", manifest, spec)
    by_id = {r.sample_id: r for r in recs}
    r = by_id["Real_World/TV/00001.jpg"]
    assert r.class_name == "TV" and r.label == spec.classes.index("TV") and r.path.startswith("extracted/Real_World.tgz/Real World/")
    assert spec.classes == tuple(sorted(spec.classes, key=str.lower)) and len(spec.classes) == 65
    assert all(s["checksum"] == "published md5" for s in manifest["sources"])


def test_office_caltech_tllib_layout_with_aliases(tmp_path):
    members = {}
    for k, d in enumerate(("amazon", "webcam", "dslr", "caltech")):
        members[f"{d}/images/back_pack/frame_{k}.jpg"] = jpeg(k)
        members[f"{d}/images/laptop_computer/frame_{k}.jpg"] = jpeg(k + 5)
    members["image_list/amazon.txt"] = b"not used"
    spec, manifest, _ = run_prepare(tmp_path, "office_caltech", {"officecaltech.tgz": tgz(members)},
                                    dict.fromkeys(("amazon", "webcam", "dslr", "caltech"), 2), publish_md5=False)
    recs = check_index(tmp_path, "office_caltech", manifest, spec)
    assert {r.class_name for r in recs} == {"backpack", "laptop"}
    # no published checksum: the first download's sha256 is pinned in the lock file
    lock = json.loads((tmp_path / "raw" / "downloads.lock.json").read_text())
    assert lock["office_caltech/officecaltech.tgz"]["sha256"] == manifest["sources"][0]["sha256"]


def test_office_caltech_shared_release_layout(tmp_path, shared_data):
    """The real Office-Caltech10 release's tree (2,533 JPEGs) parses to the published counts.

    The tree is rebuilt from the tar's member names with empty files (the parser reads
    names, not pixels), so the test stays fast.
    """
    from mtlbench.data.releases import check_counts

    with tarfile.open(shared_data / "office_caltech10_images.tar") as t:
        for m in t.getmembers():
            if m.isfile():
                (tmp_path / m.name).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / m.name).touch()
    spec = SOURCES["office_caltech"]
    recs = spec.layout(tmp_path, spec)
    assert check_counts(spec, recs) == {"amazon": 958, "webcam": 295, "dslr": 157, "caltech": 1123}
    assert {r.class_name for r in recs} == set(spec.classes)


def test_image_clef_lists(tmp_path):
    members, lists = {}, {}
    for k, d in enumerate(("c", "i", "p", "b")):
        for j, label in enumerate((0, 11, 6)):
            path = f"{d}/{100 + j}_{k}.jpg"
            members[f"image_CLEF/{path}"] = jpeg(10 * k + j)
            # one list line with an absolute path from the authors' machine
            listed = f"/home/someone/data/image_CLEF/{path}" if j == 2 else path
            lists.setdefault(d, []).append(f"{listed} {label}")
    for d, lines in lists.items():
        members[f"image_CLEF/list/{d}List.txt"] = ("\n".join(lines) + "\n").encode()
    spec, manifest, _ = run_prepare(tmp_path, "image_clef", {"image_CLEF.zip": zipped(members)},
                                    dict.fromkeys("cipb", 3))
    recs = check_index(tmp_path, "image_clef", manifest, spec)
    assert sorted({r.class_name for r in recs}) == ["aeroplane", "car", "people"]
    assert any(r.sample_id == "p/102_2.jpg" and r.class_name == "car" for r in recs)


def test_domainnet_official_lists_with_splits(tmp_path):
    archives = {}
    classes = SOURCES["domainnet"].classes
    for k, d in enumerate(SOURCES["domainnet"].tasks):
        imgs = {f"{d}/aircraft_carrier/{d}_001_{k:06d}.jpg": 0, f"{d}/cello/{d}_066_{k:06d}.jpg": 66,
                f"{d}/zigzag/{d}_344_{k:06d}.jpg": 344}
        archives[f"{d}.zip"] = zipped({p: jpeg(k * 3 + i) for i, p in enumerate(imgs)})
        items = list(imgs.items())
        archives[f"{d}_train.txt"] = "".join(f"{p} {lab}\n" for p, lab in items[:2]).encode()
        archives[f"{d}_test.txt"] = "".join(f"{p} {lab}\n" for p, lab in items[2:]).encode()
    assert classes[66] == "cello" and classes[344] == "zigzag" and len(classes) == 345
    spec, manifest, _ = run_prepare(tmp_path, "domainnet", archives, dict.fromkeys(SOURCES["domainnet"].tasks, 3))
    recs = check_index(tmp_path, "domainnet", manifest, spec)
    assert manifest["splits"] == ["test", "train"]
    assert sum(r.split == "train" for r in recs) == 12 and sum(r.split == "test" for r in recs) == 6
    assert all(r.class_name == "zigzag" for r in recs if r.split == "test")
    # a list label that disagrees with the image's folder is caught
    raw = tmp_path / "raw" / "domainnet"
    bad = raw / "extracted" / "sketch_test.txt" / "sketch_test.txt"
    bad.write_text(bad.read_text().replace(" 344", " 343"))
    with pytest.raises(DataError, match="folder says"):
        SOURCES["domainnet"].layout(raw / "extracted", spec)


def _idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes())


def test_amtnn_digits(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    archives = {}
    for prefix, n in (("train", 3), ("t10k", 2)):
        archives[f"{prefix}-images-idx3-ubyte.gz"] = _idx(rng.integers(0, 255, (n, 28, 28)))
        archives[f"{prefix}-labels-idx1-ubyte.gz"] = _idx(np.arange(n))
    for split, n in (("train", 2), ("test", 1)):
        buf = io.BytesIO()
        savemat(buf, {"X": rng.integers(0, 255, (32, 32, 3, n)).astype(np.uint8),
                      "y": np.array([[10]] * n, dtype=np.uint8)})
        archives[f"{split}_32x32.mat"] = buf.getvalue()
    mm = {}
    for split, n in (("train", 2), ("test", 2)):
        lines = []
        for i in range(n):
            png = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(png, "PNG")
            mm[f"mnist_m/mnist_m_{split}/{i:08d}.png"] = png.getvalue()
            lines.append(f"{i:08d}.png {i + 3}")
        mm[f"mnist_m/mnist_m_{split}_labels.txt"] = ("\n".join(lines) + "\n").encode()
    archives["mnist_m.tar.gz"] = tgz(mm)
    spec, manifest, _ = run_prepare(tmp_path, "amtnn_digits", archives, {"mnist": 5, "mnist_m": 4, "svhn": 3})
    from mtlbench.data.raw import load_raw

    raw = load_raw(tmp_path / "raw" / "amtnn_digits")
    assert raw.image.shape == (12, 3, 32, 32)
    assert manifest["samples_per_task"] == {"mnist": 5, "mnist_m": 4, "svhn": 3}
    svhn = raw.task == "svhn"
    assert (raw.label[svhn] == 0).all()  # SVHN's '10' is the digit 0
    assert list(raw.sample_id[:2]) == ["mnist/train/00000", "mnist/train/00001"]


def test_count_check_and_overrides_are_clear(tmp_path):
    spec = SOURCES["office_home"]
    assert spec.expected_counts == {"Art": 2427, "Clipart": 4365, "Product": 4439, "Real_World": 4357}
    assert SOURCES["office_caltech"].expected_counts == {"amazon": 958, "webcam": 295, "dslr": 157, "caltech": 1123}
    assert SOURCES["image_clef"].expected_counts == dict.fromkeys("cipb", 600)
    assert sum(SOURCES["domainnet"].expected_counts.values()) == 586_575
    # the tiny archive against the published counts
    archives = {f"{d}.tgz": tgz({f"{d}/Mug/1.jpg": jpeg(0)}) for d in ("Art", "Clipart", "Product", "Real_World")}
    with pytest.raises(DataError, match=r"Art: 1 \(published 2427\).*expected_counts"):
        run_prepare(tmp_path, "office_home", archives, {})
    with pytest.raises(ConfigError, match="allowed: sources, expected_counts"):
        get_source("office_home", {"mirrors": []})
    with pytest.raises(ConfigError, match="unknown file 'Art.zip'"):
        get_source("office_home", {"sources": {"Art.zip": {"urls": ["x"]}}})
    with pytest.raises(ConfigError, match="unknown task"):
        get_source("office_home", {"expected_counts": {"art": 3}})


def test_cli_prepare_with_url_override(tmp_path, capsys):
    from mtlbench.cli import main

    members = {f"{d}/{c}/{d}_{c}.jpg": jpeg(i) for i, d in enumerate(("amazon", "webcam", "dslr", "caltech10"))
               for c in ("mug", "bike")}
    data = tgz(members)
    with serve({"/oc.tgz": Served(data)}) as base:
        overrides = {"sources": {"officecaltech.tgz": {"urls": [f"{base}/oc.tgz"]}},
                     "expected_counts": dict.fromkeys(("amazon", "webcam", "dslr", "caltech"), 2)}
        rc = main(["prepare", "--dataset", "office_caltech", "--out", str(tmp_path / "raw" / "office_caltech"),
                   "--overrides", json.dumps(overrides), "--quiet"])
        assert rc == 0
        overrides["expected_counts"] = {}
        (tmp_path / "raw" / "office_caltech" / "manifest.json").unlink()
        rc = main(["prepare", "--dataset", "office_caltech", "--out", str(tmp_path / "raw" / "office_caltech"),
                   "--overrides", json.dumps(overrides), "--quiet"])
    assert rc == 2 and "amazon: 2 (published 958)" in capsys.readouterr().err
    # the count check fails before the index is written: the first run's index is untouched
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "raw" / "office_caltech" / "index.parquet").num_rows == 8


def test_index_to_features_table(tmp_path):
    """download -> index.parquet -> sharded features table, sample ids and labels carried through."""
    import torch

    from mtlbench.features.image_files import extract_index_features
    from mtlbench.features.table import read_features

    archives = {}
    for k, d in enumerate(("Art", "Clipart", "Product", "Real_World")):
        archives[f"{d}.tgz"] = tgz({f"{d}/Mug/{k}.jpg": jpeg(k), f"{d}/Pen/{k}.jpg": jpeg(k + 4)})
    spec, manifest, _ = run_prepare(tmp_path, "office_home", archives,
                                    dict.fromkeys(("Art", "Clipart", "Product", "Real_World"), 2))
    torch.manual_seed(0)
    tiny = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4096))
    out = tmp_path / "features" / "office_home" / "vgg16_fc7.parquet"
    summary = extract_index_features(tmp_path / "raw" / "office_home", out, {"weights": "random", "batch_size": 3},
                                     workers=0, shard_size=3, progress=False, model=tiny)
    table = read_features(out)
    recs = read_index(tmp_path / "raw" / "office_home")
    assert list(table.sample_id) == [r.sample_id for r in recs] and list(table.label) == [r.label for r in recs]
    assert table.feature.shape == (8, 4096) and summary["shards"] == 3
    assert table.metadata["dataset"] == "office_home" and len(table.metadata["classes"]) == 65
    assert set(table.metadata["source_archives"]) == set(archives)

"""The image index (data/raw.py): one format for the releases and image_folder, read by the
one features path; earlier forms still load, anything else asks for a rebuild."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from mtlbench.data.image_folder import index_image_folder
from mtlbench.data.raw import (
    INDEX_COLUMNS,
    INDEX_VERSION,
    RawImageFiles,
    load_raw,
    write_image_index,
)
from mtlbench.errors import DataError
from mtlbench.features.image_files import extract_index_features
from mtlbench.features.table import read_features


def tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(12, 4096)).eval()


def make_tree(root):
    rng = np.random.default_rng(0)
    for t in ("a", "b"):
        for c in ("cat", "dog"):
            for k in range(2):
                p = root / t / c / f"{k}.{'jpg' if k else 'png'}"
                p.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (30 + 7 * k, 40, 3), dtype=np.uint8)).save(p)


def features(raw_dir, out, **kw):
    extract_index_features(raw_dir, out, {"weights": "random", "batch_size": 3}, workers=0, shard_size=5,
                           progress=False, model=tiny_model(), **kw)
    return read_features(out)


def test_image_folder_writes_the_documented_index(tmp_path):
    make_tree(tmp_path / "imgs")
    manifest = index_image_folder("toy", {"root": str(tmp_path / "imgs")}, tmp_path / "raw")
    df = pd.read_parquet(tmp_path / "raw" / "index.parquet")
    assert tuple(df.columns) == INDEX_COLUMNS and df["split"].isna().all()
    assert df["class_name"].tolist()[:4] == ["cat", "cat", "dog", "dog"] and df["path"].iloc[0] == "a/cat/0.png"
    assert manifest["layout"] == "files" and manifest["index_version"] == INDEX_VERSION
    assert manifest["images"]["root"] == str((tmp_path / "imgs").resolve())
    raw = load_raw(tmp_path / "raw")
    assert isinstance(raw, RawImageFiles) and raw.images().read(raw.path[0])[:4] == b"\x89PNG"


def test_archive_and_folder_give_the_same_features(tmp_path):
    make_tree(tmp_path / "top" / "imgs")
    with tarfile.open(tmp_path / "imgs.tar", "w") as tar:
        tar.add(tmp_path / "top" / "imgs", arcname="imgs")
    index_image_folder("toy", {"root": str(tmp_path / "top" / "imgs")}, tmp_path / "raw_dir")
    index_image_folder("toy", {"root": str(tmp_path / "imgs.tar")}, tmp_path / "raw_tar")
    a = features(tmp_path / "raw_dir", tmp_path / "a.parquet")
    b = features(tmp_path / "raw_tar", tmp_path / "b.parquet")
    assert a.sample_id.tolist() == b.sample_id.tolist() and len(a.sample_id) == 8
    np.testing.assert_array_equal(a.feature, b.feature)
    assert b.metadata["images"]["archive_sha256"] and b.metadata["dataset"] == "toy"


def test_release_and_image_folder_share_one_reader(tmp_path):
    """A release-style index (paths relative to the raw folder, a split column) runs the same path."""
    make_tree(tmp_path / "raw" / "extracted" / "x")
    rows = [(f"{t}/{c}/{k}", t, c, ci, f"extracted/x/{t}/{c}/{k}.{'jpg' if k else 'png'}", "train" if k else "test")
            for t in ("a", "b") for ci, c in enumerate(("cat", "dog")) for k in range(2)]
    index = dict(zip(INDEX_COLUMNS, map(list, zip(*rows))))
    write_image_index(tmp_path / "raw", index, {"dataset": "rel", "kind": "image_files", "classes": ["cat", "dog"]},
                      images={"root": ".", "subdir": ""})
    t = features(tmp_path / "raw", tmp_path / "f.parquet")
    assert t.metadata["splits"]["a/cat/1"] == "train" and t.metadata["splits"]["a/cat/0"] == "test"
    assert t.feature.shape == (8, 4096)


def _legacy_image_folder(tmp_path):
    """data/raw written by index_image_folder before the unified index (member, layout: files)."""
    make_tree(tmp_path / "imgs")
    raw = tmp_path / "old"
    raw.mkdir()
    rows = [(f"{t}/{c}/{k}.{'jpg' if k else 'png'}", t, ci) for t in ("a", "b") for ci, c in enumerate(("cat", "dog"))
            for k in range(2)]
    pd.DataFrame({"sample_id": [r[0] for r in rows], "task": [r[1] for r in rows],
                  "label": np.array([r[2] for r in rows], dtype=np.int64),
                  "member": [r[0] for r in rows]}).to_parquet(raw / "index.parquet", index=False)
    (raw / "manifest.json").write_text(json.dumps({
        "dataset": "toy", "kind": "image_folder", "classes": ["cat", "dog"], "layout": "files",
        "source": {"root": str(tmp_path / "imgs"), "subdir": "", "archive_sha256": None, "skipped_files": 0}}))
    return raw


def test_earlier_indexes_still_load(tmp_path):
    old = _legacy_image_folder(tmp_path)
    raw = load_raw(old)
    assert raw.class_name.tolist()[:3] == ["cat", "cat", "dog"] and raw.path[0] == "a/cat/0.png"
    index_image_folder("toy", {"root": str(tmp_path / "imgs")}, tmp_path / "new")
    np.testing.assert_array_equal(features(old, tmp_path / "old.parquet").feature,
                                  features(tmp_path / "new", tmp_path / "new.parquet").feature)
    # a release's index before the unified one: same columns, no layout key in the manifest
    rel = tmp_path / "rel"
    (rel / "extracted").mkdir(parents=True)
    (rel / "extracted" / "a.png").write_bytes((tmp_path / "imgs" / "a" / "cat" / "0.png").read_bytes())
    pd.DataFrame({"sample_id": ["t/a"], "task": ["t"], "class_name": ["cat"], "label": [0],
                  "path": ["extracted/a.png"], "split": [None]}).to_parquet(rel / "index.parquet", index=False)
    (rel / "manifest.json").write_text(json.dumps({"dataset": "r", "kind": "image_files", "classes": ["cat"]}))
    assert load_raw(rel).images().read("extracted/a.png")[:4] == b"\x89PNG"


def test_unknown_index_asks_for_a_rebuild(tmp_path):
    old = _legacy_image_folder(tmp_path)
    pd.DataFrame({"sample_id": ["x"], "file": ["y"]}).to_parquet(old / "index.parquet", index=False)
    with pytest.raises(DataError, match=r"missing columns .*rerun the raw stage to rebuild"):
        load_raw(old)
    m = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps(dict(m, index_version=INDEX_VERSION + 1)))
    with pytest.raises(DataError, match="newer than this mtlbench reads"):
        load_raw(old)
    raw = _legacy_image_folder(tmp_path / "moved")
    m = json.loads((raw / "manifest.json").read_text())
    m["source"]["root"] = str(tmp_path / "gone")
    (raw / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DataError, match="not there any more.*rerun the raw stage"):
        load_raw(raw).images()

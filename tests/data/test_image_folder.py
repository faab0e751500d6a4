"""image_folder: listing without decoding, class checks, RGB decoding, the file-index raw form."""

from __future__ import annotations

import io
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from mtlbench.data.image_folder import decode_rgb, index_image_folder, scan_image_folder
from mtlbench.data.kinds import ImageFolderConfig
from mtlbench.data.raw import RawImageFiles, load_raw, write_raw_images
from mtlbench.errors import DataError
from mtlbench.features.table import read_features


def save(path, mode, size=(20, 14), color=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".png": "PNG", ".bmp": "BMP"}[path.suffix]
    Image.new(mode, size, color).save(path, fmt)


def make_tree(root, classes=("cat", "dog"), tasks=("a", "b")):
    for t in tasks:
        for i, c in enumerate(classes):
            save(root / t / c / f"{c}1.png", "RGB", color=(10 * i, 20, 30))
            save(root / t / c / f"{c}2.jpg", "L", color=100 + i)
    (root / "README.txt").write_text("not an image")


def cfg(root, **kw):
    return ImageFolderConfig(kind="image_folder", root=str(root), **kw)


def test_scan_counts_labels_and_sample_ids(tmp_path):
    make_tree(tmp_path / "top")
    index, classes, _, extra = scan_image_folder(cfg(tmp_path / "top"))
    assert classes == ["cat", "dog"] and extra["skipped_files"] == 1
    assert index["sample_id"].tolist()[:2] == ["a/cat/cat1.png", "a/cat/cat2.jpg"]
    assert index["label"].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_archive_with_single_top_folder_is_auto_detected(tmp_path, kind):
    make_tree(tmp_path / "data" / "office")
    (tmp_path / "data" / "office" / "README.txt").unlink()
    path = tmp_path / f"imgs.{kind}"
    if kind == "tar":
        with tarfile.open(path, "w") as tar:
            tar.add(tmp_path / "data" / "office", arcname="office")
    else:
        with zipfile.ZipFile(path, "w") as z:
            for p in sorted((tmp_path / "data").rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(tmp_path / "data").as_posix())
    index, classes, src, _ = scan_image_folder(cfg(path, tasks=("b",)))
    assert src.prefix == "office/" and index["task"].unique().tolist() == ["b"] and len(index) == 4
    img = decode_rgb(src.read(index["path"].iloc[1]), "x")
    assert img.shape == (3, 14, 20) and img.dtype == np.uint8


def test_differing_classes_name_the_task_and_classes(tmp_path):
    make_tree(tmp_path, classes=("cat", "dog"), tasks=("a",))
    make_tree(tmp_path, classes=("cat", "eel"), tasks=("b",))
    with pytest.raises(DataError, match=r"task 'b'.*only in 'b': \['eel'\], missing from 'b': \['dog'\]"):
        scan_image_folder(cfg(tmp_path))
    index, classes, _, _ = scan_image_folder(cfg(tmp_path, classes=("eel", "dog", "cat")))
    assert classes == ["eel", "dog", "cat"] and sorted(set(index["label"])) == [0, 1, 2]
    with pytest.raises(DataError, match=r"task 'b' has class folders \['eel'\]"):
        scan_image_folder(cfg(tmp_path, classes=("cat", "dog")))
    with pytest.raises(DataError, match=r"task folders \['z'\] not found; task folders present: \['a', 'b'\]"):
        scan_image_folder(cfg(tmp_path, tasks=("a", "z")))


def test_modes_become_rgb_and_unreadable_file_is_named(tmp_path):
    for mode, color in (("L", 77), ("CMYK", (0, 0, 0, 0)), ("RGBA", (1, 2, 3, 0)), ("P", 5), ("1", 1)):
        buf = io.BytesIO()
        Image.new(mode, (5, 4), color).save(buf, "PNG" if mode != "CMYK" else "JPEG")
        img = decode_rgb(buf.getvalue(), mode)
        assert img.shape == (3, 4, 5), mode
    gray = decode_rgb(_png("L", 77), "g")
    assert (gray == 77).all()
    rgba = decode_rgb(_png("RGBA", (1, 2, 3, 0)), "a")
    assert rgba[:, 0, 0].tolist() == [1, 2, 3]
    with pytest.raises(DataError, match="broken/x.jpg: unreadable image"):
        decode_rgb(b"not a jpeg", "broken/x.jpg")


def _png(mode, color):
    buf = io.BytesIO()
    Image.new(mode, (5, 4), color).save(buf, "PNG")
    return buf.getvalue()


def test_file_index_raw_stage_and_features_match_the_array_path(tmp_path, monkeypatch):
    """Same images through images.npz and through index.parquet + DataLoader: same features."""
    import torch

    import mtlbench.features.backbones as bb
    from mtlbench.features.extract import extract_features

    rng = np.random.default_rng(0)
    arrays, ids, tasks, labels = [], [], [], []
    for t in ("a", "b"):
        for li, c in enumerate(("cat", "dog")):
            for k in range(3):
                arr = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
                p = tmp_path / "imgs" / t / c / f"{k}.png"
                p.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(arr).save(p)
                arrays.append(arr.transpose(2, 0, 1))
                ids.append(f"{t}/{c}/{k}.png")
                tasks.append(t)
                labels.append(li)
    manifest = index_image_folder("toy", {"root": str(tmp_path / "imgs")}, tmp_path / "raw_files")
    assert manifest["layout"] == "files" and manifest["samples_per_task"] == {"a": 6, "b": 6}
    raw = load_raw(tmp_path / "raw_files")
    assert isinstance(raw, RawImageFiles) and raw.sample_id.tolist() == ids
    write_raw_images(tmp_path / "raw_array", ids, tasks, labels, np.stack(arrays), {"dataset": "toy"})

    def tiny_fc7(weights="random", seed=0):  # stands in for VGG16: same interface, 4096-d
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(12, 4096)).eval()

    monkeypatch.setattr(bb, "vgg16_fc7_model", tiny_fc7)
    conf = {"weights": "random", "batch_size": 5, "resize": 224, "crop": 224}
    extract_features(tmp_path / "raw_array", "vgg16_fc7", conf, tmp_path / "arr.parquet", progress=False)
    for workers in (0, 2):
        extract_features(tmp_path / "raw_files", "vgg16_fc7", conf, tmp_path / f"f{workers}.parquet",
                         progress=False, workers=workers)
        a, f = read_features(tmp_path / "arr.parquet"), read_features(tmp_path / f"f{workers}.parquet")
        assert f.sample_id.tolist() == a.sample_id.tolist() and f.label.tolist() == a.label.tolist()
        np.testing.assert_allclose(f.feature, a.feature, rtol=1e-5, atol=1e-6)
    assert read_features(tmp_path / "f0.parquet").metadata["images"]["root"].endswith("imgs")
    # the pixels backbone has no input size: equal-size images work from files too
    extract_features(tmp_path / "raw_files", "pixels", {}, tmp_path / "px.parquet", progress=False)
    assert read_features(tmp_path / "px.parquet").feature.shape == (12, 3 * 224 * 224)


def test_unreadable_image_in_features_stage_is_named(tmp_path):
    from mtlbench.features.extract import extract_features

    make_tree(tmp_path / "imgs", tasks=("a",))
    (tmp_path / "imgs" / "a" / "dog" / "bad.jpg").write_bytes(b"\xff\xd8 truncated")
    index_image_folder("toy", {"root": str(tmp_path / "imgs")}, tmp_path / "raw")
    with pytest.raises(DataError, match=r"a/dog/bad.jpg: unreadable image"):
        extract_features(tmp_path / "raw", "pixels", {}, tmp_path / "px.parquet", progress=False)
    assert not (tmp_path / "px.parquet").exists()


def test_shared_office_caltech_counts_and_grayscale(shared_data):
    """958 / 1,123 / 157 / 295 images, counted from the archive listing; grayscale -> RGB."""
    index, classes, src, _ = scan_image_folder(cfg(shared_data / "office_caltech10_images.tar"))
    counts = index["task"].value_counts().to_dict()
    assert counts == {"amazon": 958, "caltech10": 1123, "dslr": 157, "webcam": 295}
    assert len(classes) == 10 and classes[0] == "backpack"
    gray = []
    for m in index.loc[index.task == "caltech10", "path"]:
        with Image.open(io.BytesIO(src.read(m))) as im:  # header only, no decoding
            if im.mode != "RGB":
                gray.append((m, im.mode))
    assert len(gray) == 4 and all(mode == "L" for _, mode in gray)
    img = decode_rgb(src.read(gray[0][0]), gray[0][0])
    assert img.shape[0] == 3 and (img[0] == img[1]).all() and (img[1] == img[2]).all()

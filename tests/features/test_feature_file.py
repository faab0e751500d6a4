"""feature_file: every format round-trips to the same features table; bad input is named."""

from __future__ import annotations

import tarfile

import numpy as np
import pandas as pd
import pytest

from mtlbench.config import validate_params
from mtlbench.errors import ConfigError, DataError
from mtlbench.features.feature_file import import_features
from mtlbench.features.table import read_features

TASKS = ("amazon", "dslr")
CLASSES = [f"c{i}" for i in range(4)]


def make_tasks(seed=0, dim=6):
    """Per task: features (n, dim) float32 and 1-based labels (n,) int64."""
    rng = np.random.default_rng(seed)
    out = {}
    for t, n in zip(TASKS, (13, 9)):
        x = rng.normal(size=(n, dim)).astype(np.float32)
        y = np.arange(n) % 4 + 1
        out[t] = (x, y.astype(np.int64))
    return out


def write_mat_v5(path, x, y):
    from scipy.io import savemat

    savemat(path, {"feature": x, "label": y[None, :]})


def write_mat_v73(path, x, y):
    """An HDF5 file as MATLAB -v7.3 writes it: column-major, so h5py sees (D, N) and (N, 1)."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("feature", data=x.T)
        f.create_dataset("label", data=y[None, :].T)
    with open(path, "r+b") as f:  # MATLAB's 128-byte text header in the user block
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2026 HDF5 schema 1.00 .")


def write_per_task(tmp_path, fmt, data):
    files = {}
    for t, (x, y) in data.items():
        name = f"{t}.{fmt}"
        p = tmp_path / name
        if fmt == "npz":
            np.savez(p, feature=x, label=y)
        elif fmt == "csv":
            df = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
            df["label"] = y
            df.to_csv(p, index=False)
        elif fmt == "parquet":
            pd.DataFrame({"feature": list(x), "label": y}).to_parquet(p)
        files[t] = name
    return files


def table_of(path):
    ft = read_features(path)
    return ft.sample_id.tolist(), ft.task.tolist(), ft.label.tolist(), ft.feature


@pytest.fixture
def data():
    return make_tasks()


@pytest.fixture
def reference(tmp_path, data):
    d = tmp_path / "v5"
    d.mkdir()
    for t, (x, y) in data.items():
        write_mat_v5(d / f"{t}.mat", x, y)
    out = tmp_path / "ref.parquet"
    import_features("toy", {"path": str(d), "files": {t: f"{t}.mat" for t in TASKS}, "classes": CLASSES}, out)
    return table_of(out)


def assert_same(a, b):
    assert a[:3] == b[:3]
    np.testing.assert_array_equal(a[3], b[3])


def test_mat_v5_reference_is_right(reference, data):
    sid, task, label, feat = reference
    assert task == ["amazon"] * 13 + ["dslr"] * 9
    assert sid[0] == "amazon/00000" and sid[-1] == "dslr/00008"
    assert label == (data["amazon"][1] - 1).tolist() + (data["dslr"][1] - 1).tolist()
    np.testing.assert_array_equal(feat, np.concatenate([data[t][0] for t in TASKS]))


@pytest.mark.parametrize("fmt", ["npz", "csv", "parquet"])
def test_tabular_and_npz_formats_round_trip(tmp_path, data, reference, fmt):
    files = write_per_task(tmp_path, fmt, data)
    cfg = {"path": str(tmp_path), "files": files, "classes": CLASSES}
    if fmt == "csv":
        cfg["feature_prefix"] = "f"
    out = tmp_path / "out.parquet"
    import_features("toy", cfg, out)
    assert_same(table_of(out), reference)


def test_mat_v73_round_trips_through_h5py(tmp_path, data, reference):
    files = {}
    for t, (x, y) in data.items():
        write_mat_v73(tmp_path / f"{t}.mat", x, y)
        files[t] = f"{t}.mat"
    out = tmp_path / "out.parquet"
    import_features("toy", {"path": str(tmp_path), "files": files, "classes": CLASSES}, out)
    assert_same(table_of(out), reference)


def test_one_table_with_task_column_in_an_archive(tmp_path, data, reference):
    rows = []
    for t, (x, y) in data.items():
        df = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
        df.insert(0, "domain", t)
        df["y"] = y
        rows.append(df)
    (tmp_path / "top").mkdir()
    pd.concat(rows).to_csv(tmp_path / "top" / "all.csv", index=False)
    with tarfile.open(tmp_path / "feats.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "top", arcname="top")
    out = tmp_path / "out.parquet"
    meta = import_features("toy", {"path": str(tmp_path / "feats.tar.gz"), "tasks": list(TASKS), "task_column": "domain",
                                   "feature_prefix": "f", "labels_key": "y", "classes": CLASSES}, out)
    assert_same(table_of(out), reference)
    assert meta["source"]["subdir"] == "top" and len(meta["source"]["archive_sha256"]) == 64
    assert len(read_features(out).metadata["source"]["files"]["*"]["sha256"]) == 64


def test_data_matrix_with_label_column_transposed(tmp_path, data, reference):
    for t, (x, y) in data.items():
        np.savez(tmp_path / f"{t}.npz", data=np.concatenate([x, y[:, None].astype(np.float32)], axis=1).T)
    out = tmp_path / "out.parquet"
    import_features("toy", {"path": str(tmp_path), "files": {t: f"{t}.npz" for t in TASKS}, "features_key": "data",
                            "label_column": -1, "transpose": True, "classes": CLASSES}, out)
    assert_same(table_of(out), reference)


def test_zero_based_labels_and_no_class_names(tmp_path, data):
    for t, (x, y) in data.items():
        np.savez(tmp_path / f"{t}.npz", feas=x, label=y - 1)
    out = tmp_path / "out.parquet"
    meta = import_features("toy", {"path": str(tmp_path), "files": {t: f"{t}.npz" for t in TASKS}, "features_key": "feas"}, out)
    assert meta["label_base"] == 0 and meta["classes"] == ["0", "1", "2", "3"]
    assert read_features(out).label.tolist()[:5] == [0, 1, 2, 3, 0]
    assert meta["source"]["files"]["amazon"]["sha256"] != meta["source"]["files"]["dslr"]["sha256"]


def test_missing_key_names_the_keys_present(tmp_path, data):
    x, y = data["amazon"]
    np.savez(tmp_path / "a.npz", feas=x, label=y)
    with pytest.raises(DataError, match=r"no array 'feature'.*keys present: \['feas', 'label'\]"):
        import_features("toy", {"path": str(tmp_path), "files": {"amazon": "a.npz"}}, tmp_path / "o.parquet")


def test_length_mismatch_names_both_shapes(tmp_path, data):
    x, y = data["amazon"]
    write_mat_v5(tmp_path / "a.mat", x, y[:-2])
    with pytest.raises(DataError, match=r"shape \(13, 6\).*shape \(1, 11\)"):
        import_features("toy", {"path": str(tmp_path), "files": {"amazon": "a.mat"}}, tmp_path / "o.parquet")


def test_nan_and_inf_refused_with_count_and_first_row_and_nothing_written(tmp_path, data):
    x, y = data["amazon"]
    x = x.copy()
    x[4, 1] = np.nan
    x[7, 0] = np.inf
    np.savez(tmp_path / "a.npz", feature=x, label=y)
    out = tmp_path / "o.parquet"
    with pytest.raises(DataError, match="2 feature rows hold NaN or inf, first row 4"):
        import_features("toy", {"path": str(tmp_path), "files": {"amazon": "a.npz"}}, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_labels_outside_classes_refused(tmp_path, data):
    x, y = data["amazon"]
    np.savez(tmp_path / "a.npz", feature=x, label=y + 1)  # 2..5
    with pytest.raises(DataError, match="smallest label is 2"):
        import_features("toy", {"path": str(tmp_path), "files": {"amazon": "a.npz"}}, tmp_path / "o.parquet")


def test_params_entry_validated_and_registered_datasets_unchanged():
    p = validate_params({"datasets": {
        "digits": {"backbone": "pixels"},
        "mine": {"kind": "feature_file", "path": "x.tar.gz", "files": {"a": "a.mat", "b": "b.mat"}}}})
    assert p["datasets"]["digits"] == {"backbone": "pixels", "tasks": ["mnist", "mnist_m", "uci_digits"], "enabled": True}
    assert p["datasets"]["mine"]["tasks"] == ["a", "b"] and p["datasets"]["mine"]["backbone"] == "precomputed"
    with pytest.raises(ConfigError, match=r"datasets.mine.format.*allowed: 'csv', 'mat', 'npz', 'parquet'"):
        validate_params({"datasets": {"mine": {"kind": "feature_file", "path": "x", "files": {"a": "a"}, "format": "xls"}}})
    with pytest.raises(ConfigError, match=r"datasets.mine.'label_col' \(did you mean 'label_column'\?\); allowed"):
        validate_params({"datasets": {"mine": {"kind": "feature_file", "path": "x", "files": {"a": "a"}, "label_col": 3}}})
    with pytest.raises(ConfigError, match=r"datasets.mine.kind.*'feature_file', 'image_folder'"):
        validate_params({"datasets": {"mine": {"kind": "hdf5", "path": "x"}}})
    with pytest.raises(ConfigError, match=r"datasets.mine.tasks: list the tasks"):
        validate_params({"datasets": {"mine": {"kind": "feature_file", "path": "x.csv"}}})
    with pytest.raises(ConfigError, match="bring your own data with a 'kind:' key"):
        validate_params({"datasets": {"mine": {"path": "x.csv"}}})


def test_shared_office_caltech_googlenet(shared_data, tmp_path):
    out = tmp_path / "oc.parquet"
    meta = import_features("oc", {"path": str(shared_data / "office_caltech10_googlenet1024.tar.gz"),
                                  "files": {"amazon": "amazon.mat", "dslr": "dslr.mat", "webcam": "webcam.mat"},
                                  "features_key": "fts", "labels_key": "labels"}, out)
    ft = read_features(out)
    assert ft.feature.shape == (958 + 157 + 295, 1024)
    assert meta["label_base"] == 1 and sorted(set(ft.label.tolist())) == list(range(10))
    assert meta["source"]["archive_sha256"] == "3f34197c72892c28c5fd9bbeb42dfc260f089e03d3f7f1cadf1ea5c5c78419f2"


def test_one_parquet_file_as_path(tmp_path, data, reference):
    frames = [pd.DataFrame({"task": t, "feature": list(x), "label": y}) for t, (x, y) in data.items()]
    pd.concat(frames).to_parquet(tmp_path / "all.parquet")
    out = tmp_path / "out.parquet"
    meta = import_features("toy", {"path": str(tmp_path / "all.parquet"), "classes": CLASSES}, out)
    assert_same(table_of(out), reference)
    assert meta["source"]["archive_sha256"] is None and meta["source"]["files"]["*"]["format"] == "parquet"


# --- issue 18: bad data that used to be accepted silently ---

def _npz(tmp_path, x, y, name="a.npz"):
    np.savez(tmp_path / name, feature=x, label=y)
    return {"path": str(tmp_path), "files": {"amazon": name}}


def test_single_class_task_refused_naming_task_and_class(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    cfg = _npz(tmp_path, x, np.zeros(8, dtype=np.int64))
    with pytest.raises(DataError, match=r"task 'amazon' has a single class \('0', 8 samples\)"):
        import_features("toy", cfg, tmp_path / "o.parquet")


def test_sparse_label_ids_refused_naming_the_empty_classes(tmp_path):
    x = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    cfg = _npz(tmp_path, x, np.array([0, 5, 10] * 3))
    with pytest.raises(DataError, match=r"labels \[0, 5, 10\] .*leave 8 of 11 class ids without a sample \(1, 2, 3, 4, 6"):
        import_features("toy", cfg, tmp_path / "o.parquet")


def test_single_sample_class_duplicate_rows_and_transpose_hint_warn(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(9, 3)).astype(np.float32)
    x[5] = x[1]  # a repeated row
    cfg = _npz(tmp_path, x, np.array([0, 0, 0, 0, 1, 1, 1, 1, 2]))  # class 2: one sample
    meta = import_features("toy", cfg, tmp_path / "o.parquet")
    notes = "\n".join(meta["warnings"])
    assert "task 'amazon': class(es) 2 have a single sample" in notes
    assert "task 'amazon': 1 feature rows repeat an earlier row (first: row 5" in notes
    wide = rng.normal(size=(20, 9)).astype(np.float32)  # stored (D, N) = (20, 9): transpose gives 9 x 20
    cfg = _npz(tmp_path, wide, np.arange(9) % 3, name="w.npz")
    meta = import_features("toy", {**cfg, "transpose": True}, tmp_path / "w.parquet")
    assert any("20-d features, 9 samples, 3 classes after transpose: true" in w for w in meta["warnings"])


def test_ragged_parquet_feature_lists_name_the_file(tmp_path):
    pd.DataFrame({"feature": [[0.0, 1.0], [1.0, 2.0, 3.0], [0.5, 0.5]], "label": [0, 1, 0]}).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"a.parquet: the features column 'feature' holds lists of different lengths"):
        import_features("toy", {"path": str(tmp_path), "files": {"amazon": "a.parquet"}}, tmp_path / "o.parquet")


def test_default_keys_follow_the_features_contract(tmp_path):
    """`feature` / `label`, the features table's own column names, are the default keys."""
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    np.savez(tmp_path / "a.npz", feature=x, label=np.arange(8) % 2)
    import_features("toy", {"path": str(tmp_path), "files": {"amazon": "a.npz"}}, tmp_path / "o.parquet")
    np.testing.assert_array_equal(read_features(tmp_path / "o.parquet").feature, x)


@pytest.mark.parametrize("how", ["l2", "l1", "hellinger", "zscore"])
def test_normalize_is_applied_and_recorded(tmp_path, how):
    counts = np.random.default_rng(0).integers(0, 115, size=(12, 5)).astype(np.float32)  # bag-of-words counts
    counts[3] = 0  # an empty document stays zero
    np.savez(tmp_path / "a.npz", feature=counts, label=np.arange(12) % 3)
    out = tmp_path / f"{how}.parquet"
    meta = import_features("toy", {"path": str(tmp_path), "files": {"amazon": "a.npz"}, "normalize": how}, out)
    ft = read_features(out)
    x, c = ft.feature.astype(np.float64), counts.astype(np.float64)
    rows = [i for i in range(12) if i != 3]
    if how == "l2":
        np.testing.assert_allclose(np.linalg.norm(x[rows], axis=1), 1, rtol=1e-6)
    elif how == "l1":
        np.testing.assert_allclose(x[rows], c[rows] / c[rows].sum(1, keepdims=True), rtol=1e-6)
    elif how == "hellinger":
        np.testing.assert_allclose((x[rows] ** 2).sum(1), 1, rtol=1e-5)
        np.testing.assert_allclose(x[rows], np.sqrt(c[rows] / c[rows].sum(1, keepdims=True)), rtol=1e-6)
    else:
        np.testing.assert_allclose(x.mean(0), 0, atol=1e-6)
        np.testing.assert_allclose(x.std(0), 1, rtol=1e-5)
    if how != "zscore":
        assert (x[3] == 0).all()
    assert meta["normalize"] == how and ft.metadata["normalize"] == how
    assert ft.metadata["preprocessing"].startswith(f"normalize: {how}")


def test_hellinger_refuses_negative_features(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    np.savez(tmp_path / "a.npz", feature=x, label=np.arange(8) % 2)
    with pytest.raises(DataError, match="normalize: hellinger needs non-negative features; row 0 of task 'amazon'"):
        import_features("toy", {"path": str(tmp_path), "files": {"amazon": "a.npz"}, "normalize": "hellinger"},
                        tmp_path / "o.parquet")

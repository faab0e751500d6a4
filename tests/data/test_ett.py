"""ETT as datasets: download (127.0.0.1 only), the raw series, forecast windows, the chronological split.

Synthetic CSVs in the release's format always run; the real ETTh1.csv (from
``../shared/data/ett_small.tar.gz``) is served from a local HTTP server when present.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT
from localhttp import Served, no_proxy, serve  # noqa: F401 (autouse fixture)

from mtlbench.config import validate_params
from mtlbench.data.ett import ETT_TASKS, chronological_parts, read_ett_csv
from mtlbench.data.prepare import prepare_dataset
from mtlbench.data.raw import RawSeries, load_raw
from mtlbench.data.releases import get_source
from mtlbench.errors import ConfigError, DataError
from mtlbench.features.extract import extract_features
from mtlbench.features.table import read_features, write_features
from mtlbench.features.windows import make_windows, window_starts
from mtlbench.splits import chronological_split, read_split, write_split
from mtlbench.train import build_problem

HOURLY_PARTS = {"train": [0, 8640], "val": [8640, 11520], "test": [11520, 14400]}


def series(rows: int, steps_per_hour: int = 1, seed: int = 0) -> pd.DataFrame:
    """An ETT-like frame: daily cycles plus a trend (so full-data and training statistics differ)."""
    rng = np.random.default_rng(seed)
    i = np.arange(rows)[:, None]
    v = np.arange(len(ETT_TASKS))[None, :]
    values = (np.sin(2 * np.pi * i / (24 * steps_per_hour) + v) + 1e-3 * i * (v + 1) / steps_per_hour
              + 0.1 * rng.normal(size=(rows, len(ETT_TASKS))))
    dates = pd.date_range("2016-07-01", periods=rows, freq=f"{60 // steps_per_hour}min")
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d %H:%M:%S"), **dict(zip(ETT_TASKS, values.T))})


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def fetch_kw():
    return dict(retries=2, backoff_s=0, timeout_s=5, progress=False, sleep=lambda s: None)


def origin_rows(sample_id, time) -> np.ndarray:
    """Row of each sample's forecast origin (its id's time)."""
    row_of = {t: i for i, t in enumerate(time)}
    return np.array([row_of[s.split("/", 1)[1]] for s in sample_id])


# ---------------------------------------------------------------------------------------
# windows


def test_window_counts_by_hand():
    # a part of n rows holds n - L - H + 1 windows at stride 1: ETTh1 at L = 96 h, H = 24 h
    assert [len(window_starts(a, b, 96, 24)) for a, b in HOURLY_PARTS.values()] == [8521, 2761, 2761]
    # 15-minute data, hours x4: an origin every hour gives the same number of windows
    assert [len(window_starts(4 * a, 4 * b, 384, 96, 4)) for a, b in HOURLY_PARTS.values()] == [8521, 2761, 2761]
    assert len(window_starts(0, 8640, 96, 24, 4)) == (8640 - 120) // 4 + 1 == 2131
    assert window_starts(10, 20, 3, 2).tolist() == [10, 11, 12, 13, 14, 15]  # target of 15: 15 + 2 + 2 = 19
    assert len(window_starts(10, 14, 3, 2)) == 0
    assert chronological_parts(17420, 1) == HOURLY_PARTS
    assert chronological_parts(69680, 4)["test"] == [46080, 57600]
    with pytest.raises(DataError, match="need 14400"):
        chronological_parts(14000, 1)


def small_windows(lookback=4, horizon=3, stride=1):
    frame = series(60)
    time = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%dT%H:%M").to_numpy().astype(str)
    values = frame[list(ETT_TASKS)].to_numpy()
    parts = {"train": [0, 30], "val": [30, 45], "test": [45, 60]}
    return time, values, parts, make_windows(time, values, list(ETT_TASKS), parts, lookback, horizon, stride)


def test_no_window_crosses_a_boundary_and_labels_are_h_steps_ahead():
    L, H = 4, 3
    time, values, parts, win = small_windows(L, H)
    meta = win["metadata"]
    counts = {p: info["windows"] for p, info in meta["chronological"]["parts"].items()}
    assert counts == {"train": 30 - L - H + 1, "val": 15 - L - H + 1, "test": 15 - L - H + 1}
    assert len(win["sample_id"]) == len(set(win["sample_id"])) == 7 * sum(counts.values())
    split = chronological_split(win["sample_id"], win["task"], meta["chronological"])
    part_of = dict(zip(split["sample_id"], split["split"]))
    mean, std = values[:30].mean(axis=0), values[:30].std(axis=0)
    origin = origin_rows(win["sample_id"], time)
    for k, (sid, task) in enumerate(zip(win["sample_id"], win["task"])):
        a, b = parts[part_of[sid]]
        first_input, target = origin[k] - L + 1, origin[k] + H
        assert a <= first_input and target < b, (sid, part_of[sid])  # inputs and target inside the part
        v = ETT_TASKS.index(task)
        # label: the task's value H rows after the last input, standardised with training statistics
        assert win["label"][k] == pytest.approx((values[target, v] - mean[v]) / std[v])
        np.testing.assert_allclose(win["feature"][k].reshape(L, 7), (values[first_input: origin[k] + 1] - mean) / std,
                                   rtol=1e-5, atol=1e-5)
    test = [k for k, s in enumerate(win["sample_id"]) if part_of[s] == "test"]
    # done-when: no test window uses a value from before the test boundary, as target or as input
    assert (origin[test] + H >= 45).all() and (origin[test] - L + 1 >= 45).all()
    assert {part_of[s] for s in win["sample_id"]} == {"train", "val", "test"}


def test_standardisation_uses_the_training_rows_only():
    _, values, _, win = small_windows()
    st = win["metadata"]["standardisation"]
    np.testing.assert_allclose(st["mean"], values[:30].mean(axis=0))
    np.testing.assert_allclose(st["std"], values[:30].std(axis=0))
    assert st["rows"] == [0, 30] and st["ddof"] == 0
    # the trend makes statistics over all rows differ: a leak would show
    assert not np.allclose(st["mean"], values.mean(axis=0), atol=1e-3)
    # changing a test value leaves every training window and every statistic as it was
    values2 = values.copy()
    values2[50:] += 100.0
    time = small_windows()[0]
    win2 = make_windows(time, values2, list(ETT_TASKS), {"train": [0, 30], "val": [30, 45], "test": [45, 60]}, 4, 3)
    for key in ("mean", "std"):  # equal up to rounding (summation order may follow memory alignment)
        np.testing.assert_allclose(win2["metadata"]["standardisation"][key], st[key], rtol=1e-12)
    train = np.array([s.split("/", 1)[1] <= win["metadata"]["chronological"]["parts"]["train"]["last_origin"]
                      for s in win["sample_id"]])
    np.testing.assert_allclose(win2["feature"][train], win["feature"][train], rtol=1e-6)
    np.testing.assert_allclose(win2["label"][train], win["label"][train], rtol=1e-12)


def test_constant_training_variable_and_short_part_are_clear_errors():
    time, values, parts, _ = small_windows()
    flat = values.copy()
    flat[:30, 2] = 1.0
    with pytest.raises(DataError, match=r"variables \[2\] are constant"):
        make_windows(time, flat, list(ETT_TASKS), parts, 4, 3)
    with pytest.raises(DataError, match="part val .* too short"):
        make_windows(time, values, list(ETT_TASKS), parts, 10, 6)


def test_chronological_split_ratio_keeps_the_latest_training_windows():
    _, _, _, win = small_windows()
    chrono = win["metadata"]["chronological"]
    full = chronological_split(win["sample_id"], win["task"], chrono)
    assert full.groupby("split").size().to_dict() == {"train": 7 * 24, "val": 7 * 9, "test": 7 * 9}
    half = chronological_split(win["sample_id"], win["task"], chrono, 0.5)
    assert half.groupby("split").size().to_dict() == {"train": 7 * 12, "val": 7 * 9, "test": 7 * 9}
    kept = half[(half.split == "train") & (half.task == "OT")]["sample_id"].str[3:]
    all_train = full[(full.split == "train") & (full.task == "OT")]["sample_id"].str[3:]
    assert sorted(kept) == sorted(all_train)[-12:]  # the latest, next to the validation part
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        chronological_split(win["sample_id"], win["task"], chrono, 1.5)


def test_build_problem_gets_regression_tasks_and_ignores_val(tmp_path):
    _, _, _, win = small_windows()
    meta = dict(win["metadata"], backbone="window")
    write_features(tmp_path / "f.parquet", win["sample_id"], win["task"], win["label"], win["feature"], meta)
    df = chronological_split(win["sample_id"], win["task"], meta["chronological"])
    write_split(tmp_path / "s.parquet", df, 1.0, 0, source={"kind": "chronological"})
    problem, _ = build_problem(tmp_path / "f.parquet", tmp_path / "s.parquet", ["OT", "HUFL"])
    assert problem.task_type("OT") == "regression" and problem.n_classes == 1
    assert problem.data["OT"].x_train.shape == (24, 28) and problem.data["OT"].x_test.shape == (9, 28)
    assert problem.data["OT"].y_train.dtype == np.float64


# ---------------------------------------------------------------------------------------
# the raw stage and the pipeline on synthetic CSVs served from 127.0.0.1


def test_read_ett_csv_rejects_gaps_and_wrong_columns(tmp_path):
    frame = series(50)
    frame.drop(index=20).to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(DataError, match="advance by 60 minutes with no gap; row 21"):
        read_ett_csv(tmp_path / "gap.csv")
    frame.rename(columns={"OT": "oil"}).to_csv(tmp_path / "cols.csv", index=False)
    with pytest.raises(DataError, match="expected .*'OT'"):
        read_ett_csv(tmp_path / "cols.csv")
    frame.to_csv(tmp_path / "ok.csv", index=False)
    time, values, sph = read_ett_csv(tmp_path / "ok.csv")
    assert sph == 1 and time[0] == "2016-07-01T00:00" and values.shape == (50, 7)


def test_synthetic_etth1_download_windows_split_train(tmp_path, capsys):
    """download (URL override, checksum) -> series -> windows -> chronological split -> a regression run."""
    from mtlbench.cli import main
    from mtlbench.train import run

    body = csv_bytes(series(14450))
    files = {"/ETTh1.csv": Served(body, content_type="text/csv")}
    raw = tmp_path / "raw" / "etth1"
    with serve(files) as base:
        overrides = {"sources": {"ETTh1.csv": {"urls": [f"{base}/ETTh1.csv"],
                                               "sha256": hashlib.sha256(body).hexdigest()}},
                     "expected_counts": dict.fromkeys(ETT_TASKS, 14450)}
        assert main(["prepare", "--dataset", "etth1", "--out", str(raw), "--overrides", json.dumps(overrides),
                     "--quiet"]) == 0
    manifest = json.loads((raw / "manifest.json").read_text())
    assert manifest["parts"] == HOURLY_PARTS and manifest["rows"] == 14450 and manifest["steps_per_hour"] == 1
    assert manifest["sources"][0]["checksum"] == "published sha256"
    assert manifest["task_types"] == dict.fromkeys(ETT_TASKS, "regression")
    loaded = load_raw(raw)
    assert isinstance(loaded, RawSeries) and loaded.values.shape == (14450, 7) and loaded.columns == list(ETT_TASKS)

    feats = tmp_path / "window.parquet"
    extract_features(raw, "window", {"lookback_hours": 6, "horizon_hours": 2, "stride_hours": 3}, feats)
    ft = read_features(feats)
    counts = {p: i["windows"] for p, i in ft.metadata["chronological"]["parts"].items()}
    assert counts == {"train": (8640 - 8) // 3 + 1, "val": (2880 - 8) // 3 + 1, "test": (2880 - 8) // 3 + 1}
    assert ft.feature.shape == (7 * sum(counts.values()), 6 * 7) and ft.metadata["backbone"] == "window"
    assert ft.metadata["task_types"]["OT"] == "regression" and ft.metadata["sources"][0]["url"].startswith("http://127.")

    outs = [tmp_path / f"r1_s{s}.parquet" for s in (0, 1)]
    for seed, out in enumerate(outs):
        assert main(["splits", "--features", str(feats), "--ratio", "1", "--seed", str(seed), "--out", str(out)]) == 0
    assert "val" in capsys.readouterr().out
    (s0, m0), (_, m1) = read_split(outs[0]), read_split(outs[1])
    assert m0["content_sha256"] == m1["content_sha256"] and m0["source"]["kind"] == "chronological"
    assert m0["counts"]["OT"] == counts
    test_origin = s0[s0.split == "test"]["sample_id"].str.split("/", n=1).str[1]
    test_start = pd.Timestamp("2016-07-01") + pd.Timedelta(hours=11520)
    # the first test input (origin - 5 h) and hence every target lies after the boundary
    assert (pd.to_datetime(test_origin) - pd.Timedelta(hours=5) >= test_start).all()

    rec = run(feats, outs[0], tmp_path / "run.json", dataset="etth1", tasks=["HUFL", "OT"], method="stl",
              algorithm="stl", hparams={"hidden": 16, "steps": 20, "batch_size": 16, "eval_every": 10}, ratio=1.0,
              seed=0, device="cpu", progress=False)
    assert set(rec["metrics"]["average"]) == {"mse", "mae", "explained_variance"} and rec["n_test"]["OT"] == counts["test"]
    assert rec["n_train"]["OT"] == counts["train"]


def test_ettm1_without_published_checksum_is_pinned_in_the_lock_file(tmp_path):
    body = csv_bytes(series(4 * 14400 + 8, steps_per_hour=4))
    with serve({"/ETTm1.csv": Served(body, content_type="text/csv")}) as base:
        spec = get_source("ettm1", {"sources": {"ETTm1.csv": {"urls": [f"{base}/ETTm1.csv"]}},
                                    "expected_counts": dict.fromkeys(ETT_TASKS, 4 * 14400 + 8)})
        assert spec.files[0].published_checksum is None
        manifest = prepare_dataset(spec, tmp_path / "raw" / "ettm1", **fetch_kw())
    lock = json.loads((tmp_path / "raw" / "downloads.lock.json").read_text())
    assert lock["ettm1/ETTm1.csv"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["steps_per_hour"] == 4 and manifest["parts"]["test"] == [46080, 57600]
    out = tmp_path / "w.parquet"
    extract_features(tmp_path / "raw" / "ettm1", "window", {"lookback_hours": 2, "horizon_hours": 1,
                                                            "stride_hours": 1}, out)
    meta = read_features(out, columns=("sample_id", "task", "label")).metadata
    # hours x4 steps; an origin every hour as for hourly data
    assert (meta["chronological"]["lookback_steps"], meta["chronological"]["horizon_steps"]) == (8, 4)
    assert meta["chronological"]["parts"]["train"]["windows"] == (34560 - 12) // 4 + 1
    assert meta["feature_dim"] == 8 * 7
    # a different file later fails against the pinned checksum
    with serve({"/ETTm1.csv": Served(body[:-10] + b"9999999999", content_type="text/csv")}) as base:
        spec = get_source("ettm1", {"sources": {"ETTm1.csv": {"urls": [f"{base}/ETTm1.csv"]}}})
        (tmp_path / "raw" / "downloads" / "ETTm1.csv").unlink()
        with pytest.raises(DataError, match="lock file"):
            prepare_dataset(spec, tmp_path / "raw" / "ettm1b", **fetch_kw())


# ---------------------------------------------------------------------------------------
# the real ETTh1.csv through a local HTTP server


@pytest.fixture(scope="module")
def real_etth1(shared_data, tmp_path_factory) -> bytes:
    with tarfile.open(shared_data / "ett_small.tar.gz") as tar:
        return tar.extractfile("ett_small/ETTh1.csv").read()


def test_real_etth1_download_verified_against_the_published_sha256(real_etth1, tmp_path):
    files = {"/ETT-small/ETTh1.csv": Served(real_etth1, content_type="text/plain; charset=utf-8", corrupt_times=1)}
    with serve(files) as base:
        # only the URL is replaced: the published sha256 stays in force
        spec = get_source("etth1", {"sources": {"ETTh1.csv": {"urls": [f"{base}/ETT-small/ETTh1.csv"]}}})
        manifest = prepare_dataset(spec, tmp_path / "raw" / "etth1", **fetch_kw())
    rec = manifest["sources"][0]
    assert rec["checksum"] == "published sha256"
    assert rec["sha256"] == "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"
    # the first (corrupt) body was detected and fetched again
    assert len(files["/ETT-small/ETTh1.csv"].requests) == 2 and "checksum mismatch" in rec["attempts"][0]
    assert manifest["rows"] == 17420 and manifest["first_time"] == "2016-07-01T00:00"
    assert manifest["last_time"] == "2018-06-26T19:00" and manifest["parts"] == HOURLY_PARTS

    # a corrupt file in downloads/ is moved aside and fetched again; a good one is used as it is
    dl = tmp_path / "raw" / "downloads" / "ETTh1.csv"
    dl.write_bytes(real_etth1[:-100])
    with serve({"/ETTh1.csv": Served(real_etth1)}) as base:
        spec = get_source("etth1", {"sources": {"ETTh1.csv": {"urls": [f"{base}/ETTh1.csv"]}}})
        again = prepare_dataset(spec, tmp_path / "raw" / "etth1", **fetch_kw())
        assert again["sources"][0]["url"] == f"{base}/ETTh1.csv" and dl.with_name("ETTh1.csv.corrupt").exists()
        third = prepare_dataset(spec, tmp_path / "raw" / "etth1", **fetch_kw())
    assert third["sources"][0]["url"].startswith("local:")


def test_real_etth1_windows_and_statistics(real_etth1, tmp_path):
    dl = tmp_path / "downloads"
    dl.mkdir()
    (dl / "ETTh1.csv").write_bytes(real_etth1)  # a hand-downloaded file: verified and used, no network
    prepare_dataset(get_source("etth1", {"sources": {"ETTh1.csv": {"urls": []}}}), tmp_path / "raw", dl,
                    **fetch_kw())
    out = tmp_path / "w.parquet"
    extract_features(tmp_path / "raw", "window", {"stride_hours": 24}, out)  # L = 96 h, H = 24 h
    ft = read_features(out)
    meta = ft.metadata
    assert {p: i["windows"] for p, i in meta["chronological"]["parts"].items()} == {
        "train": (8640 - 120) // 24 + 1, "val": (2880 - 120) // 24 + 1, "test": (2880 - 120) // 24 + 1}
    assert meta["chronological"]["parts"]["test"]["first_origin"] == "2017-10-27T23:00"  # row 11520 + 95
    csv = pd.read_csv(dl / "ETTh1.csv")
    train_rows = csv.iloc[:8640][list(ETT_TASKS)]
    np.testing.assert_allclose(meta["standardisation"]["mean"], train_rows.mean().to_numpy())
    np.testing.assert_allclose(meta["standardisation"]["std"], train_rows.std(ddof=0).to_numpy())
    assert not np.allclose(meta["standardisation"]["mean"], csv[list(ETT_TASKS)].mean().to_numpy(), rtol=1e-2)
    # an OT label of the test part is the standardised OT 24 h after its origin
    k = int(np.flatnonzero(ft.sample_id == "OT/2017-10-27T23:00")[0])
    ot = csv.set_index("date").loc["2017-10-28 23:00:00", "OT"]
    i = ETT_TASKS.index("OT")
    assert ft.label[k] == pytest.approx((ot - meta["standardisation"]["mean"][i]) / meta["standardisation"]["std"][i])
    assert ft.feature.shape[1] == 96 * 7


# ---------------------------------------------------------------------------------------
# configuration and the DAG


def params_with(**datasets):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, entry in datasets.items():
        params["datasets"][name] = entry
    return params


def test_config_ratios_and_backbones():
    from mtlbench.config import merge_params_files

    # etth1 on (configs/ett.yaml: the classification-only methods off, as the check requires)
    p = validate_params(merge_params_files([ROOT / "params.yaml", ROOT / "configs/ett.yaml"])[0])
    assert p["datasets"]["etth1"]["train_ratios"] == [1.0] and p["datasets"]["etth1"]["backbone"] == "window"
    assert "train_ratios" not in p["datasets"]["digits"] and p["backbones"]["window"]["lookback_hours"] == 96
    p = validate_params(params_with(etth1={"train_ratios": [0.25, 1], "enabled": False}))
    assert p["datasets"]["etth1"]["train_ratios"] == [0.25, 1.0]
    with pytest.raises(ConfigError, match=r"datasets.digits.train_ratios: 1 is not a fraction in \(0, 1\)"):
        validate_params(params_with(digits={"train_ratios": [1]}))
    with pytest.raises(ConfigError, match="'pixels' takes images, etth2 holds series; allowed: 'window'"):
        validate_params(params_with(etth2={"backbone": "pixels"}))
    with pytest.raises(ConfigError, match="'window' takes series, digits holds images"):
        validate_params(params_with(digits={"backbone": "window"}))
    with pytest.raises(ConfigError, match=r"datasets.ettm1.download: unknown keys \[.mirrors.\]"):
        validate_params(params_with(ettm1={"download": {"mirrors": []}}))
    with pytest.raises(ConfigError, match="lookback_hours: must be >= 1"):
        params = params_with()
        params["backbones"]["window"]["lookback_hours"] = 0
        validate_params(params)


def test_ett_config_plans_download_features_splits_train(tmp_path):
    """`snakemake -n --configfile configs/ett.yaml` plans every ETT stage (nothing runs)."""
    from workflow_project import sh

    for name in ("Snakefile", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    _, out = sh(tmp_path, "snakemake", "-n", "--cores", "2", "--resources", "gpu=1", "--configfile",
                "configs/ett.yaml")
    cfg = yaml.safe_load((ROOT / "configs" / "ett.yaml").read_text())
    methods = [m for m, e in cfg["methods"].items() if (e or {}).get("enabled", True)]
    seeds = len(yaml.safe_load((ROOT / "params.yaml").read_text())["seeds"])
    jobs = {}
    for line in out[out.index("Job stats:"):].splitlines()[3:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    assert jobs["prepare_release"] == 1 and jobs["features"] == 1 and jobs["splits"] == seeds
    assert jobs["train_seeds"] == len(methods)  # one job per method: every seed in it
    assert "download" not in jobs
    # the series is windowed by the one features rule, with the non-image cluster limits
    feat_job = re.split(r"\n\[[^\]\n]*\d{4}\]\n", out[out.index("rule features:"):])[0]
    assert "data/features/etth1/window.parquet" in feat_job and re.search(r"runtime=120\b", feat_job)
    for path in ("data/raw/etth1/manifest.json", "data/features/etth1/window.parquet",
                 "data/splits/etth1/r1_s0.parquet", "results/runs/etth1/stl/r1_s0.json",
                 "results/tables/etth1_1_mse.md", "results/tables/etth1_1_mae.md"):
        assert path in out, path
    assert "results/runs/digits" not in out and "results/paper" not in out

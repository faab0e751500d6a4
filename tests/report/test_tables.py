import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mtlbench.io import write_json
from mtlbench.report.stats import mean_ci95, rank_marks
from mtlbench.report.tables import (
    load_runs,
    summarize,
    table_frame,
    to_latex,
    to_markdown,
    write_metrics,
    write_tables,
)


def test_ci95_is_student_t():
    v = [0.80, 0.84, 0.82]
    m, h = mean_ci95(v)
    assert m == pytest.approx(0.82)
    assert h == pytest.approx(stats.t.ppf(0.975, 2) * np.std(v, ddof=1) / math.sqrt(3))
    assert h == pytest.approx(0.0496863, rel=1e-4)  # t(0.975, 2) = 4.3027
    assert math.isnan(mean_ci95([0.5])[1])


def test_rank_marks_best_second_and_direction():
    assert rank_marks({"a": 0.9, "b": 0.7, "c": 0.8}) == {"a": "best", "c": "second"}
    assert rank_marks({"a": 0.9, "b": 0.7, "c": 0.8}, higher_is_better=False) == {"b": "best", "c": "second"}
    # ties share the mark; nan is unranked
    assert rank_marks({"a": 1.0, "b": 1.0, "c": 0.5, "d": float("nan")}) == {"a": "best", "b": "best", "c": "second"}


def _runs(tmp_path):
    paths = []
    accs = {"stl": [0.70, 0.72, 0.71], "bmtl": [0.80, 0.82, 0.81], "pooled": [0.75, 0.74, 0.76]}
    for m, vals in accs.items():
        for seed, a in enumerate(vals):
            p = tmp_path / f"{m}_{seed}.json"
            write_json(p, {"dataset": "toy", "method": m, "ratio": 0.1, "seed": seed,
                           "metrics": {"per_task": {"x": {"accuracy": a}, "y": {"accuracy": a - 0.1}},
                                       "average": {"accuracy": a - 0.05}}})
            paths.append(p)
    return paths


def test_tables_bold_best_underline_second(tmp_path):
    paths = _runs(tmp_path)
    frame, marks = table_frame(summarize(load_runs(paths)), "toy", 0.1, "accuracy", ["x", "y"], ["stl", "bmtl", "pooled"])
    assert list(frame.columns) == ["x", "y", "avg"]
    assert marks == {"bmtl": "best", "pooled": "second"}
    md = to_markdown(frame, marks, "cap")
    assert "| bmtl | 81.0 ± 2.5 | 71.0 ± 2.5 | **76.0 ± 2.5** |" in md
    assert "<u>70.0 ± 2.5</u>" in md
    tex = to_latex(frame, marks, "cap")
    assert r"\textbf{76.0 $\pm$ 2.5}" in tex and r"\underline{70.0 $\pm$ 2.5}" in tex
    assert r"\toprule" in tex and r"\bottomrule" in tex


def test_write_tables_and_metrics(tmp_path):
    paths = _runs(tmp_path)
    written = write_tables(paths, tmp_path / "t", "toy", ["x", "y"], ["stl", "bmtl", "pooled"], [0.1], ["accuracy"])
    assert sorted(p.name for p in written) == ["toy_0.1_accuracy.csv", "toy_0.1_accuracy.md", "toy_0.1_accuracy.tex"]
    m = write_metrics(paths, tmp_path / "metrics.json")
    assert m["toy"]["0.1"]["bmtl"]["accuracy"] == pytest.approx(0.76)
    assert m["toy"]["0.1"]["bmtl"]["accuracy_ci95"] > 0


def _fake_runs(tmp_path, labels: dict[str, str], ratios=(0.05, 0.1, 0.2), seeds=(0, 1)):
    """Minimal run JSONs (label -> algorithm) with made-up accuracies."""
    import json

    paths = []
    for k, (label, algorithm) in enumerate(labels.items()):
        for r in ratios:
            for s in seeds:
                acc = 0.5 + 0.1 * r + 0.01 * k + 0.001 * s
                rec = {"dataset": "d", "method": label, "algorithm": algorithm, "ratio": r, "seed": s,
                       "metrics": {"per_task": {"a": {"accuracy": acc}}, "average": {"accuracy": acc}}}
                p = tmp_path / f"{label}_r{r}_s{s}.json"
                p.write_text(json.dumps(rec))
                paths.append(p)
    return paths


def test_accuracy_figure_splits_methods_from_variants_and_marks_the_ratios_run(tmp_path):
    """18 overlapping lines were unreadable (issue 18): methods on one panel, ablations and code
    variants beside the method they vary on another; ticks at the ratios run."""
    from mtlbench.report.tables import write_figure

    labels = {"stl": "stl", "bmtl": "bmtl", "vmtl": "vmtl", "vmtl_code": "vmtl", "vmtl_z0_w0": "vmtl",
              "amtnn_w": "amtnn_w", "amtnn_w_compat": "amtnn_w"}
    out = tmp_path / "fig.png"
    info = write_figure(_fake_runs(tmp_path, labels), out, "d", "accuracy", list(labels))
    assert info["panels"] == [("methods", ["stl", "bmtl", "vmtl", "amtnn_w"]),
                              ("ablations and code variants", ["vmtl", "vmtl_code", "vmtl_z0_w0", "amtnn_w",
                                                               "amtnn_w_compat"])]
    assert info["xticks"] == [5.0, 10.0, 20.0]
    assert out.stat().st_size > 0
    only = write_figure(_fake_runs(tmp_path, {"stl": "stl", "bmtl": "bmtl"}, ratios=(0.1,)), out, "d", "accuracy",
                        ["stl", "bmtl"])
    assert only == {"panels": [("methods", ["stl", "bmtl"])], "xticks": [10.0]}


def test_many_tasks_give_median_and_worst_decile_columns(tmp_path):
    """Above MAX_TASK_COLUMNS tasks the Markdown table shows median and worst decile over
    tasks (per seed, then mean ± CI) instead of a column per task; the CSV keeps every task."""
    from mtlbench.report.tables import MAX_TASK_COLUMNS

    tasks = [f"school{k}" for k in range(20)]
    assert len(tasks) > MAX_TASK_COLUMNS
    paths = []
    for seed in range(2):
        per_task = {t: {"mse": 0.1 * (k + 1) + 0.01 * seed} for k, t in enumerate(tasks)}  # task k: 0.1 (k+1)
        p = tmp_path / f"stl_{seed}.json"
        write_json(p, {"dataset": "exam", "method": "stl", "ratio": 0.75, "seed": seed,
                       "metrics": {"per_task": per_task,
                                   "average": {"mse": float(np.mean([v["mse"] for v in per_task.values()]))}}})
        paths.append(p)
    write_tables(paths, tmp_path / "t", "exam", tasks, ["stl"], [0.75], ["mse"])
    md = (tmp_path / "t" / "exam_0.75_mse.md").read_text()
    assert "| method | median | worst_decile | avg |" in md and "school3" not in md
    # median of 0.1..2.0 is 1.05; an error's worst decile is its 90th percentile, 1.81; +0.005 for the 2 seeds
    assert "| stl | 1.055 ± 0.064 | 1.815 ± 0.064 | **1.055 ± 0.064** |" in md
    csv = pd.read_csv(tmp_path / "t" / "exam_0.75_mse.csv")
    assert set(tasks) <= set(csv.task) and {"median", "worst_decile", "avg"} <= set(csv.task)
    # a few tasks: one column per task, as before, and no spread rows in the CSV
    small = _runs(tmp_path)
    write_tables(small, tmp_path / "s", "toy", ["x", "y"], ["stl"], [0.1], ["accuracy"])
    assert "| method | x | y | avg |" in (tmp_path / "s" / "toy_0.1_accuracy.md").read_text()
    assert "median" not in set(pd.read_csv(tmp_path / "s" / "toy_0.1_accuracy.csv").task)

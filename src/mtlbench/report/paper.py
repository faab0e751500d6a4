"""The VMTL paper's tables side by side with ours, and the audit of the public code's choices.

Paper numbers: ``mtlbench/paperdata/vmtl_tables.csv`` (one row per printed cell; see
``paperdata/README.md``).  For a dataset with paper numbers, every paper table that
covers it is rewritten in the paper's layout (same rows, columns and ratios) with, in
each cell, our mean ± 95 % CI over seeds, the paper's value and the difference
(ours − paper).  A cell is flagged ``outside`` when the paper's value lies outside our
95 % interval, i.e. |paper − ours| > our CI half-width (undetermined with one seed).
For a dataset without paper numbers (e.g. ``digits``) the same layouts (those of the
Office-Home tables) show ours alone, with our tasks as columns and our ratios.

Matching: a paper method id is looked up among our method labels, then through
:data:`ALIASES` (``vmtl_z1_w1`` and ``vmtl_prior_gumbel`` are VMTL itself); a paper
task letter is the upper-cased first letter of one of our task names (without paper
numbers, the columns are our task names).

The audit table: average accuracy per ratio of VMTL and VMTL-AC as published
(``vmtl``, ``vmtl_ac``, final iterate of the fixed schedule), with all the public
code's deviations (``vmtl_code``, ``vmtl_ac_code``), and, for each, the optimistic
"best-on-test" figure the code reports: per run, the best average test accuracy
over the logged evaluation steps (selection on the test set), then mean ± CI.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path, read_json
from .stats import mean_ci95
from .tables import AVG, load_runs, summarize

ALIASES = {"vmtl_z1_w1": "vmtl", "vmtl_prior_gumbel": "vmtl"}
TEMPLATE_DATASET = "office_home"  # layouts used for datasets without paper numbers
AUDIT_ROWS = [  # (label, method label, statistic)
    ("VMTL, paper equations (final iterate)", "vmtl", "final"),
    ("VMTL, public code's deviations (vmtl_code, final iterate)", "vmtl_code", "final"),
    ("VMTL, best-on-test (selection on the test set)", "vmtl", "best"),
    ("vmtl_code, best-on-test (as the public code reports)", "vmtl_code", "best"),
    ("VMTL-AC, paper equations (final iterate)", "vmtl_ac", "final"),
    ("VMTL-AC, public code's deviations (vmtl_ac_code, final iterate)", "vmtl_ac_code", "final"),
    ("VMTL-AC, best-on-test", "vmtl_ac", "best"),
    ("vmtl_ac_code, best-on-test (as the public code reports)", "vmtl_ac_code", "best"),
]


def load_paper_tables(path: str | Path | None = None) -> pd.DataFrame:
    """The paper's cells: table, dataset, train_ratio, method, task, mean, ci95, note."""
    if path is None:
        with resources.as_file(resources.files("mtlbench") / "paperdata" / "vmtl_tables.csv") as p:
            return pd.read_csv(p)
    return pd.read_csv(path)


def _our_method(paper_id: str, ours: set[str]) -> str | None:
    if paper_id in ours:
        return paper_id
    alias = ALIASES.get(paper_id)
    return alias if alias in ours else None


def _task_letters(tasks: list[str]) -> dict[str, str]:
    return {t[0].upper(): t for t in tasks}


def best_on_test(run_paths) -> pd.DataFrame:
    """dataset, method, ratio, seed, value: per run, the best average test accuracy over its history."""
    rows = []
    for p in run_paths:
        r = read_json(p)
        hist = [np.mean(list(h["test"].values())) for h in r.get("history", []) if h.get("test")]
        if hist:
            rows.append({"dataset": r["dataset"], "method": r["method"], "ratio": float(r["ratio"]),
                         "seed": int(r["seed"]), "value": float(max(hist))})
    return pd.DataFrame(rows, columns=["dataset", "method", "ratio", "seed", "value"])


def _fmt(mean: float, ci: float) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:.1f}" if math.isnan(ci) else f"{mean:.1f} ± {ci:.1f}"


def comparison_frame(summary: pd.DataFrame, paper: pd.DataFrame, dataset: str, tasks: list[str],
                     ratios: list[float], table: int) -> pd.DataFrame:
    """Long table for one paper table: ratio, method (paper id), column, ours, paper, diff, outside.

    Accuracies in percent.  ``outside`` is True/False, or None when undetermined.
    """
    ours_methods = set(summary.method)
    has_paper = (paper.dataset == dataset).any()
    pt = paper[(paper.table == table) & (paper.dataset == (dataset if has_paper else TEMPLATE_DATASET))]
    letters = _task_letters(tasks) if has_paper else {t: t for t in tasks}  # no paper: our task names
    avg_only = set(pt.task) == {AVG}
    table_ratios = sorted(pt.train_ratio.unique()) if has_paper else list(ratios)
    cols = [AVG] if avg_only else [c for c in dict.fromkeys(pt.task) if c == AVG or c in letters]
    if not has_paper and not avg_only:
        cols = list(letters) + [AVG]
    s = summary[(summary.dataset == dataset) & (summary.metric == "accuracy")]
    rows = []
    for ratio in table_ratios:
        for method in dict.fromkeys(pt.method):
            mine = _our_method(method, ours_methods)
            if not has_paper and mine is None:
                continue
            for col in cols:
                task = AVG if col == AVG else letters.get(col)
                hit = s[(s.method == mine) & (s.task == task) & np.isclose(s.ratio, ratio)] if mine else s.iloc[:0]
                m, h, n = (hit["mean"].iloc[0] * 100, hit["ci95"].iloc[0] * 100, int(hit["n"].iloc[0])) if len(hit) \
                    else (math.nan, math.nan, 0)
                pc = pt[(pt.method == method) & (pt.task == col) & np.isclose(pt.train_ratio, ratio)] if has_paper else pt.iloc[:0]
                pv = float(pc["mean"].iloc[0]) if len(pc) and not pd.isna(pc["mean"].iloc[0]) else math.nan
                pci = float(pc["ci95"].iloc[0]) if len(pc) and not pd.isna(pc["ci95"].iloc[0]) else math.nan
                diff = m - pv
                outside = None if math.isnan(diff) or math.isnan(h) else bool(abs(diff) > h)
                rows.append({"table": table, "dataset": dataset, "ratio": ratio, "method": method, "ours_label": mine,
                             "column": col, "task": task, "ours_mean": m, "ours_ci95": h, "n_seeds": n,
                             "paper_mean": pv, "paper_ci95": pci, "diff": diff, "outside": outside})
    return pd.DataFrame(rows)


def comparison_markdown(frame: pd.DataFrame, caption: str) -> str:
    """One block per ratio: rows = methods, columns = tasks/avg; a cell is ours (| paper, Δ, flag)."""
    lines = [f"**{caption}**", ""]
    if frame.empty:
        return "\n".join(lines + ["(no runs)", ""])
    cols = list(dict.fromkeys(frame.column))
    for ratio, g in frame.groupby("ratio", sort=True):
        lines += [f"train ratio {ratio:g}", "", "| method | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        for method, gm in g.groupby("method", sort=False):
            cells = []
            for c in cols:
                r = gm[gm.column == c]
                if not len(r):
                    cells.append("")
                    continue
                r = r.iloc[0]
                cell = _fmt(r.ours_mean, r.ours_ci95)
                if not math.isnan(r.paper_mean):
                    flag = " ⚑" if r.outside else ""
                    d = "" if math.isnan(r["diff"]) else f", Δ {r['diff']:+.1f}"
                    cell += f" \\| paper {_fmt(r.paper_mean, r.paper_ci95)}{d}{flag}"
                cells.append(cell)
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def audit_frame(run_paths, paper: pd.DataFrame, dataset: str, ratios: list[float]) -> pd.DataFrame:
    """Rows of :data:`AUDIT_ROWS` (present in the runs) x ratios: mean, ci95 (percent), n; paper VMTL/VMTL-AC."""
    runs = load_runs(run_paths)
    final = runs[(runs.dataset == dataset) & (runs.task == AVG) & (runs.metric == "accuracy")]
    best = best_on_test(run_paths)
    best = best[best.dataset == dataset]
    rows = []
    for label, method, stat in AUDIT_ROWS:
        src = final if stat == "final" else best
        if not (src.method == method).any():
            continue
        for ratio in ratios:
            v = src[(src.method == method) & np.isclose(src.ratio, ratio)]["value"] * 100
            m, h = mean_ci95(v)
            base = "vmtl_ac" if method.startswith("vmtl_ac") else "vmtl"
            pc = paper[(paper.dataset == dataset) & (paper.method == base) & (paper.task == AVG)
                       & np.isclose(paper.train_ratio, ratio) & paper.table.isin([3, 4, 5, 6, 15, 16])]
            rows.append({"row": label, "method": method, "statistic": stat, "ratio": ratio, "mean": m, "ci95": h,
                         "n_seeds": len(v), "paper_mean": float(pc["mean"].iloc[0]) if len(pc) else math.nan})
    return pd.DataFrame(rows)


def audit_markdown(frame: pd.DataFrame, dataset: str) -> str:
    caption = (f"{dataset}: audit of the published VMTL — paper equations vs the public code's deviations vs "
               f"selection on the test set (average accuracy %, mean ± 95% CI over seeds)")
    lines = [f"**{caption}**", ""]
    if frame.empty:
        return "\n".join(lines + ["(no runs of vmtl, vmtl_code, vmtl_ac or vmtl_ac_code)", ""])
    ratios = sorted(frame.ratio.unique())
    has_paper = frame.paper_mean.notna().any()
    head = "| variant | " + " | ".join(f"{r:g}" for r in ratios) + " |"
    lines += [head, "|---|" + "---:|" * len(ratios)]
    for label, g in frame.groupby("row", sort=False):
        lines.append(f"| {label} | " + " | ".join(_fmt(*g[np.isclose(g.ratio, r)][["mean", "ci95"]].iloc[0])
                                                 if (np.isclose(g.ratio, r)).any() else "–" for r in ratios) + " |")
    if has_paper:
        for base in ("vmtl", "vmtl_ac"):
            g = frame[frame.method == base]
            if len(g):
                lines.append(f"| paper, {base} | " + " | ".join(
                    _fmt(g[np.isclose(g.ratio, r)]["paper_mean"].iloc[0], math.nan) if np.isclose(g.ratio, r).any() else "–"
                    for r in ratios) + " |")
    return "\n".join(lines) + "\n"


def write_paper_comparison(run_paths, out_dir: str | Path, dataset: str, tasks: list[str], ratios: list[float],
                           paper_csv: str | Path | None = None) -> list[Path]:
    """Write ``{dataset}_paper_table{N}.{md,csv}`` for every applicable paper table and
    ``{dataset}_audit.{md,csv}``; returns the paths written."""
    paper = load_paper_tables(paper_csv)
    summary = summarize(load_runs(run_paths))
    out_dir = Path(out_dir)
    has_paper = (paper.dataset == dataset).any()
    tables = sorted(paper[paper.dataset == (dataset if has_paper else TEMPLATE_DATASET)].table.unique())
    written = []
    for table in tables:
        frame = comparison_frame(summary, paper, dataset, tasks, ratios, int(table))
        if frame.empty or frame.ours_mean.isna().all():
            continue
        what = "ours ∣ paper, Δ = ours − paper, ⚑ = paper outside our 95% CI" if has_paper else \
            "ours alone (no paper numbers for this dataset)"
        caption = f"{dataset}, layout of paper Table {table}: accuracy %, mean ± 95% CI over seeds; {what}"
        written += _write(out_dir / f"{dataset}_paper_table{table}", comparison_markdown(frame, caption), frame)
    audit = audit_frame(run_paths, paper, dataset, ratios)
    written += _write(out_dir / f"{dataset}_audit", audit_markdown(audit, dataset), audit)
    return written


def _write(stem: Path, markdown: str, frame: pd.DataFrame) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(stem.with_suffix(".md")) as tmp:
        tmp.write_text(markdown)
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        frame.to_csv(tmp, index=False)
    return [stem.with_suffix(".md"), stem.with_suffix(".csv")]

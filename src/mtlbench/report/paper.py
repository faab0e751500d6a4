"""The VMTL paper's tables side by side with ours, and the audit of the public code's choices.

Paper numbers: ``mtlbench/paperdata/vmtl_tables.csv`` (one row per printed cell; see
``paperdata/README.md``).  For a dataset with paper numbers, every paper table that
covers it is rewritten in the paper's layout (same rows, columns and ratios) with, in
each cell, our mean ± 95 % CI over seeds, the paper's value and the difference
(ours − paper).  A cell is flagged ``outside`` when the paper's value lies outside our
95 % interval, i.e. |paper − ours| > our CI half-width (undetermined with one seed).
A table none of whose cells we ran is not written.  For a dataset without paper numbers
(e.g. ``digits``) no paper-layout table is written: ``{dataset}_paper_tables.md`` says
"no published numbers for {dataset}" instead (our tables are ``mtlbench tables``' own).

Matching: a paper method id is looked up first in :data:`PAPER_EQUIVALENTS` (the paper's
bMTL is the VMTL network with both variational parts off, its Table 1 row (✗, ✗) equal to
its Table 3 bMTL: our ``vmtl_z0_w0`` when it was run), then among our method labels, then
through :data:`ALIASES` (``vmtl_z1_w1`` and ``vmtl_prior_gumbel`` are VMTL itself).  Our
``bmtl`` (a ReLU MLP, the general joint objective) then follows as a further row,
``bmtl (ours, joint objective)``, without paper values.  A paper task letter is the
upper-cased first letter of one of our task names.

The audit table: for every method of the runs, the average accuracy per ratio at the three
selections a run records (``selection`` of the run JSON, :func:`mtlbench.train.selection_record`):
the final iterate, the best-on-validation iterate (test accuracy there; a validation part was
carved only when the run's mode is ``best_val``) and the best-on-test iterate (selection on the
test set, the figure the VMTL public code reports), mean ± 95 % CI over seeds, side by side.
Runs written before selection existed give final and best-on-test (from their history).

:func:`side_by_side_markdown` sets ours beside the paper's cells for a dataset the paper
ran in another form (``mtlbench paper-compare``).  One reader of the CSV
(:func:`load_paper_tables`) and one cell formatter (:func:`mtlbench.report.tables.format_cell`)
serve both.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path, read_json
from .stats import mean_ci95
from .tables import AVG, format_cell, load_runs, summarize

ALIASES = {"vmtl_z1_w1": "vmtl", "vmtl_prior_gumbel": "vmtl"}
PAPER_EQUIVALENTS = {"bmtl": "vmtl_z0_w0"}  # paper id -> our label that is the paper's network
FURTHER_BMTL = "bmtl (ours, joint objective)"
SELECTIONS = ("final", "best_val", "best_test")


def load_paper_tables(path: str | Path | None = None) -> pd.DataFrame:
    """The paper's cells: table, dataset, train_ratio, method, task, mean, ci95, note."""
    if path is None:
        with resources.as_file(resources.files("mtlbench") / "paperdata" / "vmtl_tables.csv") as p:
            return pd.read_csv(p)
    return pd.read_csv(path)


def _our_method(paper_id: str, ours: set[str]) -> str | None:
    if PAPER_EQUIVALENTS.get(paper_id) in ours:
        return PAPER_EQUIVALENTS[paper_id]
    if paper_id in ours:
        return paper_id
    alias = ALIASES.get(paper_id)
    return alias if alias in ours else None


def _task_letters(tasks: list[str]) -> dict[str, str]:
    return {t[0].upper(): t for t in tasks}


def selection_values(run_paths) -> pd.DataFrame:
    """dataset, method, ratio, seed, statistic (final | best_val | best_test), value: each run's
    average test score at each selection it records (classification accuracy, or the mean of
    the per-task figures)."""
    rows = []
    for p in run_paths:
        r = read_json(p)
        base = {"dataset": r["dataset"], "method": r["method"], "ratio": float(r["ratio"]), "seed": int(r["seed"])}
        sel = r.get("selection")
        if sel is None:  # a run written before selection existed: final and its history's best
            hist = [np.mean(list(h["test"].values())) for h in r.get("history", []) if h.get("test")]
            avg = r["metrics"]["average"]
            sel = {"final": {"average": avg.get("accuracy", avg.get("mse"))},
                   "best_test": {"average": float(max(hist))} if hist else None, "best_val": None}
        for stat in SELECTIONS:
            if sel.get(stat) is not None:
                rows.append({**base, "statistic": stat, "value": float(sel[stat]["average"])})
    return pd.DataFrame(rows, columns=["dataset", "method", "ratio", "seed", "statistic", "value"])


def comparison_frame(summary: pd.DataFrame, paper: pd.DataFrame, dataset: str, tasks: list[str],
                     table: int) -> pd.DataFrame:
    """Long table for one paper table: ratio, method (paper id), column, ours, paper, diff, outside.

    Accuracies in percent.  ``outside`` is True/False, or None when undetermined.  Empty when
    the paper prints no table ``table`` on ``dataset``.
    """
    ours_methods = set(summary.method)
    pt = paper[(paper.table == table) & (paper.dataset == dataset)]
    letters = _task_letters(tasks)
    cols = [c for c in dict.fromkeys(pt.task) if c == AVG or c in letters]
    s = summary[(summary.dataset == dataset) & (summary.metric == "accuracy")]
    rows = []
    methods = list(dict.fromkeys(pt.method))
    further = "bmtl" in methods and _our_method("bmtl", ours_methods) != "bmtl" and "bmtl" in ours_methods
    for ratio in sorted(pt.train_ratio.unique()):
        for method in methods + ([FURTHER_BMTL] if further else []):
            mine = "bmtl" if method == FURTHER_BMTL else _our_method(method, ours_methods)
            for col in cols:
                task = AVG if col == AVG else letters.get(col)
                hit = s[(s.method == mine) & (s.task == task) & np.isclose(s.ratio, ratio)] if mine else s.iloc[:0]
                m, h, n = (hit["mean"].iloc[0] * 100, hit["ci95"].iloc[0] * 100, int(hit["n"].iloc[0])) if len(hit) \
                    else (math.nan, math.nan, 0)
                pc = pt[(pt.method == method) & (pt.task == col) & np.isclose(pt.train_ratio, ratio)]
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
                cell = format_cell(r.ours_mean, r.ours_ci95)
                if not math.isnan(r.paper_mean):
                    flag = " ⚑" if r.outside else ""
                    d = "" if math.isnan(r["diff"]) else f", Δ {r['diff']:+.1f}"
                    cell += f" \\| paper {format_cell(r.paper_mean, r.paper_ci95)}{d}{flag}"
                cells.append(cell)
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def audit_frame(run_paths, paper: pd.DataFrame, dataset: str, ratios: list[float]) -> pd.DataFrame:
    """method x ratio x statistic (:data:`SELECTIONS`): mean, ci95 (percent), n_seeds, for every
    method of the runs; ``paper_mean``: the paper's printed VMTL / VMTL-AC average (vmtl*, vmtl_ac* rows)."""
    vals = selection_values(run_paths)
    vals = vals[vals.dataset == dataset]
    rows = []
    for method in dict.fromkeys(vals.method):
        base = "vmtl_ac" if method.startswith("vmtl_ac") else "vmtl" if method.startswith("vmtl") else method
        for ratio in ratios:
            pc = paper[(paper.dataset == dataset) & (paper.method == base) & (paper.task == AVG)
                       & np.isclose(paper.train_ratio, ratio) & paper.table.isin([3, 4, 5, 6, 15, 16])]
            for stat in SELECTIONS:
                v = vals[(vals.method == method) & (vals.statistic == stat) & np.isclose(vals.ratio, ratio)]["value"] * 100
                m, h = mean_ci95(v)
                rows.append({"method": method, "statistic": stat, "ratio": ratio, "mean": m, "ci95": h,
                             "n_seeds": len(v), "paper_mean": float(pc["mean"].iloc[0]) if len(pc) else math.nan})
    return pd.DataFrame(rows, columns=["method", "statistic", "ratio", "mean", "ci95", "n_seeds", "paper_mean"])


def audit_markdown(frame: pd.DataFrame, dataset: str) -> str:
    caption = (f"{dataset}: model selection side by side — final iterate, best on a validation part of the "
               f"training split, best on the test set (the VMTL public code's report); average accuracy %, "
               f"mean ± 95% CI over seeds; – : not recorded (best_val needs selection: best_val)")
    lines = [f"**{caption}**", ""]
    if frame.empty:
        return "\n".join(lines + ["(no runs)", ""])
    ratios = sorted(frame.ratio.unique())
    lines += ["| method | " + " | ".join(f"{r:g} {s}" for r in ratios for s in SELECTIONS) + " |",
              "|---|" + "---:|" * (len(ratios) * len(SELECTIONS))]
    for method, g in frame.groupby("method", sort=False):
        cells = []
        for r in ratios:
            for stat in SELECTIONS:
                hit = g[np.isclose(g.ratio, r) & (g.statistic == stat)]
                cells.append(format_cell(hit["mean"].iloc[0], hit["ci95"].iloc[0]) if len(hit) else "–")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    for base in ("vmtl", "vmtl_ac"):
        g = frame[(frame.method == base) & (frame.statistic == "final")]
        if len(g) and g.paper_mean.notna().any():
            lines.append(f"| paper, {base} | " + " | ".join(
                " | ".join([format_cell(g[np.isclose(g.ratio, r)]["paper_mean"].iloc[0], math.nan), "", ""]) for r in ratios) + " |")
    return "\n".join(lines) + "\n"


def write_paper_comparison(run_paths, out_dir: str | Path, dataset: str, tasks: list[str], ratios: list[float],
                           paper_csv: str | Path | None = None) -> list[Path]:
    """Write ``{dataset}_paper_table{N}.{md,csv}`` for every paper table on ``dataset`` that
    holds at least one of our cells, ``{dataset}_paper_tables.md`` (why there is none) when no
    such table exists, and ``{dataset}_audit.{md,csv}``; returns the paths written."""
    paper = load_paper_tables(paper_csv)
    summary = summarize(load_runs(run_paths))
    out_dir = Path(out_dir)
    written = []
    for table in sorted(paper[paper.dataset == dataset].table.unique()):
        frame = comparison_frame(summary, paper, dataset, tasks, int(table))
        if frame.empty or frame.ours_mean.isna().all():
            continue
        caption = (f"{dataset}, paper Table {table} in its layout: accuracy %, ours (mean ± 95% CI over seeds) "
                   f"∣ the paper's printed value, Δ = ours − paper, ⚑ = paper outside our 95% CI")
        written += _write(out_dir / f"{dataset}_paper_table{table}", comparison_markdown(frame, caption), frame)
    if not written:
        written.append(_write_note(out_dir / f"{dataset}_paper_tables.md", _no_table_note(paper, dataset)))
    audit = audit_frame(run_paths, paper, dataset, ratios)
    written += _write(out_dir / f"{dataset}_audit", audit_markdown(audit, dataset), audit)
    return written


def _no_table_note(paper: pd.DataFrame, dataset: str) -> str:
    if not (paper.dataset == dataset).any():
        why = (f"no published numbers for {dataset}: the VMTL paper prints no table on it, so no "
               f"paper-layout table is written")
    else:
        why = f"no paper-layout table for {dataset}: none of the methods of the paper's tables on it was run"
    return (f"{why}.\n\nOur own results are in results/tables/{dataset}_*; {dataset}_audit.md compares the "
            f"model selections of our runs and claims.md the paper's claims on our runs.\n")


def _write_note(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _write(stem: Path, markdown: str, frame: pd.DataFrame) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(stem.with_suffix(".md")) as tmp:
        tmp.write_text(markdown)
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        frame.to_csv(tmp, index=False)
    return [stem.with_suffix(".md"), stem.with_suffix(".csv")]


# --- ours beside the paper for a dataset in another form (mtlbench paper-compare) ---

def read_paper(path: str | Path | None, dataset: str) -> pd.DataFrame:
    """Paper cells of ``dataset``: ratio, method, task, mean, ci95 (the first table printing each)."""
    df = load_paper_tables(path)
    df = df[df["dataset"] == dataset].sort_values("table")
    df = df.drop_duplicates(["train_ratio", "method", "task"], keep="first")
    return df.rename(columns={"train_ratio": "ratio"})[["ratio", "method", "task", "mean", "ci95", "table"]]


def side_by_side_markdown(run_paths, paper_csv: str | Path | None, dataset: str, paper_dataset: str,
                        task_letters: dict[str, str], methods: list[str], ratios: list[float],
                        differences: str) -> str:
    """Markdown tables (one per ratio) of ours vs the paper, for a dataset the paper did
    not run in our form (``mtlbench paper-compare``: e.g. Office-Caltech on other
    features); ``task_letters``: our task -> paper column.

    A row per method, ours (mean ± 95 % CI over seeds) and the paper's printed cell side by
    side for each task the two share, plus two averages: ours over the shared tasks, and
    the paper's mean of the same task cells (its printed average covers all of its tasks,
    so it is shown separately).  ``differences``: the caption's statement of what differs
    (backbone, tasks, splits, seeds), which makes the paper a reference, not a target."""
    summary = summarize(load_runs(run_paths))
    summary = summary[(summary.dataset == dataset) & (summary.metric == "accuracy")]
    paper = read_paper(paper_csv, paper_dataset)
    tasks = list(task_letters)
    out = []
    for ratio in ratios:
        p = paper[(paper.ratio - ratio).abs() < 1e-9]
        rows_methods = list(methods) + [m for m in dict.fromkeys(p.method) if m not in methods]
        head = ["method"] + [f"{task_letters[t]} ours" for t in tasks] + [f"{task_letters[t]} paper" for t in tasks]
        head += ["avg ours", f"avg paper ({'/'.join(task_letters[t] for t in tasks)})", "avg paper (printed)"]
        lines = [f"**{dataset} vs paper ({paper_dataset}), train ratio {ratio:g}** — accuracy (%), "
                 f"ours: mean ± 95% CI over seeds. {differences}", "",
                 "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for m in rows_methods:
            s = summary[(summary.method == m) & ((summary.ratio - ratio).abs() < 1e-9)]
            ours = {r.task: (r.mean * 100, r.ci95 * 100) for r in s.itertuples()}
            pm = p[p.method == m]
            if not len(s) and not len(pm):
                continue
            theirs = {r.task: (r.mean, r.ci95) for r in pm.itertuples()}
            cells = [format_cell(*ours.get(t, (math.nan, math.nan))) for t in tasks]
            cells += [format_cell(*theirs.get(task_letters[t], (math.nan, math.nan))) for t in tasks]
            cells.append(format_cell(*ours.get(AVG, (math.nan, math.nan))))
            shared = [theirs[task_letters[t]][0] for t in tasks if task_letters[t] in theirs]
            cells.append(format_cell(sum(shared) / len(shared), math.nan) if len(shared) == len(tasks) else "–")
            cells.append(format_cell(*theirs.get("avg", (math.nan, math.nan))))
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def write_markdown(out_path: str | Path, text: str) -> None:
    with atomic_path(out_path) as tmp:
        Path(tmp).write_text(text)

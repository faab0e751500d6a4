"""Our results beside a paper's published numbers (``../shared/paper/vmtl_tables.csv``).

One Markdown table per train ratio: a row per method, ours (mean ± 95 % CI over seeds)
and the paper's printed cell side by side for each task the two share, plus two
averages: ours over the shared tasks, and the paper's mean of the same task cells (its
printed average covers all of its tasks, so it is shown separately).  A caption states
the differences (backbone, tasks, splits, seeds) that make the paper a reference rather
than a target.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..io import atomic_path
from .tables import AVG, load_runs, summarize


def read_paper(path: str | Path, dataset: str) -> pd.DataFrame:
    """Paper cells of ``dataset``: ratio, method, task, mean, ci95 (the first table printing each)."""
    df = pd.read_csv(path)
    df = df[df["dataset"] == dataset].sort_values("table")
    df = df.drop_duplicates(["train_ratio", "method", "task"], keep="first")
    return df.rename(columns={"train_ratio": "ratio"})[["ratio", "method", "task", "mean", "ci95", "table"]]


def _cell(mean: float, ci: float) -> str:
    if mean is None or math.isnan(mean):
        return "–"
    return f"{mean:.1f}" if ci is None or math.isnan(ci) else f"{mean:.1f} ± {ci:.1f}"


def comparison_markdown(run_paths, paper_csv: str | Path, dataset: str, paper_dataset: str,
                        task_letters: dict[str, str], methods: list[str], ratios: list[float],
                        differences: str) -> str:
    """Markdown tables (one per ratio) of ours vs the paper; ``task_letters``: our task -> paper column."""
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
            cells = [_cell(*ours.get(t, (math.nan, math.nan))) for t in tasks]
            cells += [_cell(*theirs.get(task_letters[t], (math.nan, math.nan))) for t in tasks]
            cells.append(_cell(*ours.get(AVG, (math.nan, math.nan))))
            shared = [theirs[task_letters[t]][0] for t in tasks if task_letters[t] in theirs]
            cells.append(_cell(sum(shared) / len(shared), math.nan) if len(shared) == len(tasks) else "–")
            cells.append(_cell(*theirs.get("avg", (math.nan, math.nan))))
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def write_comparison(out_path: str | Path, text: str) -> None:
    with atomic_path(out_path) as tmp:
        Path(tmp).write_text(text)

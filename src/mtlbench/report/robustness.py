"""The robustness table (VMTL paper, appendix B.5): test accuracy under FGSM per ε.

Reads the run JSONs of ``mtlbench robustness`` (one per method and seed, each with
``fgsm: {task|avg: {eps: accuracy}}``) and writes ``robustness_{dataset}_{ratio}.{md,tex,csv}``:
rows are methods, columns the step sizes ε (ε = 0 is clean accuracy), cells the
average accuracy over tasks in %, mean ± 95 % Student-t interval over seeds; the best
method at each ε is in bold.  The CSV holds every task and the average, long format.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..io import atomic_path, read_json
from .tables import AVG, metric_cell, summarize, to_latex, to_markdown


def load_fgsm(paths) -> pd.DataFrame:
    """Long table: dataset, method, ratio, seed, task (or 'avg'), eps, accuracy."""
    rows = []
    for p in paths:
        r = read_json(p)
        if "fgsm" not in r:
            raise ConfigError(f"{p}: not a robustness run (no 'fgsm' field); write it with `mtlbench robustness`")
        base = {"dataset": r["dataset"], "method": r["method"], "ratio": float(r["ratio"]), "seed": int(r["seed"])}
        for task, by_eps in r["fgsm"].items():
            rows += [{**base, "task": task, "eps": float(e), "accuracy": float(v)} for e, v in by_eps.items()]
    return pd.DataFrame(rows, columns=["dataset", "method", "ratio", "seed", "task", "eps", "accuracy"])


def _frame(summary: pd.DataFrame, methods: list[str]) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """Formatted average accuracies (rows methods, columns ``eps=...``) and the best cell of each column."""
    avg = summary[summary.task == AVG]
    eps = sorted(avg.eps.unique())
    cols = [f"eps={e:g}" for e in eps]
    frame = pd.DataFrame(index=methods, columns=cols, dtype=object)
    bold = set()
    for e, col in zip(eps, cols):
        at = avg[avg.eps == e]
        best = at["mean"].max()
        for m in methods:
            hit = at[at.method == m]
            mean, ci = (float(hit["mean"].iloc[0]), float(hit["ci95"].iloc[0])) if len(hit) else (math.nan, math.nan)
            frame.loc[m, col] = metric_cell(mean, ci, "accuracy")
            if not math.isnan(mean) and mean == best:
                bold.add((m, col))
    return frame, bold


def write_robustness_table(run_paths, out_dir: str | Path, dataset: str, ratio: float,
                           methods: list[str]) -> list[Path]:
    """Write ``robustness_{dataset}_{ratio}.{md,tex,csv}``; returns the paths."""
    runs = load_fgsm(run_paths)
    runs = runs[(runs.dataset == dataset) & (runs.ratio == float(ratio))]
    if runs.empty:
        raise ConfigError(f"no robustness runs of {dataset!r} at ratio {ratio:g} among the {len(run_paths)} given")
    summary = summarize(runs, by="eps", value="accuracy")  # dataset, ratio, method, task, eps -> mean, ci95, n
    frame, bold = _frame(summary, methods)
    n = int(summary["n"].min())
    caption = (f"{dataset}, train ratio {ratio:g}: average test accuracy (%) under one-step FGSM on the input "
               f"features (VMTL appendix B.5), mean ± 95% CI over {n} seeds; eps = 0 is clean accuracy; "
               "best at each eps in bold")
    out_dir = Path(out_dir)
    stem = f"robustness_{dataset}_{ratio:g}"
    written = []
    for ext, text in ((".md", to_markdown(frame, {}, caption, bold)), (".tex", to_latex(frame, {}, caption, bold))):
        with atomic_path(out_dir / (stem + ext)) as tmp:
            tmp.write_text(text)
        written.append(out_dir / (stem + ext))
    with atomic_path(out_dir / (stem + ".csv")) as tmp:
        summary.to_csv(tmp, index=False)
    written.append(out_dir / (stem + ".csv"))
    return written

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
from .tables import AVG, _fmt, _tex_escape, summarize


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


def _cells(summary: pd.DataFrame, methods: list[str]) -> tuple[list[float], dict[str, list[tuple[str, bool]]]]:
    """The step sizes, and per method one (formatted average, is best at this ε) per ε."""
    avg = summary[summary.task == AVG]
    eps = sorted(avg.eps.unique())
    best = {e: avg[avg.eps == e]["mean"].max() for e in eps}
    cells = {}
    for m in methods:
        row = []
        for e in eps:
            hit = avg[(avg.method == m) & (avg.eps == e)]
            mean, ci = (float(hit["mean"].iloc[0]), float(hit["ci95"].iloc[0])) if len(hit) else (math.nan, math.nan)
            row.append((_fmt(mean, ci, "accuracy"), not math.isnan(mean) and mean == best[e]))
        cells[m] = row
    return eps, cells


def write_robustness_table(run_paths, out_dir: str | Path, dataset: str, ratio: float,
                           methods: list[str]) -> list[Path]:
    """Write ``robustness_{dataset}_{ratio}.{md,tex,csv}``; returns the paths."""
    runs = load_fgsm(run_paths)
    runs = runs[(runs.dataset == dataset) & (runs.ratio == float(ratio))]
    if runs.empty:
        raise ConfigError(f"no robustness runs of {dataset!r} at ratio {ratio:g} among the {len(run_paths)} given")
    summary = summarize(runs, by="eps", value="accuracy")  # dataset, ratio, method, task, eps -> mean, ci95, n
    eps, cells = _cells(summary, methods)
    n = int(summary["n"].min())
    caption = (f"{dataset}, train ratio {ratio:g}: average test accuracy (%) under one-step FGSM on the input "
               f"features (VMTL appendix B.5), mean ± 95% CI over {n} seeds; eps = 0 is clean accuracy; "
               "best at each eps in bold")
    head = [f"eps={e:g}" for e in eps]
    md = [f"**{caption}**", "", "| method | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    tex = [r"\begin{table}[t]", r"\centering", f"\\caption{{{_tex_escape(caption)}}}",
           r"\begin{tabular}{l" + "r" * len(head) + "}", r"\toprule",
           "Method & " + " & ".join(f"$\\epsilon={e:g}$" for e in eps) + r" \\", r"\midrule"]
    for m in methods:
        md.append(f"| {m} | " + " | ".join(f"**{c}**" if b else c for c, b in cells[m]) + " |")
        vals = [c.replace("±", r"$\pm$") for c, _ in cells[m]]
        tex.append(_tex_escape(m) + " & " + " & ".join(
            f"\\textbf{{{v}}}" if b else v for v, (_, b) in zip(vals, cells[m])) + r" \\")
    tex += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    out_dir = Path(out_dir)
    stem = f"robustness_{dataset}_{ratio:g}"
    written = []
    for ext, text in ((".md", "\n".join(md) + "\n"), (".tex", "\n".join(tex) + "\n")):
        with atomic_path(out_dir / (stem + ext)) as tmp:
            tmp.write_text(text)
        written.append(out_dir / (stem + ext))
    with atomic_path(out_dir / (stem + ".csv")) as tmp:
        summary.to_csv(tmp, index=False)
    written.append(out_dir / (stem + ".csv"))
    return written

"""The tables stage: runs -> per (dataset, ratio, metric) tables, metrics.json, a figure.

A table has one row per method and one column per task plus the average, each cell the
mean ± 95 % CI over seeds (Student t).  The average is computed per seed first, then
summarised.  The best average is bold and the second underlined (for errors, the
lowest is best).  Accuracies are shown in percent.

A dataset of more than :data:`MAX_TASK_COLUMNS` tasks (the 65 schools of Exam) would
give a table too wide to read: its Markdown and LaTeX tables show, instead of a column
per task, the median and the worst decile over tasks beside the average, each computed
per seed and then summarised like the average.  The worst decile is the 10th percentile
of the per-task values in the bad direction (for an error, the 90th): nine tasks in ten
do at least this well.  The per-task values stay in the CSV, with these two rows.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path, read_json, write_json
from ..metrics import HIGHER_IS_BETTER
from .stats import mean_ci95, rank_marks

AVG = "avg"
MEDIAN, WORST_DECILE = "median", "worst_decile"  # over tasks, per seed (wide tables)
MAX_TASK_COLUMNS = 12  # more tasks: median and worst decile instead of a column per task


def load_runs(paths) -> pd.DataFrame:
    """Long table: dataset, method, ratio, seed, task (or 'avg'), metric, value."""
    rows = []
    for p in paths:
        r = read_json(p)
        base = {"dataset": r["dataset"], "method": r["method"], "ratio": float(r["ratio"]), "seed": int(r["seed"])}
        for task, ms in r["metrics"]["per_task"].items():
            rows += [{**base, "task": task, "metric": k, "value": v} for k, v in ms.items()]
        rows += [{**base, "task": AVG, "metric": k, "value": v} for k, v in r["metrics"]["average"].items()]
    return pd.DataFrame(rows, columns=["dataset", "method", "ratio", "seed", "task", "metric", "value"])


def task_spread(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` (:func:`load_runs`) with, per run and metric, the median and the worst
    decile over its tasks as rows of task ``median`` / ``worst_decile`` (module docstring)."""
    per_task = runs[runs.task != AVG]
    rows = []
    for (dataset, method, ratio, seed, metric), g in per_task.groupby(
            ["dataset", "method", "ratio", "seed", "metric"], sort=True):
        v = g["value"].to_numpy(dtype=float)
        worst = np.quantile(v, 0.1 if HIGHER_IS_BETTER.get(metric, True) else 0.9)
        base = {"dataset": dataset, "method": method, "ratio": ratio, "seed": seed, "metric": metric}
        rows += [{**base, "task": MEDIAN, "value": float(np.median(v))}, {**base, "task": WORST_DECILE, "value": float(worst)}]
    return pd.concat([runs, pd.DataFrame(rows, columns=runs.columns)], ignore_index=True)


def summarize(runs: pd.DataFrame, by: str = "metric", value: str = "value") -> pd.DataFrame:
    """dataset, ratio, method, task, ``by`` -> mean, ci95, n (seeds) of column ``value``."""
    keys = ["dataset", "ratio", "method", "task", by]
    out = []
    for key, g in runs.groupby(keys, sort=True):
        m, h = mean_ci95(g[value])
        out.append((*key, m, h, len(g)))
    return pd.DataFrame(out, columns=[*keys, "mean", "ci95", "n"])


def _scale(metric: str) -> float:
    return 100.0 if metric == "accuracy" else 1.0


def format_cell(mean: float | None, ci: float | None, scale: float = 1.0, digits: int = 1) -> str:
    """The one cell of every table: ``mean ± ci`` (times ``scale``), ``mean`` without an
    interval (one seed), ``–`` without a value."""
    if mean is None or math.isnan(mean):
        return "–"
    if ci is None or math.isnan(ci):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {ci * scale:.{digits}f}"


def metric_cell(mean: float, ci: float, metric: str) -> str:
    """A cell of ``metric``: accuracy in % with one decimal, errors with three."""
    return format_cell(mean, ci, _scale(metric), 1 if metric == "accuracy" else 3)


def table_frame(summary: pd.DataFrame, dataset: str, ratio: float, metric: str,
                tasks: list[str], methods: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Cells (methods x tasks+avg, formatted; methods x median, worst decile, avg above
    :data:`MAX_TASK_COLUMNS` tasks) and the best/second marks of the average."""
    s = summary[(summary.dataset == dataset) & (summary.ratio == ratio) & (summary.metric == metric)]
    if len(tasks) > MAX_TASK_COLUMNS:
        cols = [MEDIAN, WORST_DECILE, AVG]
    else:
        cols = [t for t in tasks if (s.task == t).any()] + [AVG]
    cells, avg = {}, {}
    for m in methods:
        row = {}
        for t in cols:
            hit = s[(s.method == m) & (s.task == t)]
            row[t] = metric_cell(hit["mean"].iloc[0], hit["ci95"].iloc[0], metric) if len(hit) else "–"
            if t == AVG:
                avg[m] = float(hit["mean"].iloc[0]) if len(hit) else math.nan
        cells[m] = row
    frame = pd.DataFrame.from_dict(cells, orient="index", columns=cols)
    return frame, rank_marks(avg, HIGHER_IS_BETTER.get(metric, True))


def to_markdown(frame: pd.DataFrame, marks: dict[str, str], caption: str,
                bold: set[tuple[str, str]] = frozenset()) -> str:
    """Rows = methods; ``marks``: method -> 'best' (bold) / 'second' (underlined) on the last
    column; ``bold``: further (method, column) cells in bold."""
    head = "| method | " + " | ".join(frame.columns) + " |"
    sep = "|---|" + "---:|" * len(frame.columns)
    lines = [f"**{caption}**", "", head, sep]
    for m, row in frame.iterrows():
        vals = [f"**{v}**" if (m, c) in bold else v for c, v in row.items()]
        mark = marks.get(m)
        if mark == "best":
            vals[-1] = f"**{vals[-1]}**"
        elif mark == "second":
            vals[-1] = f"<u>{vals[-1]}</u>"
        lines.append(f"| {m} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def _tex_escape(s: str) -> str:
    return s.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def to_latex(frame: pd.DataFrame, marks: dict[str, str], caption: str,
             bold: set[tuple[str, str]] = frozenset()) -> str:
    """As :func:`to_markdown`, a booktabs table."""
    cols = list(frame.columns)
    lines = [r"\begin{table}[t]", r"\centering", f"\\caption{{{_tex_escape(caption)}}}",
             r"\begin{tabular}{l" + "r" * len(cols) + "}", r"\toprule",
             "Method & " + " & ".join(_tex_escape(c) for c in cols) + r" \\", r"\midrule"]
    for m, row in frame.iterrows():
        vals = [v.replace("±", r"$\pm$") for v in row.values]
        vals = [f"\\textbf{{{v}}}" if (m, c) in bold else v for c, v in zip(cols, vals)]
        mark = marks.get(m)
        if mark == "best":
            vals[-1] = f"\\textbf{{{vals[-1]}}}"
        elif mark == "second":
            vals[-1] = f"\\underline{{{vals[-1]}}}"
        lines.append(_tex_escape(m) + " & " + " & ".join(vals) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_tables(run_paths, out_dir: str | Path, dataset: str, tasks: list[str], methods: list[str],
                 ratios: list[float], metrics: list[str]) -> list[Path]:
    """Write ``{dataset}_{ratio}_{metric}.{md,tex,csv}`` for every ratio and metric (above
    :data:`MAX_TASK_COLUMNS` tasks: median and worst decile, per-task values in the CSV)."""
    runs = load_runs(run_paths)
    wide = len(tasks) > MAX_TASK_COLUMNS
    summary = summarize(task_spread(runs) if wide else runs)
    out_dir = Path(out_dir)
    written = []
    for ratio in ratios:
        for metric in metrics:
            frame, marks = table_frame(summary, dataset, ratio, metric, tasks, methods)
            unit = {"accuracy": " (%)", "explained_variance": " (1 − MSE/Var(y_test), per task)",
                    # routing tasks (mtlbench.metrics.routing_metrics)
                    "gap": " (% above the reference for a tour length, below it for a prize; of the means)",
                    "tour_length": " (mean over the evaluation instances)",
                    "prize": " (mean over the evaluation instances)"}.get(metric, " (standardised targets)")
            n = summary[(summary.dataset == dataset) & (summary.ratio == ratio)]["n"]
            seeds = f"{int(n.min())}" if len(n) else "0"
            best = "highest" if HIGHER_IS_BETTER.get(metric, True) else "lowest"
            caption = (f"{dataset}, train ratio {ratio:g}: {metric}{unit}, mean ± 95% CI over {seeds} seeds; "
                       f"best average ({best}) in bold, second underlined")
            if wide:
                caption += (f"; median and worst decile over the {len(tasks)} tasks (per seed), "
                            "per-task values in the CSV")
            stem = f"{dataset}_{ratio:g}_{metric}"  # the ratio's dot is no suffix: build names whole
            for ext, text in ((".md", to_markdown(frame, marks, caption)), (".tex", to_latex(frame, marks, caption))):
                with atomic_path(out_dir / (stem + ext)) as tmp:
                    tmp.write_text(text)
                written.append(out_dir / (stem + ext))
            s = summary[(summary.dataset == dataset) & (summary.ratio == ratio) & (summary.metric == metric)]
            with atomic_path(out_dir / (stem + ".csv")) as tmp:
                s.to_csv(tmp, index=False)
            written.append(out_dir / (stem + ".csv"))
    return written


def write_metrics(run_paths, out_path: str | Path) -> dict:
    """``{dataset: {ratio: {method: {metric: mean, metric_ci95: half-width}}}}`` of the averages."""
    summary = summarize(load_runs(run_paths))
    avg = summary[summary.task == AVG]
    out: dict = {}
    for r in avg.itertuples():
        cell = out.setdefault(r.dataset, {}).setdefault(f"{r.ratio:g}", {}).setdefault(r.method, {})
        cell[r.metric] = r.mean
        cell[f"{r.metric}_ci95"] = None if math.isnan(r.ci95) else r.ci95
    write_json(out_path, out)
    return out


def figure_panels(methods: list[str], algorithms: dict[str, str]) -> list[tuple[str, list[str]]]:
    """The figure's panels: the methods (labels that name their algorithm), and the
    ablations and code variants (other labels) beside the methods they vary, in
    ``methods`` order; one panel when there is no variant."""
    main = [m for m in methods if algorithms.get(m, m) == m]
    variants = [m for m in methods if algorithms.get(m, m) != m]
    if not variants:
        return [("methods", main)]
    bases = {algorithms[v] for v in variants}
    return [("methods", main),
            ("ablations and code variants", [m for m in methods if m in variants or (m in main and m in bases)])]


def write_figure(run_paths, out_path: str | Path, dataset: str, metric: str, methods: list[str]) -> dict:
    """Average metric vs train ratio, one line per method, 95 % CI as error bars: the
    methods on one panel, their ablations and code variants (with the method each
    varies) on a second; the x axis marked at the ratios run.  Returns the panels and ticks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    algorithms = {}
    for p in run_paths:
        r = read_json(p)
        algorithms[r["method"]] = r.get("algorithm", r["method"])
    summary = summarize(load_runs(run_paths))
    s = summary[(summary.dataset == dataset) & (summary.task == AVG) & (summary.metric == metric)]
    shown = [m for m in methods if (s.method == m).any()]
    panels = figure_panels(shown, algorithms)
    ratios = sorted(s.ratio.unique())
    # one colour and marker per label, the same on both panels
    colours = plt.get_cmap("tab20" if len(shown) > 10 else "tab10").colors
    style = {m: i for i, m in enumerate(shown)}
    markers = "osD^v<>pPX"
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.0), dpi=120, sharey=True, squeeze=False)
    scale = _scale(metric)
    for ax, (title, ms) in zip(axes[0], panels):
        for m in ms:
            i = style[m]
            g = s[s.method == m].sort_values("ratio")
            ax.errorbar(g["ratio"] * 100, g["mean"] * scale, yerr=g["ci95"].fillna(0) * scale, capsize=2, label=m,
                        color=colours[i % len(colours)], marker=markers[i % len(markers)],
                        linestyle="-" if i < len(colours) else "--", markersize=4, linewidth=1)
        ax.set_xticks([r * 100 for r in ratios])
        ax.set_xticklabels([f"{r * 100:g}" for r in ratios])
        ax.set_xlabel("train ratio (%)", labelpad=1)
        ax.set_title(f"{dataset}: {title}" if len(panels) > 1 else dataset, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    axes[0][0].set_ylabel(f"average {metric}" + (" (%)" if metric == "accuracy" else ""))
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return {"panels": panels, "xticks": [float(r) * 100 for r in ratios]}

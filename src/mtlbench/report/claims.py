"""The VMTL paper's claims, each judged on our runs: ``results/paper/{dataset}/claims.md``.

A claim says that method A scores above method B (the paper's printed ordering, see
:data:`CLAIMS`).  For each ratio we pair A's and B's runs by seed (same seed, same split),
take the differences of their average test accuracy, and report the mean difference with its
95 % Student-t interval over seeds.  Verdict: **holds** when the interval lies above 0,
**contradicted** when it lies below 0, **not shown** otherwise (or with fewer than 2 pairs).
The verdict uses each run's reported figure (``metrics``: its ``selection`` mode; the
claims config uses best_val); the table adds the mean difference at the final iterate and
at the best-on-test iterate (:func:`mtlbench.report.paper.selection_values`) so the gain of
the method can be told from the gain of the selection.  FGSM claims pair the robustness runs
(``fgsm.avg`` at each ε > 0) the same way.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path, read_json
from .paper import selection_values
from .stats import mean_ci95

# (claim id, A, B, what the paper prints): A above B
CLAIMS = [
    ("VMTL above the paper's bMTL (Table 1 (✗,✗) = Table 3 bMTL)", "vmtl", "vmtl_z0_w0", "Tables 1, 3"),
    ("VMTL above STL", "vmtl", "stl", "Tables 3-6"),
    ("VMTL above our bMTL (the general joint objective, a further row)", "vmtl", "bmtl", "—"),
    ("VMTL above VMTL-AC (the paper prints VMTL higher)", "vmtl", "vmtl_ac", "Tables 3-6"),
    ("Table 1: both variational (VMTL) above w only", "vmtl", "vmtl_z0_w1", "Table 1"),
    ("Table 1: w only above z only", "vmtl_z0_w1", "vmtl_z1_w0", "Table 1"),
    ("Table 1: z only above neither", "vmtl_z1_w0", "vmtl_z0_w0", "Table 1"),
    ("Table 2: Gumbel-softmax prior (VMTL) above the mean prior", "vmtl", "vmtl_prior_mean", "Table 2"),
    ("Table 2: Gumbel-softmax prior (VMTL) above the learnable prior", "vmtl", "vmtl_prior_learnable", "Table 2"),
]
FGSM_CLAIMS = [
    ("FGSM: VMTL more accurate under attack than the paper's bMTL", "vmtl", "vmtl_z0_w0", "Appendix B.5"),
    ("FGSM: VMTL more accurate under attack than our bMTL", "vmtl", "bmtl", "Appendix B.5"),
]
COLUMNS = ["claim", "paper", "a", "b", "ratio", "eps", "n", "diff", "ci95", "verdict", "diff_final", "diff_best_test"]


def verdict(mean: float, half: float, n: int) -> str:
    if n < 2 or math.isnan(half):
        return "not shown"
    if mean - half > 0:
        return "holds"
    if mean + half < 0:
        return "contradicted"
    return "not shown"


def _paired(values: pd.DataFrame, a: str, b: str) -> np.ndarray:
    """values: seed-indexed frame of methods' values -> A − B for the seeds both have."""
    if a not in values or b not in values:
        return np.empty(0)
    both = values[[a, b]].dropna()
    return (both[a] - both[b]).to_numpy(dtype=float)


def _row(claim, a, b, paper, ratio, eps, diffs, extra=None) -> dict:
    m, h = mean_ci95(diffs * 100)
    return {"claim": claim, "paper": paper, "a": a, "b": b, "ratio": ratio, "eps": eps, "n": len(diffs),
            "diff": m, "ci95": h, "verdict": verdict(m, h, len(diffs)) if len(diffs) else "no runs",
            "diff_final": math.nan, "diff_best_test": math.nan, **(extra or {})}


def claims_frame(run_paths, dataset: str, ratios: list[float], robustness_paths=()) -> pd.DataFrame:
    """One row per (claim, ratio) and per (FGSM claim, ratio, ε > 0); see the module docstring."""
    reported = []
    for p in run_paths:
        r = read_json(p)
        if r["dataset"] == dataset and "accuracy" in r["metrics"]["average"]:
            reported.append({"method": r["method"], "ratio": float(r["ratio"]), "seed": int(r["seed"]),
                             "value": float(r["metrics"]["average"]["accuracy"])})
    reported = pd.DataFrame(reported, columns=["method", "ratio", "seed", "value"])
    sel = selection_values(run_paths)
    sel = sel[sel.dataset == dataset]
    def table(frame: pd.DataFrame, ratio: float) -> pd.DataFrame:
        return frame[np.isclose(frame.ratio, ratio)].pivot_table(index="seed", columns="method", values="value")

    rows = []
    for claim, a, b, paper in CLAIMS:
        for ratio in ratios:
            extra = {}
            for stat in ("final", "best_test"):
                d = _paired(table(sel[sel.statistic == stat], ratio), a, b)
                extra[f"diff_{stat}"] = float(np.mean(d) * 100) if len(d) else math.nan
            rows.append(_row(claim, a, b, paper, ratio, None, _paired(table(reported, ratio), a, b), extra))
    fgsm = []
    for p in robustness_paths:
        r = read_json(p)
        if r["dataset"] == dataset:
            fgsm += [{"method": r["method"], "ratio": float(r["ratio"]), "seed": int(r["seed"]), "eps": float(e),
                      "value": float(v)} for e, v in r["fgsm"]["avg"].items()]
    fgsm = pd.DataFrame(fgsm, columns=["method", "ratio", "seed", "eps", "value"])
    for claim, a, b, paper in FGSM_CLAIMS:
        for (ratio, eps), g in fgsm[fgsm.eps > 0].groupby(["ratio", "eps"]):
            rows.append(_row(claim, a, b, paper, ratio, eps,
                             _paired(g.pivot_table(index="seed", columns="method", values="value"), a, b)))
    return pd.DataFrame(rows, columns=COLUMNS)


def _num(v: float, fmt: str = "{:+.1f}") -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)


def claims_markdown(frame: pd.DataFrame, dataset: str, unit: str = "") -> str:
    lines = [f"**{dataset}: the VMTL paper's claims on our runs** — paired differences A − B over seeds "
             "(same seed, same split), accuracy points, mean ± 95 % CI (Student t); verdict on the runs' reported "
             "figure (their `selection`); Δ final / Δ best-on-test: the mean difference at those iterates", ""]
    if frame.empty:
        return "\n".join(lines + ["(no runs)", ""])
    lines += ["| claim | paper | ratio | ε | n | A − B | verdict | Δ final | Δ best-on-test |",
              "|---|---|---:|---:|---:|---:|---|---:|---:|"]
    for _, r in frame.iterrows():
        eps = "" if r.eps is None or (isinstance(r.eps, float) and math.isnan(r.eps)) else f"{r.eps:g}{unit}"
        diff = "–" if math.isnan(r["diff"]) else (f"{r['diff']:+.1f}" if math.isnan(r.ci95)
                                                  else f"{r['diff']:+.1f} ± {r.ci95:.1f}")
        lines.append(f"| {r.claim} (`{r.a}` − `{r.b}`) | {r.paper} | {r.ratio:g} | {eps} | {r.n} | {diff} | "
                     f"**{r.verdict}** | {_num(r.diff_final)} | {_num(r.diff_best_test)} |")
    counts = frame.verdict.value_counts()
    lines += ["", "Verdicts: " + ", ".join(f"{k} {int(counts.get(k, 0))}" for k in
                                           ("holds", "not shown", "contradicted", "no runs") if counts.get(k, 0)), ""]
    return "\n".join(lines)


def write_claims(run_paths, out_dir: str | Path, dataset: str, ratios: list[float], robustness_paths=()) -> list[Path]:
    """``{out_dir}/claims.{md,csv}``; returns the paths written."""
    frame = claims_frame(run_paths, dataset, ratios, robustness_paths)
    unit = ""
    for p in robustness_paths:
        if read_json(p).get("eps_unit") == "feature_std":
            unit = " σ"
            break
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "claims.md") as tmp:
        tmp.write_text(claims_markdown(frame, dataset, unit))
    with atomic_path(out / "claims.csv") as tmp:
        frame.to_csv(tmp, index=False)
    return [out / "claims.md", out / "claims.csv"]

"""Which cheap estimator predicts transfer: rank correlation with measured gains.

For an estimator's (T, T) matrix E and the measured gains G (``G[i, t]`` = gain of t
from i), the T(T−1) off-diagonal ordered pairs (i, t) are ranked by E and by G and
compared with Spearman's ρ and Kendall's τ_b (scipy.stats).  Symmetric estimators
repeat E[i, t] = E[t, i]; the ties are handled by both coefficients.

Sign: a *distance* (Wasserstein, A-distance) should predict *low* gain, a
*similarity* (TAG affinity, learned relations) high gain.  Distances are negated
before ranking (``orientation="distance"``), so for every estimator a positive
coefficient means "predicts transfer" and the table reads the same way throughout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io import atomic_path
from .io import ORIENTATIONS


def offdiag(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    return m[~np.eye(len(m), dtype=bool)]


def rank_correlation(estimate, gain, orientation: str = "similarity") -> dict:
    """Spearman ρ and Kendall τ (with p-values) between estimate and gain off the diagonal."""
    from scipy.stats import kendalltau, spearmanr

    if orientation not in ORIENTATIONS:
        raise ConfigError(f"orientation: must be one of {', '.join(ORIENTATIONS)}; got {orientation!r}")
    e, g = np.asarray(estimate, dtype=float), np.asarray(gain, dtype=float)
    if e.shape != g.shape or e.ndim != 2 or e.shape[0] != e.shape[1]:
        raise ConfigError(f"estimate {e.shape} and gain {g.shape} must be the same (T, T) shape")
    x = offdiag(e) * (-1.0 if orientation == "distance" else 1.0)
    y = offdiag(g)
    if np.ptp(x) == 0 or np.ptp(y) == 0:  # a constant has no ranking
        return {"spearman": float("nan"), "spearman_p": float("nan"), "kendall": float("nan"),
                "kendall_p": float("nan"), "n_pairs": int(len(x))}
    rho, rho_p = spearmanr(x, y)
    tau, tau_p = kendalltau(x, y)
    return {"spearman": float(rho), "spearman_p": float(rho_p), "kendall": float(tau),
            "kendall_p": float(tau_p), "n_pairs": int(len(x))}


def correlation_table(estimates: dict[str, tuple[np.ndarray, str]], gain) -> pd.DataFrame:
    """One row per estimator: name -> (matrix, orientation)."""
    rows = [{"estimator": name, "orientation": ori, **rank_correlation(m, gain, ori)}
            for name, (m, ori) in estimates.items()]
    return pd.DataFrame(rows, columns=["estimator", "orientation", "spearman", "spearman_p",
                                       "kendall", "kendall_p", "n_pairs"])


def write_correlation_table(frame: pd.DataFrame, out_dir: str | Path, dataset: str) -> list[Path]:
    """``correlation_{dataset}.{md,csv}`` in out_dir, atomically."""
    out_dir = Path(out_dir)
    paths = []
    with atomic_path(out_dir / f"correlation_{dataset}.csv") as tmp:
        frame.to_csv(tmp, index=False)
    paths.append(out_dir / f"correlation_{dataset}.csv")
    lines = [f"Rank correlation of each estimator with measured transfer gains ({dataset}; "
             "distances negated: positive = predicts transfer)", "",
             "| estimator | Spearman ρ | Kendall τ | pairs |", "|---|---|---|---|"]
    for r in frame.itertuples():
        lines.append(f"| {r.estimator} | {r.spearman:+.3f} (p={r.spearman_p:.2g}) | "
                     f"{r.kendall:+.3f} (p={r.kendall_p:.2g}) | {r.n_pairs} |")
    with atomic_path(out_dir / f"correlation_{dataset}.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    paths.append(out_dir / f"correlation_{dataset}.md")
    return paths


def correlation_figure(frame: pd.DataFrame, dataset: str):
    """The heat-map figure: estimators x {Spearman, Kendall}, colour in [−1, 1].  Its width
    grows with the longest estimator label, so that the labels and the two column names
    never overlap (tests/similarity/test_correlation.py measures them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = frame[["spearman", "kendall"]].to_numpy(dtype=float)
    longest = max((len(str(e)) for e in frame["estimator"]), default=8)
    # 0.075 in per label character at 10 pt, 1.1 in per column, 1.0 in for the colour bar
    fig, ax = plt.subplots(figsize=(0.075 * longest + 2 * 1.1 + 1.0, 0.9 + 0.45 * len(frame)))
    im = ax.imshow(values, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks([0, 1], ["Spearman ρ", "Kendall τ"])
    ax.set_yticks(range(len(frame)), frame["estimator"].tolist())
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, "n/a" if np.isnan(v) else f"{v:+.2f}", ha="center", va="center", fontsize=8,
                color="white" if abs(v) > 0.6 else "black")
    ax.set_title(f"{dataset}: estimator vs transfer gain", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    return fig


def write_correlation_heatmap(frame: pd.DataFrame, out_path: str | Path, dataset: str) -> None:
    """:func:`correlation_figure`, written atomically to ``out_path``."""
    import matplotlib.pyplot as plt

    fig = correlation_figure(frame, dataset)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format=Path(out_path).suffix.lstrip(".") or "png", dpi=150)
    plt.close(fig)

"""Mean and 95 % confidence interval over seeds, and best/second marks."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mean_ci95(values) -> tuple[float, float]:
    """Mean and half-width of the two-sided 95 % Student-t interval (nan for n < 2)."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, half


def rank_marks(scores: dict[str, float], higher_is_better: bool = True) -> dict[str, str]:
    """'best' for the best score(s), 'second' for the next distinct score; nan is unranked."""
    finite = sorted({s for s in scores.values() if not math.isnan(s)}, reverse=higher_is_better)
    marks = {}
    for key, s in scores.items():
        if finite and s == finite[0]:
            marks[key] = "best"
        elif len(finite) > 1 and s == finite[1]:
            marks[key] = "second"
    return marks

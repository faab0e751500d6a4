"""Forecast windows over a multivariate time series: the ``window`` backbone's samples.

A sample is a forecast origin ``t0`` (a row of the series).  Its feature is the last
``L = lookback`` rows ``t0-L+1 .. t0`` of every variable, standardised with the training
part's mean and std and flattened time-major (``feature[k * V + v]`` = variable ``v`` at
row ``t0 - L + 1 + k``: L x V floats).  Its label for task (variable) ``v`` is the
standardised value of ``v`` at row ``t0 + H`` (``H = horizon``).

The series is cut into consecutive parts (``{part: [start, stop)}`` rows, e.g. train / val /
test by time).  A window belongs to a part only if its inputs *and* its target lie inside
that part, so no window crosses a part boundary: in a part of ``n`` rows the first input
row ``s`` runs over ``start .. stop - L - H`` in steps of ``stride``, i.e.
``(n - L - H) // stride + 1`` windows.  The standardisation statistics (mean, std with
ddof 0, as scikit-learn's StandardScaler) come from the training part's rows only.

Sample ids are ``{task}/{time of t0}``; the features table's metadata block
``chronological`` names each part's first and last origin, from which the split stage
(:func:`mtlbench.splits.chronological_split`) assigns every sample to its part.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

PARTS = ("train", "val", "test")


def window_starts(start: int, stop: int, lookback: int, horizon: int, stride: int = 1) -> np.ndarray:
    """First input rows of the windows whose inputs and target lie in rows [start, stop)."""
    if lookback < 1 or horizon < 1 or stride < 1:
        raise ValueError(f"lookback, horizon and stride must be >= 1, got {lookback}, {horizon}, {stride}")
    last = stop - lookback - horizon  # inputs s .. s+L-1, target s+L-1+H <= stop-1
    return np.arange(start, last + 1, stride, dtype=np.int64) if last >= start else np.empty(0, np.int64)


def train_statistics(values: np.ndarray, train_rows: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-variable mean and std (ddof 0) over rows [start, stop) of ``values`` (N, V)."""
    part = values[train_rows[0]: train_rows[1]]
    mean, std = part.mean(axis=0), part.std(axis=0)
    if (std == 0).any():
        raise DataError(f"variables {np.flatnonzero(std == 0).tolist()} are constant in the training part; "
                        "cannot standardise them")
    return mean, std


def make_windows(time: np.ndarray, values: np.ndarray, columns: list[str], parts: dict[str, list[int]],
                 lookback: int, horizon: int, stride: int = 1, tasks: list[str] | None = None) -> dict:
    """Windows of every part -> ``sample_id, task, label, feature`` (table rows) and metadata.

    ``time`` (N,) strings, ``values`` (N, V) float, ``columns`` the V variable names,
    ``parts`` ``{name: [start, stop)}`` with a ``train`` part.  ``tasks``: the variables
    that are tasks (default: every column); every window gives one row per task, the
    rows ordered task by task, windows in time order within a task.
    """
    values = np.asarray(values, dtype=np.float64)
    tasks = list(tasks or columns)
    missing = [t for t in tasks if t not in columns]
    if missing:
        raise DataError(f"tasks {missing} are not columns of the series ({columns})")
    if "train" not in parts:
        raise DataError(f"the parts {sorted(parts)} have no 'train' part for the standardisation statistics")
    for name, (a, b) in parts.items():
        if not 0 <= a < b <= len(values):
            raise DataError(f"part {name} = rows [{a}, {b}) is outside the series' {len(values)} rows")
    mean, std = train_statistics(values, parts["train"])
    z = ((values - mean) / std).astype(np.float32)

    starts, info = [], {}
    for name, (a, b) in parts.items():
        s = window_starts(a, b, lookback, horizon, stride)
        if len(s) == 0:
            raise DataError(f"part {name} ({b - a} rows) is too short for a window of {lookback} + {horizon} rows")
        origin = s + lookback - 1
        info[name] = {"rows": [int(a), int(b)], "windows": int(len(s)), "first_origin": str(time[origin[0]]),
                      "last_origin": str(time[origin[-1]]), "first_target": str(time[origin[0] + horizon]),
                      "last_target": str(time[origin[-1] + horizon])}
        starts.append(s)
    s = np.concatenate(starts)
    origin = s + lookback - 1
    # (W, L, V) -> (W, L*V), time-major
    feature = z[s[:, None] + np.arange(lookback)[None, :]].reshape(len(s), lookback * values.shape[1])
    col = [columns.index(t) for t in tasks]
    target = z[origin + horizon][:, col].astype(np.float64)  # (W, T)
    origin_time = np.asarray(time)[origin]
    sample_id = np.concatenate([np.char.add(f"{t}/", origin_time) for t in tasks])
    task = np.repeat(np.asarray(tasks, dtype=str), len(s))
    label = target.T.reshape(-1)  # task by task
    meta = {
        "chronological": {"parts": info, "lookback_steps": int(lookback), "horizon_steps": int(horizon),
                          "stride_steps": int(stride), "sample_id": "{task}/{time of the last input row}"},
        "standardisation": {"columns": list(columns), "mean": mean.tolist(), "std": std.tolist(), "ddof": 0,
                            "rows": [int(x) for x in parts["train"]], "part": "train"},
        "feature_layout": f"{lookback} rows x {len(columns)} variables ({', '.join(columns)}), time-major, "
                          "standardised with the training part's mean/std",
        "label": f"the task's standardised value {horizon} rows after the last input row",
        "task_types": dict.fromkeys(tasks, "regression"),
    }
    return {"sample_id": sample_id, "task": task, "label": label, "feature": np.tile(feature, (len(tasks), 1)),
            "metadata": meta}

"""ETT (Electricity Transformer Temperature, Zhou et al., "Informer", AAAI 2021) as datasets.

Four registered datasets, one CSV each from the repository zhouhaoyi/ETDataset
(folder ``ETT-small``): ``etth1`` and ``etth2`` (hourly, two stations) and ``ettm1`` and
``ettm2`` (the same stations every 15 minutes).  Columns ``date`` and seven variables;
each variable is a task (:data:`ETT_TASKS`), a regression task: forecast its value
``horizon_hours`` ahead from the last ``lookback_hours`` of all seven variables (the
``window`` backbone, :mod:`mtlbench.features.windows`).

The raw stage (:func:`prepare_ett`, called by :func:`mtlbench.data.prepare.prepare_dataset`
after the verified download) checks the CSV (columns, a regular time step, the row count)
and writes the series in the raw contract of :mod:`mtlbench.data.raw` (``series.parquet``)
with the chronological parts of the Informer protocol in the manifest: the first 12, then
4, then 4 months of 30 days are ``train``, ``val`` and ``test`` (8,640 / 2,880 / 2,880
hourly rows, x4 for 15-minute data); rows after the test part are not used.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError

ETT_TASKS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
REPOSITORY = "zhouhaoyi/ETDataset"
_URLS = ("https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{}",
         "https://github.com/zhouhaoyi/ETDataset/raw/main/ETT-small/{}")

# dataset -> (file, sha256 as published in ../shared/data/README.md or None, steps per hour, rows)
# ETTm1/ETTm2: no published checksum; the lock file pins the first verified download
ETT_FILES = {
    "etth1": ("ETTh1.csv", "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066", 1, 17420),
    "etth2": ("ETTh2.csv", "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b", 1, 17420),
    "ettm1": ("ETTm1.csv", None, 4, 69680),
    "ettm2": ("ETTm2.csv", None, 4, 69680),
}

# the Informer protocol: train / validation / test = 12 / 4 / 4 months of 30 days, from the start
PART_MONTHS = (("train", 12), ("val", 4), ("test", 4))
DAYS_PER_MONTH = 30


def ett_urls(filename: str) -> tuple[str, ...]:
    return tuple(u.format(filename) for u in _URLS)


def chronological_parts(n_rows: int, steps_per_hour: int, months=PART_MONTHS,
                        days_per_month: int = DAYS_PER_MONTH) -> dict[str, list[int]]:
    """Consecutive row ranges ``{part: [start, stop)}`` of ``months`` from row 0.

    ETTh at the defaults: train [0, 8640), val [8640, 11520), test [11520, 14400).
    """
    parts, start = {}, 0
    for name, m in months:
        stop = start + m * days_per_month * 24 * steps_per_hour
        parts[name] = [start, stop]
        start = stop
    if start > n_rows:
        raise DataError(f"the series has {n_rows} rows; the parts {parts} need {start}")
    return parts


def read_ett_csv(path: str | os.PathLike, tasks=ETT_TASKS, steps_per_hour: int | None = None):
    """An ETT CSV -> (times as ISO strings 'YYYY-MM-DDTHH:MM', values (N, V) float64, steps per hour).

    The columns must be ``date`` and ``tasks``; the dates must advance by one constant
    step (60 / steps_per_hour minutes, inferred when None) with no gap: the windows count
    rows as time steps.
    """
    import pandas as pd

    df = pd.read_csv(path)
    want = ["date", *tasks]
    if list(df.columns) != want:
        raise DataError(f"{path}: columns {list(df.columns)}, expected {want}")
    if len(df) < 2:
        raise DataError(f"{path}: {len(df)} rows")
    dates = pd.to_datetime(df["date"], format="%Y-%m-%d %H:%M:%S")
    steps = np.diff(dates.to_numpy()).astype("timedelta64[m]").astype(np.int64)
    minutes = int(60 // steps_per_hour) if steps_per_hour else int(steps[0])
    if minutes <= 0 or 60 % minutes or (steps != minutes).any():
        bad = int(np.flatnonzero(steps != minutes)[0]) if (steps != minutes).any() else 0
        raise DataError(f"{path}: the dates must advance by {minutes} minutes with no gap; row {bad + 2} "
                        f"({df['date'].iloc[bad]} -> {df['date'].iloc[bad + 1]}) does not")
    values = df[list(tasks)].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise DataError(f"{path}: {int((~np.isfinite(values)).sum())} values are missing or not finite")
    times = dates.dt.strftime("%Y-%m-%dT%H:%M").to_numpy().astype(str)
    return times, values, 60 // minutes


def prepare_ett(spec, raw_dir: Path, downloads_dir: Path, manifest: dict) -> dict:
    """Raw stage of an ETT dataset after its verified download: ``series.parquet`` + manifest."""
    from .raw import write_raw_series

    (source,) = spec.files
    steps_per_hour = ETT_FILES[spec.name][2]
    times, values, sph = read_ett_csv(downloads_dir / source.filename, spec.tasks)
    if sph != steps_per_hour:
        raise DataError(f"{spec.name}: {source.filename} has {sph} rows per hour, expected {steps_per_hour}")
    wrong = [f"{t}: {len(times)} (published {n})" for t, n in spec.expected_counts.items() if n != len(times)]
    if wrong:
        raise DataError(f"{spec.name}: rows per variable differ from the published counts: {'; '.join(wrong)}. "
                        f"Another release of {source.filename}? Set datasets.{spec.name}.download.expected_counts "
                        "if you use it on purpose")
    parts = chronological_parts(len(times), sph)
    manifest = dict(manifest, kind="time_series", steps_per_hour=sph, parts=parts,
                    part_protocol="Informer: train / val / test = 12 / 4 / 4 months of 30 days from the "
                    "first row; later rows unused",
                    task_types=dict.fromkeys(spec.tasks, "regression"), first_time=str(times[0]),
                    last_time=str(times[-1]), repository=REPOSITORY)
    return write_raw_series(raw_dir, times, values, list(spec.tasks), manifest)

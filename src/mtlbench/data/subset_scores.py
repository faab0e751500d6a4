"""``kind: subset_scores``: published measured performances of trained task subsets.

A grouping solver can be scored on such a table with no training: each row is a network
that was trained on a subset of the tasks, with each member task's measured score on
validation and on test.  Two formats are read (``../shared/data/grouping_tables/README.md``
describes the published files):

``standley``  HOA's network-selection tables (Standley et al., ICML 2020, the files of
    their ``network_selection/`` folder): tab-separated losses, *lower is better*.
    Line 1 holds the T half-size single-task networks (cost 0.5), one loss per task;
    every later line is a network of cost 1 holding the tasks whose cell is non-empty
    (an empty cell, or a cell missing at the end of a short line, = task not in it).
    One file for validation and one for test, line for line the same networks.
    Their reader (``network_selection/main.cpp``, ``read_line`` and
    ``get_model_performances``) reads an empty cell as "not in the network" and gives
    the first line's networks cost 0.5 and the others cost 1; we do the same.
``mtg_net``   MTG-Net's collected gains (Song et al., NeurIPS 2022,
    ``gain_collection/collected_gain/``): a whitespace-separated 0/1 mask per
    combination (``*_x.csv``) and the per-task gain of each combination on validation
    (``*_val_y.csv``) and on test (``*_y.csv``), *higher is better*; every combination
    is one network of cost 1 (the budget is the number of groups).

Example entry (params.yaml or a configs/ file)::

    datasets:
      taskonomy_hoa_setting1:
        kind: subset_scores
        format: standley
        path: ../shared/data/grouping_tables/taskonomy_hoa_setting1
        tasks: [t1, t2, t3, t4, t5]      # the columns, in order
        budgets: [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import ConfigError, DataError

FORMAT_FILES = {  # default file names per format: (mask, val, test)
    "standley": (None, "results.txt", "results_test.txt"),
    "mtg_net": ("*_x.csv", "*_val_y.csv", "*_y.csv"),
}


@dataclass(frozen=True)
class SubsetScoresConfig:
    """``kind: subset_scores``: a published table of measured subset performances.

    Keys:
      format: standley | mtg_net (module docstring).
      path: the folder holding the files.
      tasks: the task names, one per column, in order (required: the DAG names jobs by them).
      val_file, test_file, mask_file: file names inside ``path`` (mask_file: mtg_net only).
        Default: standley ``results.txt`` / ``results_test.txt``; mtg_net the single file
        matching ``*_val_y.csv`` / ``*_y.csv`` (not ``*_val_y.csv``) / ``*_x.csv``.
      budgets: the budgets to select under (total network cost; for mtg_net the number
        of groups).  Default: standley 1, 1.5, ..., T; mtg_net 1, ..., T.
    """

    kind: Literal["subset_scores"]
    format: Literal["standley", "mtg_net"]
    path: str
    tasks: tuple[str, ...] = ()
    val_file: str | None = None
    test_file: str | None = None
    mask_file: str | None = None
    budgets: tuple[float, ...] = ()
    enabled: bool = True

    @property
    def task_order(self) -> tuple[str, ...]:
        return tuple(self.tasks)

    def check(self, where: str) -> None:
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"{where}.tasks: a task is listed twice: {list(self.tasks)}")
        if self.format == "standley" and self.mask_file is not None:
            raise ConfigError(f"{where}.mask_file: only for format mtg_net (standley tables mark a task "
                              "outside a network by an empty cell)")
        for b in self.budgets:
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not b > 0:
                raise ConfigError(f"{where}.budgets: each budget must be a number > 0, got {b!r}")
            if self.format == "mtg_net" and float(b) != int(b):
                raise ConfigError(f"{where}.budgets: mtg_net budgets count groups (integers), got {b!r}")

    @property
    def budget_list(self) -> list[float]:
        if self.budgets:
            return [float(b) for b in self.budgets]
        n = len(self.tasks)
        step = 0.5 if self.format == "standley" else 1.0
        return [1.0 + step * k for k in range(int(round((n - 1) / step)) + 1)]


@dataclass
class SubsetTable:
    """Networks (rows) x tasks (columns).

    ``mask[c, t]``: task t is in network c.  ``val`` / ``test``: the measured score of t in
    c (NaN where t is not in c).  ``cost[c]``: the network's cost.  ``higher_is_better``:
    the score's sense (standley: losses, False; mtg_net: gains, True)."""

    tasks: list[str]
    mask: np.ndarray
    cost: np.ndarray
    val: np.ndarray
    test: np.ndarray
    higher_is_better: bool
    source: dict

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    def utility(self, split: str) -> np.ndarray:
        """The scores with larger = better (losses negated), NaN outside a network."""
        v = self.val if split == "val" else self.test
        return v if self.higher_is_better else -v

    def members(self, c: int) -> tuple[int, ...]:
        return tuple(int(t) for t in np.flatnonzero(self.mask[c]))

    def index(self) -> dict[tuple[int, ...], list[int]]:
        """Task subset -> the rows holding it (standley: a single task has two, 0.5 and 1)."""
        out: dict[tuple[int, ...], list[int]] = {}
        for c in range(len(self.mask)):
            out.setdefault(self.members(c), []).append(c)
        return out


def _parse_cells(line: str, n_tasks: int, where: str) -> list[float | None]:
    cells = line.rstrip("\r\n").split("\t")
    if len(cells) > n_tasks:
        extra = [c for c in cells[n_tasks:] if c.strip()]
        if extra:
            raise DataError(f"{where}: {len(cells)} cells, more than the {n_tasks} tasks")
        cells = cells[:n_tasks]
    out: list[float | None] = []
    for k, cell in enumerate(cells + [""] * (n_tasks - len(cells))):
        cell = cell.strip()
        if not cell:
            out.append(None)
            continue
        try:
            v = float(cell)
        except ValueError:
            raise DataError(f"{where}: cell {k + 1} is {cell!r}, not a number") from None
        if not math.isfinite(v):
            raise DataError(f"{where}: cell {k + 1} is {cell!r}, not a finite number")
        out.append(v)
    return out


def _read_standley_file(path: Path, n_tasks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask, cost, scores) of one standley file: line 1 = T half-size singles (cost 0.5)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    lines = path.read_text().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError(f"{path}: empty")
    masks, costs, rows = [], [], []
    first = _parse_cells(lines[0], n_tasks, f"{path}, line 1")
    for t, v in enumerate(first):
        if v is None:  # main.cpp reads an empty cell here as a single network with no score
            raise DataError(f"{path}, line 1: task {t + 1} has no half-size single-task network (empty cell)")
        m = np.zeros(n_tasks, dtype=bool)
        m[t] = True
        r = np.full(n_tasks, np.nan)
        r[t] = v
        masks.append(m), costs.append(0.5), rows.append(r)
    for k, line in enumerate(lines[1:], start=2):
        cells = _parse_cells(line, n_tasks, f"{path}, line {k}")
        m = np.array([v is not None for v in cells])
        if not m.any():
            raise DataError(f"{path}, line {k}: no task in this network (every cell empty)")
        masks.append(m), costs.append(1.0)
        rows.append(np.array([np.nan if v is None else v for v in cells]))
    return np.array(masks), np.array(costs), np.array(rows)


def _one_match(folder: Path, pattern: str, exclude: str | None = None) -> Path:
    found = sorted(p for p in folder.glob(pattern) if not (exclude and p.match(exclude)))
    if len(found) != 1:
        raise DataError(f"{folder}: expected one file matching {pattern!r}"
                        + (f" (not {exclude!r})" if exclude else "") + f", found {[p.name for p in found]}; "
                        "name it with val_file / test_file / mask_file")
    return found[0]


def _read_matrix(path: Path, n_tasks: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows = []
    for k, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.replace(",", " ").split()
        if len(cells) != n_tasks:
            raise DataError(f"{path}, line {k}: {len(cells)} values, expected one per task ({n_tasks})")
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise DataError(f"{path}, line {k}: a value is not a number: {line.strip()!r}") from None
    if not rows:
        raise DataError(f"{path}: empty")
    out = np.array(rows)
    if not np.isfinite(out).all():
        raise DataError(f"{path}: non-finite values")
    return out


def read_subset_table(cfg: SubsetScoresConfig) -> SubsetTable:
    """Read and check a table; raises DataError naming the file and line of a problem,
    and the tasks no network covers."""
    folder = Path(cfg.path)
    n = len(cfg.tasks)
    if n == 0:
        raise ConfigError("subset_scores: tasks must list the table's columns")
    if cfg.format == "standley":
        vp = folder / (cfg.val_file or FORMAT_FILES["standley"][1])
        tp = folder / (cfg.test_file or FORMAT_FILES["standley"][2])
        vm, vc, val = _read_standley_file(vp, n)
        tm, _tc, test = _read_standley_file(tp, n)
        if vm.shape != tm.shape:
            raise DataError(f"{vp} and {tp}: {len(vm)} and {len(tm)} networks; they must list the same "
                            "networks line for line")
        differ = np.flatnonzero((vm != tm).any(1))
        if differ.size:
            raise DataError(f"{vp} and {tp}: line {int(differ[0]) - n + 2} holds different tasks in the two "
                            "files; they must list the same networks line for line")
        mask, cost = vm, vc
    else:
        mp = folder / cfg.mask_file if cfg.mask_file else _one_match(folder, "*_x.csv")
        vp = folder / cfg.val_file if cfg.val_file else _one_match(folder, "*_val_y.csv")
        tp = folder / cfg.test_file if cfg.test_file else _one_match(folder, "*_y.csv", "*_val_y.csv")
        raw_mask = _read_matrix(mp, n)
        if not np.isin(raw_mask, (0.0, 1.0)).all():
            raise DataError(f"{mp}: the mask must hold only 0 and 1")
        mask = raw_mask.astype(bool)
        val, test = _read_matrix(vp, n), _read_matrix(tp, n)
        for p, arr in ((vp, val), (tp, test)):
            if arr.shape != mask.shape:
                raise DataError(f"{p}: {arr.shape[0]} rows, {mp.name} has {mask.shape[0]}")
        empty = np.flatnonzero(~mask.any(1))
        if empty.size:
            raise DataError(f"{mp}, line {int(empty[0]) + 1}: a combination with no task")
        val, test = np.where(mask, val, np.nan), np.where(mask, test, np.nan)
        cost = np.ones(len(mask))
    uncovered = [cfg.tasks[t] for t in range(n) if not mask[:, t].any()]
    if uncovered:
        raise DataError(f"{folder}: no network holds task(s) {uncovered}: every task must be covered "
                        "by at least one trained network")
    return SubsetTable(tasks=list(cfg.tasks), mask=mask, cost=cost, val=val, test=test,
                       higher_is_better=cfg.format == "mtg_net",
                       source={"format": cfg.format, "path": str(folder), "val": str(vp), "test": str(tp)})

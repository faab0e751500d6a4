"""Grouping scored against a published table of measured subset scores (``kind: subset_scores``).

Protocol (Standley et al. 2020, Sec. 4 and ``network_selection/main.cpp``,
``compute_and_print``; MTG-Net's ``model/ETTm1_grouping_reproduce.ipynb``):

- each solver chooses networks (rows of the table) from the *validation* scores, under a
  budget B = the total cost of the chosen networks (standley: 0.5 a half-size single,
  1 any other network; mtg_net: 1 a network, i.e. B groups);
- every task must be covered; a task's score is its best among the chosen networks that
  hold it, on validation for ``val_total`` and on *test* for ``test_total``
  (``translate_scores_to_test_set`` + ``score_solution`` in main.cpp: the test score of a
  task is its best *test* score among the chosen networks);
- totals are sums over tasks in the table's own unit (standley: loss, lower is better;
  mtg_net: gain, higher is better).

Solvers:

``oracle``          the exact selection (:func:`mtlbench.grouping.selection.select_networks`)
                    on the validation scores.
``hoa``             Standley et al.'s higher-order approximation (Sec. 3.3; main.cpp
                    ``higher_order_approximation``): every network of three or more tasks
                    gets, for each of its tasks t, the mean of t's score over the
                    two-task networks {t, j} ⊂ the network; networks of one or two tasks
                    keep their measured scores; then the exact selection on these
                    approximated validation scores.
``mip``             the partition program (:func:`mtlbench.grouping.mip.partition_tasks`)
                    on the pairwise gains of the table (below) into at most ⌊B⌋ groups,
                    each group trained as a cost-1 network.
``mip_normalized``  the grouping paper's program (:mod:`mtlbench.grouping.normalized`) on
                    the same pairwise gains, exactly ⌊B⌋ groups (overlap allowed), over
                    the networks present in the table, each cost 1.
``each_alone``      one network per task: the best selection among single-task networks
                    (standley: the half-size ones when B < T).
``all_in_one``      the network holding every task (when in the table and affordable).
``random``          networks drawn in random order, each taken while it fits the budget,
                    until none fits (main.cpp ``do_one_random``; a draw that leaves a task
                    uncovered is redrawn); the mean over ``random_draws`` seeded draws.

Pairwise gains: ``gain[i, t]`` = u(t | {i, t}) − u(t | {t}) on validation, u the utility
(mtg_net: the recorded gain, whose single-task value is 0; standley: the negated loss,
with {t} the full-size single network of cost 1).  When a pair or single is missing from
the table, or the program picks a group the table has not trained, the solver's row is
NaN with status ``unavailable: ...`` (the table cannot score it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.subset_scores import SubsetTable
from ..errors import ConfigError, DataError
from ..io import atomic_path
from .base import InfeasibleError
from .selection import best_served, select_networks

TABLE_SOLVERS = ("oracle", "hoa", "mip", "mip_normalized", "each_alone", "all_in_one", "random")


def hoa_table(table: SubsetTable, split: str = "val") -> np.ndarray:
    """The higher-order approximation of the utilities (module docstring), shape (N, T)."""
    u = table.utility(split)
    size = table.mask.sum(1)
    pairs = np.flatnonzero(size == 2)
    out = u.copy()
    for c in np.flatnonzero(size > 2):
        inside = pairs[(table.mask[pairs] & ~table.mask[c]).sum(1) == 0]  # pairs ⊂ network c
        for t in np.flatnonzero(table.mask[c]):
            with_t = inside[table.mask[inside, t]]
            out[c, t] = u[with_t, t].mean() if len(with_t) else np.nan
    # a task of a network with no pair holding it has no approximation: main.cpp scores it
    # inf (never chosen for it); here it leaves the network's mask for the selection
    return out


def _single_rows(table: SubsetTable) -> dict[int, int]:
    """Task -> the row of its single-task network of cost 1 (else its cheapest one)."""
    out = {}
    for members, rows in table.index().items():
        if len(members) == 1:
            full = [r for r in rows if abs(table.cost[r] - 1.0) < 1e-9]
            out[members[0]] = full[0] if full else min(rows, key=lambda r: table.cost[r])
    return out


def pairwise_gain(table: SubsetTable, split: str = "val") -> np.ndarray:
    """``gain[i, t]`` = u(t | {i, t}) − u(t | {t}) (module docstring), shape (T, T)."""
    u = table.utility(split)
    n = table.n_tasks
    index = table.index()
    singles = _single_rows(table)
    missing = [table.tasks[t] for t in range(n) if t not in singles]
    if missing:
        raise DataError(f"pairwise gains: no single-task network for {missing}")
    g = np.zeros((n, n))
    for i in range(n):
        for t in range(n):
            if i == t:
                continue
            rows = index.get(tuple(sorted((i, t))))
            if not rows:
                raise DataError(f"pairwise gains: no network of the pair ({table.tasks[i]}, {table.tasks[t]})")
            g[i, t] = u[rows[0], t] - u[singles[t], t]
    return g


def _totals(table: SubsetTable, chosen: list[int]) -> tuple[float, float]:
    """(val_total, test_total): each task's best among the chosen networks, summed, in the
    table's own unit (the sign of the scores restored)."""
    out = []
    for split in ("val", "test"):
        u = table.utility(split)
        served = best_served(table.mask, u, chosen)
        total = float(sum(u[served[t], t] for t in range(table.n_tasks)))
        out.append(total if table.higher_is_better else -total)
    return out[0], out[1]


def _rows_of_groups(table: SubsetTable, groups) -> list[int]:
    """The cost-1 rows of the given task groups (DataError naming a group not in the table)."""
    index = table.index()
    out = []
    for grp in groups:
        rows = index.get(tuple(sorted(int(t) for t in grp)))
        if not rows:
            raise DataError(f"group {[table.tasks[t] for t in grp]} was not trained in the table")
        full = [r for r in rows if abs(table.cost[r] - 1.0) < 1e-9]
        out.append(full[0] if full else rows[0])
    return sorted(set(out))


def _random_selection(table: SubsetTable, budget: float, rng: np.random.Generator, max_redraws: int = 10_000):
    """main.cpp ``do_one_random``: take networks in random order while they fit; redraw if a
    task is left uncovered."""
    n = len(table.cost)
    cheapest = float(table.cost.min())
    for _ in range(max_redraws):
        left, chosen = budget, []
        for c in rng.permutation(n):
            if table.cost[c] <= left + 1e-9:
                chosen.append(int(c))
                left -= table.cost[c]
            if left < cheapest - 1e-9:
                break
        if table.mask[chosen].any(0).all():
            return sorted(chosen)
    raise InfeasibleError(f"random: {max_redraws} draws within budget {budget:g} left a task uncovered")


def solve_table(table: SubsetTable, solver: str, budget: float, time_limit_s: float = 60.0,
                random_draws: int = 100, seed: int = 0) -> dict:
    """One solver at one budget: a row ``{solver, budget, val_total, test_total, networks,
    groups, status}`` (totals NaN and status ``infeasible`` when the budget allows no
    covering selection for this solver)."""
    if solver not in TABLE_SOLVERS:
        raise ConfigError(f"solver: {solver!r}; allowed: {', '.join(TABLE_SOLVERS)}")
    row = {"solver": solver, "budget": float(budget)}
    n = table.n_tasks
    try:
        if solver == "random":
            rng = np.random.default_rng(seed)
            draws = [_totals(table, _random_selection(table, budget, rng)) for _ in range(random_draws)]
            v, t = np.mean(draws, axis=0)
            return {**row, "val_total": float(v), "test_total": float(t), "networks": np.nan,
                    "groups": f"mean of {random_draws} draws", "status": "random"}
        status = "heuristic"
        if solver in ("oracle", "hoa", "each_alone"):
            u = table.utility("val") if solver != "hoa" else hoa_table(table)
            mask = table.mask & ~np.isnan(u)
            if solver == "each_alone":
                mask = mask & (table.mask.sum(1) == 1)[:, None]
            sel = select_networks(mask, np.nan_to_num(u, nan=0.0), table.cost, budget,
                                  time_limit_s=time_limit_s, tasks=table.tasks)
            chosen, status = sel.chosen, sel.status
        elif solver == "all_in_one":
            full = [c for c in range(len(table.cost)) if table.mask[c].all() and table.cost[c] <= budget + 1e-9]
            if not full:
                raise InfeasibleError("no network holds every task within the budget")
            chosen = full[:1]
        else:
            k = int(np.floor(budget + 1e-9))
            if k < 1:
                raise InfeasibleError(f"budget {budget:g} affords no cost-1 network")
            gain = pairwise_gain(table)
            if solver == "mip":
                from .mip import partition_tasks

                res = partition_tasks(gain, min(k, n), time_limit_s=time_limit_s, tasks=table.tasks)
                groups = res.groups
            else:
                from .normalized import normalized_grouping

                full_rows = [c for c in range(len(table.cost)) if abs(table.cost[c] - 1.0) < 1e-9]
                cands = sorted({table.members(c) for c in full_rows})
                res = normalized_grouping(gain, k, candidates=cands, time_limit_s=time_limit_s)
                groups = res.groups
            status = res.status
            chosen = _rows_of_groups(table, groups)
            if table.cost[chosen].sum() > budget + 1e-9:
                raise InfeasibleError(f"{solver}: the groups cost {table.cost[chosen].sum():g} > budget {budget:g}")
    except InfeasibleError as e:
        return {**row, "val_total": np.nan, "test_total": np.nan, "networks": 0, "groups": "",
                "status": f"infeasible: {e}"}
    except DataError as e:  # mip / mip_normalized: a pair, a single or a chosen group not in the table
        return {**row, "val_total": np.nan, "test_total": np.nan, "networks": 0, "groups": "",
                "status": f"unavailable: {e}"}
    v, t = _totals(table, chosen)
    groups = " | ".join(",".join(table.tasks[i] for i in table.members(c)) +
                        (" (half)" if table.cost[c] < 1 else "") for c in chosen)
    return {**row, "val_total": v, "test_total": t, "networks": len(chosen), "groups": groups, "status": status}


def selection_frame(table: SubsetTable, budgets, solvers=TABLE_SOLVERS, time_limit_s: float = 60.0,
                    random_draws: int = 100, seed: int = 0) -> pd.DataFrame:
    rows = [solve_table(table, s, b, time_limit_s, random_draws, seed) for s in solvers for b in budgets]
    frame = pd.DataFrame(rows)
    frame["test_mean_per_task"] = frame["test_total"] / table.n_tasks
    return frame


def write_selection(frame: pd.DataFrame, table: SubsetTable, dataset: str, selection_csv, tables_dir,
                    figure=None) -> None:
    """``selection.csv`` (exactly solver,budget,val_total,test_total), the grouping table
    (``grouping_{dataset}.md`` / ``.csv``, with the networks, groups and status) and the
    figure of test total against budget, one line per solver."""
    selection_csv, tables_dir = Path(selection_csv), Path(tables_dir)
    with atomic_path(selection_csv) as tmp:
        frame[["solver", "budget", "val_total", "test_total"]].to_csv(tmp, index=False, float_format="%.10g")
    with atomic_path(tables_dir / f"grouping_{dataset}.csv") as tmp:
        frame.to_csv(tmp, index=False, float_format="%.10g")
    unit = "gain (higher is better)" if table.higher_is_better else "loss (lower is better)"
    wide = frame.pivot(index="budget", columns="solver", values="test_total")
    solvers = [s for s in TABLE_SOLVERS if s in wide.columns]
    lines = [f"Network selection on {dataset}: test total {unit} over the {table.n_tasks} tasks, networks chosen "
             "on validation under the budget (total network cost); a task scores its best chosen network; "
             "n/a: the budget allows no covering selection for that solver", "",
             "| budget | " + " | ".join(solvers) + " |", "|---|" + "---|" * len(solvers)]
    for b, r in wide.iterrows():
        cells = ["n/a" if pd.isna(r[s]) else f"{r[s]:.5f}" for s in solvers]
        lines.append(f"| {b:g} | " + " | ".join(cells) + " |")
    lines += ["", "Chosen networks:", "", "| solver | budget | networks | groups | status |", "|---|---|---|---|---|"]
    for r in frame.itertuples():
        nets = "" if pd.isna(r.networks) else int(r.networks)
        lines.append(f"| {r.solver} | {r.budget:g} | {nets} | {r.groups} | {r.status} |")
    with atomic_path(tables_dir / f"grouping_{dataset}.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    if figure is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for s in solvers:
            col = wide[s]
            ax.plot(col.index, col.values, marker="o", label=s)
        ax.set_xlabel("budget (total network cost)")
        ax.set_ylabel(f"test total {unit}")
        ax.set_title(dataset)
        ax.legend(fontsize=8)
        fig.tight_layout()
        with atomic_path(Path(figure)) as tmp:
            fig.savefig(tmp, format="png", dpi=120)
        plt.close(fig)

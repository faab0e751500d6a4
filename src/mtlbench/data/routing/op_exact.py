"""Orienteering solved to proven optimality by CP-SAT, OR-tools' constraint solver (the OP
reference's second stage, :mod:`.reference`).

The model is the OP's own definition (Kool et al. 2019, App. D; Fischetti, Salazar
González & Toth 1998): choose a closed tour from the depot through a subset of the nodes,
of length at most L, maximising the prize collected.  In CP-SAT:

- one literal x_ab per arc a -> b of the complete graph on the depot (0) and the nodes
  1..n, and one self-loop literal s_k per node k ("k is not visited"; the depot's loop
  lets the tour be empty when no node fits), under one ``AddCircuit`` constraint: the
  arcs chosen form a single circuit through every node whose loop is off;
- Σ_{a≠b} ⌈scale · d_ab⌉ x_ab ≤ ⌊scale · L⌋, the distances rounded up and the cap down, so
  that every tour the solver accepts keeps the true (float64) cap;
- maximise Σ_k round(prize_scale · p_k) (1 − s_k).  Kool et al.'s distance prizes are
  multiples of 0.01, so with ``prize_scale`` 100 the objective is the prize exactly.

With the status ``OPTIMAL`` the tour is optimal for the rounded distances (its prize equals
the solver's bound); otherwise the solver's best bound is an upper bound on the prize,
which the reference records, so that its own gap is known.  A hint (the guided-local-
search tour) starts the search, and the better of the two tours is kept by the caller.
``workers = 1`` with a deterministic-time limit makes the search independent of the load
on the machine; a wall-clock limit does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExactOPResult:
    tour: list[int]  # the visited nodes in order, depot excluded (the format of .solutions)
    status: str  # CP-SAT's status name: OPTIMAL, FEASIBLE, or UNKNOWN (no tour found)
    bound: float  # the solver's upper bound on the prize (prize units)


def solve_op_exact(pts: np.ndarray, prize: np.ndarray, max_length: float, time_limit_s: float, *,
                   deterministic: bool = True, workers: int = 1, scale: int = 100_000, prize_scale: int = 100,
                   hint: list[int] | None = None, seed: int = 0) -> ExactOPResult:
    """The OP instance with depot ``pts[0]``, nodes ``pts[1:]`` and prizes ``prize`` (n,)
    solved by CP-SAT within ``time_limit_s`` (deterministic seconds when ``deterministic``,
    else wall-clock seconds)."""
    from ortools.sat.python import cp_model

    pts = np.asarray(pts, dtype=np.float64)
    n1 = len(pts)
    if len(prize) != n1 - 1:
        raise ValueError(f"{n1 - 1} nodes but {len(prize)} prizes")
    up = np.ceil(np.linalg.norm(pts[:, None] - pts[None], axis=-1) * scale).astype(np.int64)
    gain = np.rint(np.asarray(prize, dtype=np.float64) * prize_scale).astype(np.int64)
    m = cp_model.CpModel()
    arc = {(a, b): m.new_bool_var(f"x{a}_{b}") for a in range(n1) for b in range(n1) if a != b}
    skip = {k: m.new_bool_var(f"skip{k}") for k in range(n1)}
    m.add_circuit([(a, b, v) for (a, b), v in arc.items()] + [(k, k, v) for k, v in skip.items()])
    for k in range(1, n1):  # an empty tour skips every node
        m.add_implication(skip[0], skip[k])
    m.add(sum(int(up[a, b]) * v for (a, b), v in arc.items()) <= int(math.floor(max_length * scale)))
    m.maximize(sum(int(gain[k - 1]) * (1 - skip[k]) for k in range(1, n1)))
    if hint is not None:
        seq = [0, *hint, 0]
        used = set(zip(seq[:-1], seq[1:])) if hint else set()
        for key, v in arc.items():
            m.add_hint(v, key in used)
        for k, v in skip.items():
            m.add_hint(v, (k not in hint) if k else not hint)
    solver = cp_model.CpSolver()
    if deterministic:
        solver.parameters.max_deterministic_time = float(time_limit_s)
    else:
        solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(workers)
    solver.parameters.linearization_level = 2  # the circuit's LP relaxation and cuts: the bound that proves OP20 optimal
    solver.parameters.random_seed = int(seed)
    status = solver.solve(m)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactOPResult([], name, float("inf"))
    nxt = {a: b for (a, b), v in arc.items() if solver.boolean_value(v)}
    tour, cur = [], nxt.get(0, 0)
    while cur != 0:
        tour.append(cur)
        cur = nxt[cur]
    return ExactOPResult(tour, name, float(solver.best_objective_bound) / prize_scale)

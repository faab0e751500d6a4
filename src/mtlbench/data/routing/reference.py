"""Reference solutions by OR-tools routing (a real solver, not the model).

TSP and CVRP: one routing model per instance, arc costs the Euclidean distances scaled
to integers (``scale``), first solution PATH_CHEAPEST_ARC, then guided local search until
the per-instance time limit.  CVRP adds a capacity dimension (one vehicle per route, at
most ``ceil(Σ demand / capacity) + spare_vehicles`` of them, all of capacity C).

OP: prize-collecting disjunctions -- every node may be dropped at a penalty -- and a
distance dimension capped at the maximum length.  The prizes (scaled by ``prize_scale``,
far above any tour length, so that the length only breaks ties) enter either as the drop
penalties (``op_objective: penalty``) or, by default, on the arcs (``arc_prize``: arc
i -> j costs prize_scale (1 - p_j) + length and every drop prize_scale, the same optimum);
:data:`OP_OBJECTIVE` says why.  The
cap uses distances rounded *up* and a capacity rounded *down*, so every tour the solver
accepts keeps the true (float) cap.  The objective reported is the prize of the tour, in
float64 from the instance (:func:`mtlbench.data.routing.solutions.objective`).

OP, second stage (``op_exact_time_limit_s`` > 0, the default of :func:`default_settings`):
guided local search alone stops well short of the optimum at short limits (first instances
of the evaluation set, seed 1234, GLS at 0.2 s: OP20 (32 instances) 4.717 mean prize against
5.094 proven optimal; OP50 (8) 13.55 against 16.06),
so its tour is handed as a hint to CP-SAT on the OP's exact model (:mod:`.op_exact`),
which proves it optimal or improves it within the limit; the better tour is kept, and the
result records each instance's CP-SAT status and upper bound (``exact_status``,
``exact_bound``) and, in ``settings``, how many were proven optimal and the reference's
largest gap to its bound.

The settings travel with the output (:func:`solve`): ``settings`` of the result.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from .instances import get_task
from .solutions import objective, points, violations


@dataclass(frozen=True)
class ReferenceSettings:
    time_limit_s: float = 1.0  # per instance, guided local search runs until it
    scale: int = 10_000  # distances as integers: round(scale * d)
    prize_scale: int = 10_000_000  # OP drop penalty per unit prize (>> any tour's scaled length)
    spare_vehicles: int = 2  # CVRP: vehicles beyond the ceil(total demand / capacity) lower bound
    first_solution: str = "PATH_CHEAPEST_ARC"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    # local-search operators switched on beyond OR-tools' defaults, e.g. "use_path_lns"
    extra_operators: tuple[str, ...] = ()
    # OP objective: ``penalty`` -- arc cost the length, dropping node j costs its prize;
    # ``arc_prize`` -- the same optimum written so that the arcs carry the prizes: arc i -> j
    # costs prize_scale (1 - p_j) + length, dropping any node costs prize_scale (p_max = 1),
    # i.e. prize_scale (n - Σ_visited p_j) + length
    op_objective: str = "penalty"
    gls_lambda: float = 0.1  # guided_local_search_lambda_coefficient (OR-tools' default 0.1)
    # OP: CP-SAT on the exact model after guided local search, this many deterministic
    # seconds per instance (0: off); op_exact_workers CP-SAT workers (1: the result does
    # not depend on the machine's load)
    op_exact_time_limit_s: float = 0.0
    op_exact_workers: int = 1


# Measured (mean prize of the eval set's first instances, GLS): OP20, 16 instances, 0.3 s:
# penalty 4.07, penalty + swap-active/insertion operators 4.94, arc_prize 4.99; OP50, 8
# instances, 0.5 s: penalty 11.71, penalty + those operators 11.20, arc_prize 13.55 (0.2 s:
# 13.55, 1 s: 14.15, 2 s: 14.35).  With ``penalty`` the arcs carry no prize, so guided local
# search, which penalises arcs by their cost, has nothing to steer by.
OP_OBJECTIVE = "arc_prize"
# GLS lambda for OP (arc_prize, 0.3 s): OP20 first 16 instances 0.1: 4.92, 0.5: 5.17, 1.0:
# 5.16; first 32: 4.53 / 4.65 / 4.73; OP50 8 instances at 0.5 s: 13.55 / 13.57 / 13.39 (2.0:
# 13.86), no clear effect
OP_GLS_LAMBDA = 1.0
# CP-SAT deterministic seconds per OP instance (op_exact), measured on the first instances of
# the evaluation set (seed 1234) after 0.2 s of GLS, one worker: OP20, 32 instances, at 5 s:
# all 32 proven optimal, 0.8 s wall each on average (2.3 s at most); OP50, 8 instances, at
# 5 s: 3 proven, the reference 3.9 % below its bound on average (10.7 % at most); at 20 s:
# all 8 proven optimal, 10 s wall each on average (17 s at most).  configs/routing.yaml's
# 64 instances at 20 s: OP20 64 proven (0.8 s each), OP50 55 proven (10.7 s each; 0.86 %
# below the bound on average, 10.1 % at most)
OP_EXACT_TIME_LIMIT_S = 20.0


def default_settings(task: str, time_limit_s: float = 1.0, op_exact_time_limit_s: float = OP_EXACT_TIME_LIMIT_S
                     ) -> ReferenceSettings:
    """The reference settings of ``task``: GLS with OR-tools' default operators; OP with the
    :data:`OP_OBJECTIVE` form, :data:`OP_GLS_LAMBDA` and the CP-SAT stage."""
    if get_task(task).problem == "op":
        return ReferenceSettings(time_limit_s=time_limit_s, op_objective=OP_OBJECTIVE, gls_lambda=OP_GLS_LAMBDA,
                                 op_exact_time_limit_s=op_exact_time_limit_s)
    return ReferenceSettings(time_limit_s=time_limit_s)


def _int_distances(pts: np.ndarray, scale: int, rounding) -> list[list[int]]:
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1) * scale
    return rounding(d).astype(np.int64).tolist()


def _search_parameters(settings: ReferenceSettings):
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    from ortools.util import optional_boolean_pb2

    params = pywrapcp.DefaultRoutingSearchParameters()
    for name in settings.extra_operators:
        setattr(params.local_search_operators, name, optional_boolean_pb2.BOOL_TRUE)
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, settings.first_solution)
    params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, settings.metaheuristic)
    params.guided_local_search_lambda_coefficient = settings.gls_lambda
    params.time_limit.FromMilliseconds(int(round(settings.time_limit_s * 1000)))
    return params


def _routes(manager, routing, solution, vehicles: int, keep_start: bool) -> list[list[int]]:
    """Each vehicle's node sequence; its start (the depot, node 0) kept only when
    ``keep_start`` (TSP, where node 0 is a city)."""
    out = []
    for v in range(vehicles):
        idx, route = routing.Start(v), []
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            if node != 0 or route or keep_start:
                route.append(node)
            idx = solution.Value(routing.NextVar(idx))
        out.append(route)
    return out


def solve_one(task: str, inst: dict[str, np.ndarray], i: int, settings: ReferenceSettings) -> list[int] | None:
    """The solver's solution of instance i in the format of :mod:`.solutions`; None when
    it found none in the time limit."""
    from ortools.constraint_solver import pywrapcp

    spec = get_task(task)
    pts = points(task, inst, i)
    cost = _int_distances(pts, settings.scale, np.rint)
    arc_prize = spec.problem == "op" and settings.op_objective == "arc_prize"
    if arc_prize:
        into = [0] + [int(round((1.0 - float(p)) * settings.prize_scale)) for p in inst["prize"][i]]
        cost = [[c + into[j] for j, c in enumerate(row)] for row in cost]
    if spec.problem == "cvrp":
        demand = [0] + [int(d) for d in inst["demand"][i]]
        vehicles = min(spec.n, math.ceil(sum(demand) / spec.capacity) + settings.spare_vehicles)
    else:
        vehicles = 1
    manager = pywrapcp.RoutingIndexManager(len(pts), vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)

    def arc(a, b):
        return cost[manager.IndexToNode(a)][manager.IndexToNode(b)]

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(arc))
    if spec.problem == "cvrp":
        load = routing.RegisterUnaryTransitCallback(lambda a: demand[manager.IndexToNode(a)])
        routing.AddDimensionWithVehicleCapacity(load, 0, [spec.capacity] * vehicles, True, "load")
    elif spec.problem == "op":
        up = _int_distances(pts, settings.scale, np.ceil)
        dist = routing.RegisterTransitCallback(lambda a, b: up[manager.IndexToNode(a)][manager.IndexToNode(b)])
        routing.AddDimension(dist, 0, int(math.floor(spec.max_length * settings.scale)), True, "length")
        for node in range(1, len(pts)):
            prize = 1.0 if arc_prize else float(inst["prize"][i][node - 1])
            penalty = int(round(prize * settings.prize_scale))
            routing.AddDisjunction([manager.NodeToIndex(node)], penalty)
    solution = routing.SolveWithParameters(_search_parameters(settings))
    if solution is None:
        return None
    routes = _routes(manager, routing, solution, vehicles, keep_start=spec.problem == "tsp")
    if spec.problem == "cvrp":
        return [v for r in routes if r for v in [*r, 0]][:-1] if any(routes) else []
    return routes[0]


def solve(task: str, inst: dict[str, np.ndarray], settings: ReferenceSettings | None = None) -> dict:
    """Reference solutions of every instance: ``objective`` (B,) float64 (NaN where none was
    found), ``solutions`` (lists), ``feasible`` (B,) bool (checked by
    :func:`~mtlbench.data.routing.solutions.violations`), ``seconds`` (B,), ``settings``."""
    settings = settings or default_settings(task)
    if get_task(task).problem == "cvrp" and settings.spare_vehicles < 0:
        raise ValueError("spare_vehicles must be >= 0")
    if settings.op_objective not in ("penalty", "arc_prize"):
        raise ValueError(f"op_objective must be 'penalty' or 'arc_prize', got {settings.op_objective!r}")
    spec = get_task(task)
    exact = spec.problem == "op" and settings.op_exact_time_limit_s > 0
    b = len(inst["xy"])
    obj, feasible, seconds, sols = np.full(b, np.nan), np.zeros(b, dtype=bool), np.zeros(b), []
    status, bound = [], np.full(b, np.nan)
    for i in range(b):
        t0 = time.perf_counter()
        seq = solve_one(task, inst, i, settings)
        if seq is None and spec.problem == "cvrp":
            # the vehicle bound was too tight: one vehicle per customer always suffices
            seq = solve_one(task, inst, i, ReferenceSettings(**{**asdict(settings), "spare_vehicles": spec.n}))
        if exact:
            seq, st, bound[i] = _improve_op(task, inst, i, seq, settings)
            status.append(st)
        seconds[i] = time.perf_counter() - t0
        sols.append(seq)
        if seq is not None:
            feasible[i] = not violations(task, inst, i, seq)
            obj[i] = objective(task, inst, i, seq)
    out = {"objective": obj, "solutions": sols, "feasible": feasible, "seconds": seconds,
           "settings": {"solver": "ortools routing" + (" + cp-sat" if exact else ""), "ortools": _ortools_version(),
                        **asdict(settings), "extra_operators": list(settings.extra_operators)}}
    if exact:
        out["exact_status"], out["exact_bound"] = status, bound
        gap = (bound - obj) / bound * 100
        out["settings"]["exact_summary"] = {
            "optimal": sum(s == "OPTIMAL" for s in status), "instances": b,
            "max_gap_to_bound_percent": float(np.nanmax(gap)) if np.isfinite(gap).any() else None,
            "mean_gap_to_bound_percent": float(np.nanmean(gap)) if np.isfinite(gap).any() else None}
    return out


def _improve_op(task: str, inst: dict[str, np.ndarray], i: int, seq: list[int] | None,
                settings: ReferenceSettings) -> tuple[list[int] | None, str, float]:
    """CP-SAT on OP instance i from the GLS tour ``seq`` (:mod:`.op_exact`): (the better of
    the two tours, CP-SAT's status, its upper bound on the prize)."""
    from .op_exact import solve_op_exact

    res = solve_op_exact(points(task, inst, i), inst["prize"][i], get_task(task).max_length,
                         settings.op_exact_time_limit_s, workers=settings.op_exact_workers, hint=seq)
    if res.status in ("OPTIMAL", "FEASIBLE") and not violations(task, inst, i, res.tour) and (
            seq is None or objective(task, inst, i, res.tour) > objective(task, inst, i, seq)):
        seq = res.tour
    return seq, res.status, res.bound


def _ortools_version() -> str:
    import ortools

    return ortools.__version__

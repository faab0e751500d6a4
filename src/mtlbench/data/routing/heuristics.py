"""Baseline solutions: random tours and nearest neighbour (the floors a learned model
must beat; Kool et al. 2019, Table 1 lists both for TSP)."""

from __future__ import annotations

import numpy as np

from .instances import get_task
from .solutions import points


def random_tours(task: str, inst: dict[str, np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """TSP only: a uniformly random permutation per instance."""
    if get_task(task).problem != "tsp":
        raise ValueError(f"random_tours: TSP tasks only, got {task}")
    return [rng.permutation(get_task(task).n) for _ in range(len(inst["xy"]))]


def nearest_neighbour_tour(pts: np.ndarray, start: int = 0) -> np.ndarray:
    """Greedy TSP tour: from ``start``, always to the closest unvisited node."""
    n = len(pts)
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    tour, seen = [start], np.zeros(n, dtype=bool)
    seen[start] = True
    for _ in range(n - 1):
        row = np.where(seen, np.inf, d[tour[-1]])
        nxt = int(np.argmin(row))
        tour.append(nxt)
        seen[nxt] = True
    return np.asarray(tour)


def nearest_neighbour_tours(task: str, inst: dict[str, np.ndarray], start: int = 0) -> list[np.ndarray]:
    """TSP only: the nearest-neighbour tour of every instance from node ``start``."""
    if get_task(task).problem != "tsp":
        raise ValueError(f"nearest_neighbour_tours: TSP tasks only, got {task}")
    return [nearest_neighbour_tour(points(task, inst, i), start) for i in range(len(inst["xy"]))]

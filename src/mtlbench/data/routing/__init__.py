"""Routing tasks (the task-grouping paper's combinatorial-optimisation domain):
seeded instance generators (:mod:`.instances`), solution objectives and feasibility
(:mod:`.solutions`), simple baselines (:mod:`.heuristics`) and the OR-tools reference
solver (:mod:`.reference`)."""

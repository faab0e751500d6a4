"""Task grouping: a mathematical program (CP-SAT), the exhaustive certificate, baselines
and the evaluation of groupings by training them.  Gain convention: ``gain[i, t]`` is
the gain of task t from task i (see :mod:`mtlbench.grouping.base`).

The names below are imported on first use, so a command that only names the solvers
(``mtlbench --help``, the configuration check) does not pay for importing OR-tools.
"""

import importlib

_WHERE = {"GroupingResult": "base", "InfeasibleError": "base", "partition_value": "base",
          "write_grouping": "base", "exhaustive_partition": "exhaustive", "choose_groups": "mip",
          "partition_tasks": "mip"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

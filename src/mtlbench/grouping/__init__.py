"""Task grouping: a mathematical program (CP-SAT), the exhaustive certificate, baselines
and the evaluation of groupings by training them.  Gain convention: ``gain[i, t]`` is
the gain of task t from task i (see :mod:`mtlbench.grouping.base`)."""

from .base import GroupingResult, InfeasibleError, partition_value, write_grouping
from .exhaustive import exhaustive_partition
from .mip import choose_groups, partition_tasks

__all__ = ["GroupingResult", "InfeasibleError", "choose_groups", "exhaustive_partition",
           "partition_tasks", "partition_value", "write_grouping"]

"""mtlbench: a reproducible benchmark of task relatedness in multi-task learning.

Stages (each a CLI subcommand, each writing files with a documented schema):
download -> features -> splits -> train -> tables.  See README.md and DESIGN.md.
"""

__version__ = "0.1.0"

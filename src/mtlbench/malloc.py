"""glibc's heap kept by a job instead of handed back to the kernel after every large free.

A training step allocates and frees tensors of a few to tens of MiB.  With glibc's default
(dynamic) thresholds the heap top is trimmed back to the kernel as soon as such tensors are
freed, and the next step faults the same pages in again: a ``vstl`` train_seeds job
(digits, 10 %, 3 seeds) took 6.9 million minor page faults and spent 12 of its 43
CPU-seconds in the kernel (docs/design.md, "Measured facts").  :func:`tune_malloc`
sets, through ``mallopt(3)`` at the start of every ``mtlbench`` command:

- ``M_MMAP_THRESHOLD`` 32 MiB (glibc's largest on 64-bit): blocks below it come from the
  heap, not from a fresh ``mmap`` each time;
- ``M_TRIM_THRESHOLD`` 1 GiB: free memory at the heap top is kept up to that much;
- ``M_TOP_PAD`` 256 MiB: the heap grows in large steps.

Only where memory goes changes, not what is computed: torch aligns its CPU tensors itself
(64 bytes), so the numbers are the same bit for bit.  A job holds on to at most about
1 GiB it has freed.  Nothing happens on a C library other than glibc (macOS, musl), when
``MTLBENCH_MALLOC=default``, or when the user set any of glibc's own ``MALLOC_*_``
variables (which glibc has already applied).  ``MTLBENCH_MALLOC`` unset or empty means
``tuned``; any other value is a :class:`~mtlbench.errors.ConfigError` naming the allowed
ones (checked by every command and, before any job starts, by the workflow).
"""

from __future__ import annotations

import ctypes
import os

from .errors import ConfigError

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # <malloc.h>
SETTINGS = {M_MMAP_THRESHOLD: 32 * 2**20, M_TRIM_THRESHOLD: 2**30, M_TOP_PAD: 256 * 2**20}
GLIBC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
MODES = ("tuned", "default")


def malloc_mode(environ=os.environ) -> str:
    """``MTLBENCH_MALLOC``: one of :data:`MODES` (unset or empty: ``tuned``)."""
    mode = environ.get("MTLBENCH_MALLOC") or "tuned"
    if mode not in MODES:
        raise ConfigError(f"MTLBENCH_MALLOC (environment variable): {mode!r} is not one of "
                          f"{', '.join(map(repr, MODES))}")
    return mode


def tune_malloc(environ=os.environ) -> bool:
    """Apply :data:`SETTINGS` with ``mallopt``; True when all three were accepted.

    Raises :class:`ConfigError` for an unknown ``MTLBENCH_MALLOC`` (:func:`malloc_mode`)."""
    if malloc_mode(environ) == "default" or any(v in environ for v in GLIBC_VARIABLES):
        return False
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        mallopt = ctypes.CDLL(None).mallopt  # the running process's C library
    except (ValueError, OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all([mallopt(param, value) == 1 for param, value in SETTINGS.items()])

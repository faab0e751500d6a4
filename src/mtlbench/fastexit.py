"""Ending a finished ``mtlbench`` command without the interpreter's teardown.

Once ``torch`` is imported, the interpreter's own shutdown (every module torn down, every
object freed one by one) costs about half a CPU-second or more per process (measured in
docs/design.md), and the default pipeline runs about a hundred such processes.  When a
command has finished, its outputs are written and closed (atomically, mtlbench.io) and its
locks released, so the teardown has nothing left to do: :func:`exit_now` flushes the
output streams and ``logging``, then ends the process with ``os._exit``.

It takes the ordinary exit instead whenever that would still do something: a thread the
interpreter would wait for (a non-daemon thread, e.g. an executor not shut down), a live
``multiprocessing`` child, or a profiler or tracer (``python -m cProfile``, coverage) that
writes its report at exit.
"""

from __future__ import annotations

import os
import sys


def ordinary_exit_needed() -> str | None:
    """Why the ordinary exit must run (a short reason), or None when nothing is left for it."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return "a profiler or tracer is active"
    threading = sys.modules.get("threading")
    if threading is not None:
        main = threading.main_thread()
        if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
            return "a non-daemon thread is running"
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.active_children():
        return "a multiprocessing child is running"
    return None


def exit_now(code: int) -> None:
    """End the process with exit status ``code``: flush and ``os._exit`` when
    :func:`ordinary_exit_needed` finds nothing left to do, else ``sys.exit``."""
    if ordinary_exit_needed() is not None:
        sys.exit(code)
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be written
            pass
    os._exit(code)

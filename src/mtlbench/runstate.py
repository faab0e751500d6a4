"""State a killed Snakemake run leaves behind, found and cleared before the next one.

After ``kill -9`` of snakemake, ``.snakemake/locks/`` still holds its lock files and the
next call stops with ``LockException`` until ``snakemake --unlock``.  The Snakefile calls
:func:`clear_stale_lock` first: when no other snakemake process of this machine works in
the directory, the locks are stale, so they are removed and the run says so in one line.
(Incomplete outputs are re-run by ``rerun-incomplete`` in ``profiles/default``.)
"""

from __future__ import annotations

import os
from pathlib import Path


def _ancestors(pid: int) -> set[int]:
    out = set()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # field 4, after the command name
    return out


def other_snakemake_processes(workdir: str | os.PathLike) -> list[int] | None:
    """Pids of snakemake processes of this machine, other than this one and its
    ancestors, whose working directory is ``workdir``; None where /proc is missing."""
    proc = Path("/proc")
    if not (proc / "self").exists():
        return None
    workdir = os.path.realpath(workdir)
    mine = _ancestors(os.getpid())
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            if not any(b"snakemake" in os.path.basename(c) for c in cmd[:3]):
                continue
            if os.path.realpath(entry / "cwd") == workdir:
                found.append(int(entry.name))
        except OSError:  # gone, or another user's
            continue
    return found


def clear_stale_lock(workdir: str | os.PathLike = ".") -> str | None:
    """Remove ``.snakemake/locks`` under ``workdir`` when no other snakemake process of this
    machine runs there; return the one-line explanation, or None when nothing was stale.

    Locks of a run on another machine (a shared file system) cannot be told from stale
    ones here; such a run is left to Snakemake's own LockException when /proc is missing.
    """
    locks = Path(workdir) / ".snakemake" / "locks"
    files = sorted(locks.glob("*.lock")) if locks.is_dir() else []
    if not files:
        return None
    others = other_snakemake_processes(workdir)
    if others is None or others:
        return None
    for f in files:
        f.unlink(missing_ok=True)
    return (f"mtlbench: removed a stale Snakemake lock ({len(files)} file(s) in {locks}): no other snakemake "
            "process runs in this directory, so an interrupted run left it; resuming")

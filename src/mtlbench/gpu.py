"""One GPU per training job.

Snakemake counts GPUs (``resources: gpu=1`` against ``--resources gpu=N``) but does not
say which device a job gets.  :func:`claim_gpu` takes a per-GPU file lock and sets
``CUDA_VISIBLE_DEVICES`` to that GPU alone; it must run before CUDA is initialised,
so the CLI calls it before importing anything that touches torch.cuda.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout


def visible_gpus() -> list[str]:
    """GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi -L``."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


@contextlib.contextmanager
def claim_gpu(lock_dir: str | os.PathLike, gpus: list[str] | None = None, poll_s: float = 1.0,
              timeout_s: float | None = None) -> Iterator[str | None]:
    """Hold a lock on one free GPU and expose only it; yields its id (None without GPUs)."""
    gpus = visible_gpus() if gpus is None else gpus
    if not gpus:
        yield None
        return
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    while True:
        for gid in gpus:
            # per host: on a cluster the lock folder may be shared between nodes
            lock = FileLock(str(lock_dir / f"gpu-{socket.gethostname()}-{gid}.lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            previous = os.environ.get("CUDA_VISIBLE_DEVICES")
            os.environ["CUDA_VISIBLE_DEVICES"] = gid
            try:
                yield gid
            finally:
                lock.release()
                if previous is None:
                    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                else:
                    os.environ["CUDA_VISIBLE_DEVICES"] = previous
            return
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"no free GPU among {gpus} after {timeout_s} s (locks in {lock_dir})")
        time.sleep(poll_s)

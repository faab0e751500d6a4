"""A killed run's state: stale Snakemake locks and stale temporary files (issue 18, items 6-7)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import pytest

from mtlbench.io import atomic_path, temporary_name, write_json
from mtlbench.runstate import clear_stale_lock

ROOT = Path(__file__).resolve().parents[1]


def _locks(d: Path) -> Path:
    locks = d / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("data/a\n")
    (locks / "0.output.lock").write_text("results/b\n")
    return locks


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_stale_lock_is_removed_with_one_line(tmp_path):
    locks = _locks(tmp_path)
    message = clear_stale_lock(tmp_path)
    assert message is not None and "\n" not in message and "stale Snakemake lock" in message
    assert not list(locks.glob("*.lock"))
    assert clear_stale_lock(tmp_path) is None  # nothing left to clear


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_lock_of_a_running_snakemake_is_kept(tmp_path):
    locks = _locks(tmp_path)
    fake = tmp_path / "bin" / "snakemake"  # a process named snakemake working in the directory
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nsleep 60\n")
    fake.chmod(0o755)
    p = subprocess.Popen([str(fake)], cwd=tmp_path)
    try:
        time.sleep(0.3)
        assert clear_stale_lock(tmp_path) is None
        assert len(list(locks.glob("*.lock"))) == 2
    finally:
        p.kill()
        p.wait()


def test_stale_temporaries_are_removed_when_the_output_is_written(tmp_path):
    out = tmp_path / "features" / "pixels.parquet"
    out.parent.mkdir()
    stale = temporary_name(out, pid=4_000_000)  # what a killed job left
    stale.write_bytes(b"half")
    other = out.with_name(".other.parquet.4000000.tmp")  # another output's: not ours
    other.write_bytes(b"x")
    with atomic_path(out) as tmp:
        assert not stale.exists()
        tmp.write_bytes(b"done")
    assert out.read_bytes() == b"done" and other.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == [".other.parquet.4000000.tmp", "pixels.parquet"]


def test_stale_temporaries_are_removed_at_job_start(tmp_path):
    """`mtlbench ... --out X` removes X's stale temporaries before it starts (even if it then fails)."""
    from mtlbench.cli import main

    out = tmp_path / "r.json"
    stale = temporary_name(out, pid=4_000_001)
    stale.write_text("{")
    with contextlib.suppress(Exception):  # the run file is missing: the job fails after its start
        main(["metrics", "--runs", str(tmp_path / "missing.json"), "--out", str(out)])
    assert not stale.exists()
    write_json(out, {"a": 1})
    assert out.exists()


def test_dvc_ignores_temporaries():
    import pathspec

    patterns = (ROOT / ".dvcignore").read_text().splitlines()
    spec = pathspec.PathSpec.from_lines("gitignore", patterns)
    assert spec.match_file("data/features/digits/.pixels.parquet.12345.tmp")
    assert not spec.match_file("data/features/digits/pixels.parquet")
    assert "*.tmp" in (ROOT / ".gitignore").read_text().splitlines()

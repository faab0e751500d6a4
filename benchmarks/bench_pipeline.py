"""The whole pipeline before and after a change, side by side in one run, and the no-op re-run.

For each revision (``--baseline-rev``, e.g. the commit before a speed change, then
``--rev``, default the working tree) it makes a fresh copy of the repository (``git
worktree``-free: ``git archive`` of the commit, or the working tree's tracked files)
in a temporary folder, so results/ here is untouched, and runs what ``make run`` runs
there:

    snakemake --cores N --resources gpu=<mtlbench gpu-slots>  [--configfile F ...]

with this Python's environment (the copy's ``src/`` first on PYTHONPATH, so its rules
call its own library).  It records per revision:

- the wall time and the CPU-seconds (user + system of every process the run started,
  from ``getrusage(RUSAGE_CHILDREN)``) and the job count ("N of N steps");
- the CPU-seconds and wall time per rule and per stage (:func:`stage_of`), from the
  console log's jobs (their rule, log and ``benchmark:`` lines, their time stamps).  A
  job's CPU-seconds are its own: the copy's ``mtlbench`` shim appends the user + system
  time of the command and of what it waited for (bash's ``times``) to ``<job log>.cpu``
  beside the job's log, so a revision without ``benchmark:`` files is counted the same
  way.  Snakemake's own ``cpu_time`` column, where there is one, is kept as
  ``cpu_s_sampled``: Snakemake samples it every 0.5 s for the first 15 s of a job, then
  every 30 s, and keeps the last sample, so a job of 15-45 s is counted as about 15 s
  (an amtnn_w train job here: 14.9 of 37.8 CPU-seconds).  What the jobs' CPU-seconds
  leave of the total is Snakemake's own work (``snakemake_cpu_s``; exact when no rule
  has ``jobs_without_cpu``);
- then, for the last revision, the no-op re-run: ``snakemake -n`` and ``snakemake``
  again, ``--repeats`` times each (median, min, max), and the start-up costs (median):
  ``mtlbench train --help``, ``import torch``, ``import torch, torch._dynamo``;
- whether the two revisions' outputs agree: every table under results/tables and every
  run JSON under results/runs byte for byte, the grouping tables' solver wall time
  (``solve_s``, ``solve (s)``) and the run JSONs' ``wall_time_s`` and
  ``device.cpu_capability`` left out.

It prints the ratios (baseline / rev, in all and per stage) and writes
results/benchmarks/pipeline.json.  Targets (on the 2-core machine): >= 3x fewer
CPU-seconds and >= 3x less wall time for the default run, the no-op re-run under 2 s.
The default run takes 15-45 min per revision there; ``--configfile
configs/quick.yaml`` measures the reduced run instead.  ``--env NAME=VALUE`` (and
``--baseline-env``) sets a variable for one side's runs, so that with the same commit on
both sides the ratio is the setting's effect (``--baseline-rev HEAD --env
ATEN_CPU_CAPABILITY=avx2``: torch's CPU kernels for another instruction set, which the run
JSONs record as ``device.cpu_capability`` and the comparison leaves out).

    python benchmarks/bench_pipeline.py --baseline-rev 903c748 [--rev HEAD] [--cores 2]
        [--repeats 5] [--configfile configs/quick.yaml] [--keep DIR]
        [--env NAME=VALUE] [--baseline-env NAME=VALUE]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = re.compile(r"(\d+) of (\d+) steps \(100%\) done")


def copy_revision(rev: str | None, dest: Path) -> str:
    """The tracked files of ``rev`` (None: the working tree, uncommitted edits included) into dest."""
    dest.mkdir(parents=True)
    if rev is None:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        for name in filter(None, files.decode().split("\0")):
            src = ROOT / name
            if src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                (dest / name).write_bytes(src.read_bytes())
        return "working tree"
    data = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


# A job's stdout is its log (every rule ends in "> {log} 2>&1").  `times` (a builtin, so
# no subshell whose counts start at zero) writes the shell's own user and system time,
# then those of the processes it waited for: mtlbench with its own children, and the
# readlink (about a millisecond).
SHIM = """#!/usr/bin/env bash
log=$(readlink "/proc/$$/fd/1" 2>/dev/null) || log=
"{python}" -m mtlbench "$@"
rc=$?
case "$log" in */logs/*.log) times >> "$log.cpu" ;; esac
exit $rc
"""
TIMES = re.compile(r"(\d+)m([\d.]+)s")


def env_for(copy: Path, extra: dict[str, str] | None = None) -> dict:
    """The environment of one revision's run: its own src first on PYTHONPATH, and an
    ``mtlbench`` command that runs that revision's ``python -m mtlbench`` (the installed
    console script names the entry point of the checkout it was installed from, which an
    older revision may not have) and records a job's CPU-seconds beside its log (SHIM);
    ``extra`` (``--env`` / ``--baseline-env``) set on top."""
    bindir = copy.parent / f"{copy.name}-bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / "mtlbench"
    shim.write_text(SHIM.format(python=sys.executable))
    shim.chmod(0o755)
    path = os.pathsep.join([str(bindir), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path, PYTHONPATH=str(copy / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
                **(extra or {}))


def env_settings(pairs: list[str], option: str) -> dict[str, str]:
    """``NAME=VALUE`` arguments of ``option`` as a dict; anything else stops with its name."""
    out = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            sys.exit(f"{option}: {pair!r} is not NAME=VALUE (e.g. {option} ATEN_CPU_CAPABILITY=avx2)")
        out[name] = value
    return out


def run(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """Wall seconds, CPU-seconds of every process it started, and the output, of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} in {cwd} failed:\n{(p.stdout + p.stderr)[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stdout + p.stderr


TASK_SET_RULES = re.compile(r"train_task_set|task_sets_\w+_\d+|chosen_task_sets")  # old and new rule names


def log_cpu_s(log: Path) -> float | None:
    """The CPU-seconds SHIM recorded for the job writing ``log`` (in ``<log>.cpu``): every
    user and system time in it, the shell's and its children's, of every run of the job;
    None without a record."""
    f = log.with_name(log.name + ".cpu")
    if not f.is_file():
        return None
    return sum(60 * int(m) + float(s) for m, s in TIMES.findall(f.read_text()))


def sampled_cpu_s(benchmark: Path) -> float | None:
    """Snakemake's ``cpu_time`` in a job's ``benchmark:`` file (its last sample), if any."""
    rows = list(csv.DictReader(benchmark.open(), delimiter="\t")) if benchmark.is_file() else []
    return float(rows[-1].get("cpu_time") or 0) if rows else None


def stage_of(rule: str, log: str | None) -> str:
    """The stage a job belongs to, the same for the old and the new rule names: "task sets"
    for the rules that train task sets (one set per job before, chunks now), else the log's
    folder under logs/ (train, similarity, grouping, ...; a log at the top: its stem)."""
    if TASK_SET_RULES.fullmatch(rule):
        return "task sets"
    if not log:
        return rule
    parts = Path(log).parts
    return parts[1] if len(parts) > 2 else Path(log).stem


def jobs_from_log(text: str) -> list[dict]:
    """Every job of a Snakemake console log that runs something: rule, wall seconds (the time
    stamps before its start, "rule X: ... jobid: N", and its "Finished jobid: N"), its log
    files and its benchmark file (the job block's ``log:`` and ``benchmark:`` lines).  A
    job with neither (the target rule ``all``) is left out."""
    stamp, block, start, jobs = None, None, {}, []
    for line in text.splitlines():
        if m := re.match(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$", line):
            stamp, block = dt.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y"), None
        elif m := re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line):
            block = {"rule": m.group(1), "t0": stamp, "logs": [], "benchmark": None}
        elif block is not None and (m := re.match(r"^\s+(log|benchmark|jobid): (.+)$", line)):
            key, value = m.groups()
            if key == "jobid":
                start[value] = block  # the fields after the jobid line still belong to it
            elif key == "log":
                block["logs"] = value.split(", ")
            else:
                block["benchmark"] = value
        elif (m := re.match(r"^Finished jobid: (\d+)", line)) and m.group(1) in start:
            job = start.pop(m.group(1))
            job["wall_s"] = (stamp - job.pop("t0")).total_seconds()
            if job["logs"] or job["benchmark"]:
                jobs.append(job)
    return jobs


def per_rule(text: str, copy: Path) -> dict[str, dict]:
    """Rule -> stage, jobs, wall seconds and CPU-seconds, from the console log's jobs
    (:func:`jobs_from_log`) and the records in ``copy``: a job's CPU-seconds are its own
    (:func:`log_cpu_s` of its logs); ``jobs_without_cpu`` counts those without a record,
    whose Snakemake sample stands in where the revision writes ``benchmark:`` files;
    ``cpu_s_sampled`` sums those samples (present only where there are such files)."""
    out: dict[str, dict] = {}
    for job in jobs_from_log(text):
        log = job["logs"][0] if job["logs"] else None
        v = out.setdefault(job["rule"], {"stage": stage_of(job["rule"], log), "jobs": 0, "wall_s": 0.0,
                                         "cpu_s": 0.0, "jobs_without_cpu": 0})
        own = [c for c in (log_cpu_s(copy / f) for f in job["logs"]) if c is not None]
        sampled = sampled_cpu_s(copy / job["benchmark"]) if job["benchmark"] else None
        v["jobs"] += 1
        v["wall_s"] += job["wall_s"]
        v["cpu_s"] += sum(own) if own else (sampled or 0.0)
        v["jobs_without_cpu"] += not own
        if sampled is not None:
            v["cpu_s_sampled"] = v.get("cpu_s_sampled", 0.0) + sampled
    return out


def per_stage(rules: dict[str, dict]) -> dict[str, dict]:
    """Stage -> jobs, wall seconds, CPU-seconds and jobs without a record, summed over its rules."""
    out: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0, "jobs_without_cpu": 0})
    for v in rules.values():
        for k in out[v["stage"]]:
            out[v["stage"]][k] += v[k]
    return dict(out)


def measure(rev: str | None, where: Path, cores: str, configfiles: list[str], extra: dict[str, str]) -> dict:
    label = " ".join([copy_revision(rev, where), *(f"{k}={v}" for k, v in extra.items())])
    env = env_for(where, extra)
    slots = subprocess.run(["mtlbench", "gpu-slots"], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    cmd = ["snakemake", "--cores", cores, "--resources", f"gpu={slots}"]
    for f in configfiles:
        cmd += ["--configfile", f]
    print(f"[{label}] {' '.join(cmd)} in {where} ...", flush=True)
    wall, cpu, text = run(cmd, where, env)
    steps = STEPS.findall(text)
    jobs = int(steps[-1][1]) if steps else None
    rules = per_rule(text, where)
    print(f"[{label}] {jobs} jobs, {wall:.0f} s wall, {cpu:.0f} CPU-s", flush=True)
    return {"revision": label, "env": extra, "command": cmd, "wall_s": wall, "cpu_s": cpu, "jobs": jobs, "per_rule": rules,
            "per_stage": per_stage(rules), "snakemake_cpu_s": cpu - sum(v["cpu_s"] for v in rules.values())}


def noop(where: Path, cores: str, configfiles: list[str], repeats: int, extra: dict[str, str]) -> dict:
    env = env_for(where, extra)
    cmd = ["snakemake", "--cores", cores] + [a for f in configfiles for a in ("--configfile", f)]
    dry = [run([*cmd, "-n"], where, env)[0] for _ in range(repeats)]
    again = []
    for _ in range(repeats):
        wall, _, text = run(cmd, where, env)
        if "Nothing to be done" not in text:
            sys.exit(f"the re-run in {where} was not a no-op:\n{text[-2000:]}")
        again.append(wall)
    stats = lambda v: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}  # noqa: E731
    return {"dry_run_s": stats(dry), "rerun_s": stats(again)}


def startup(where: Path, repeats: int, extra: dict[str, str]) -> dict:
    """Start-up costs, wall and CPU median of ``repeats``: ``mtlbench train --help`` (the CLI
    alone: it imports torch only in the commands that train) and, for scale, what a
    training job pays before its first step: ``import torch`` and ``torch._dynamo`` (which
    the first torch.optim optimiser imports)."""
    env = env_for(where, extra)
    cmds = {"mtlbench train --help": ["mtlbench", "train", "--help"],
            "import torch": [sys.executable, "-c", "import torch"],
            "import torch, torch._dynamo": [sys.executable, "-c", "import torch, torch._dynamo"]}
    out = {}
    for name, cmd in cmds.items():
        runs = [run(cmd, where, env)[:2] for _ in range(repeats)]
        out[name] = {"wall_s": statistics.median(w for w, _ in runs), "cpu_s": statistics.median(c for _, c in runs),
                     "n": repeats}
    return out


WALL_COLUMNS = {"solve_s", "solve (s)"}  # the grouping tables' solver wall time (csv, md)


def without_wall_columns(path: Path) -> bytes:
    """A table's bytes with the cells of its wall-time columns (WALL_COLUMNS) emptied: csv by
    header, markdown by the header row of each table; other formats as they are."""
    data = path.read_bytes()
    text = data.decode()
    if not any(name in text for name in WALL_COLUMNS):
        return data
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        drop = {i for i, name in enumerate(rows[0] if rows else []) if name in WALL_COLUMNS}
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([[c if i not in drop else "" for i, c in enumerate(r)]
                                                        for r in rows])
        return buf.getvalue().encode()
    if path.suffix == ".md":
        lines, drop = [], set()
        for line in text.split("\n"):
            cells = line.split("|")
            if not line.startswith("|"):
                drop = set()
            elif any(c.strip() in WALL_COLUMNS for c in cells):
                drop = {i for i, c in enumerate(cells) if c.strip() in WALL_COLUMNS}
            lines.append("|".join("" if i in drop else c for i, c in enumerate(cells)))
        return "\n".join(lines).encode()
    return data


def same_outputs(a: Path, b: Path) -> dict:
    """Tables byte for byte but for the grouping tables' solve-time column, run JSONs with
    ``wall_time_s`` and ``device.cpu_capability`` left out (``wall_time_scope`` is compared:
    it says how the seeds were trained, not how long)."""
    def runs(root: Path) -> dict:
        out = {}
        for f in sorted((root / "results" / "runs").rglob("*.json")):
            rec = json.loads(f.read_text())
            rec.pop("wall_time_s", None)
            rec.get("device", {}).pop("cpu_capability", None)  # where it ran, as --env may set
            out[str(f.relative_to(root))] = rec
        return out

    def tables(root: Path) -> dict:
        return {str(f.relative_to(root)): without_wall_columns(f)
                for f in sorted((root / "results" / "tables").rglob("*")) if f.is_file()}

    ra, rb, ta, tb = runs(a), runs(b), tables(a), tables(b)
    differ_runs = sorted(k for k in set(ra) | set(rb) if ra.get(k) != rb.get(k))
    differ_tables = sorted(k for k in set(ta) | set(tb) if ta.get(k) != tb.get(k))
    return {"runs_compared": len(set(ra) | set(rb)), "runs_differing": differ_runs,
            "tables_compared": len(set(ta) | set(tb)), "tables_differing": differ_tables}


def print_per_stage(result: dict) -> None:
    """CPU-seconds and jobs per stage for each revision (and baseline / rev), then per rule
    of the measured revision with Snakemake's sample beside its own figure."""
    sides = [result[k] for k in ("baseline", "rev") if k in result]
    none = {"cpu_s": 0.0, "jobs": 0}  # a stage one revision does not have
    rows = sorted(((st, [s["per_stage"].get(st, none) for s in sides]) for st in
                   {st for s in sides for st in s["per_stage"]}), key=lambda row: -row[1][-1]["cpu_s"])
    print("\nCPU-seconds (jobs) per stage, each job's own:")
    print(f"  {'':22s}" + "".join(f" {s['revision'][:18]:>18s}" for s in sides) + ("   ratio" if len(sides) == 2 else ""))
    rows.append(("snakemake itself", [{"cpu_s": s["snakemake_cpu_s"], "jobs": 0} for s in sides]))
    for st, vs in rows:
        cells = "".join(f" {v['cpu_s']:11.1f} ({v['jobs']:3d})" for v in vs)
        ratio = f" {vs[0]['cpu_s'] / vs[1]['cpu_s']:6.2f}x" if len(vs) == 2 and vs[1]["cpu_s"] > 0 else ""
        print(f"  {st:22s}{cells}{ratio}")
    rev = sides[-1]
    print(f"\nper rule ({rev['revision']}):")
    for rule, v in sorted(rev["per_rule"].items(), key=lambda kv: -kv[1]["cpu_s"]):
        sampled = f", Snakemake's sample {v['cpu_s_sampled']:.1f}" if "cpu_s_sampled" in v else ""
        missing = f", {v['jobs_without_cpu']} jobs without a record" if v["jobs_without_cpu"] else ""
        print(f"  {rule:26s} {v['jobs']:4d} jobs {v['cpu_s']:8.1f} CPU-s {v['wall_s']:8.1f} s wall "
              f"({v['cpu_s'] / v['jobs']:.1f} per job{sampled}{missing})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default=None, help="the revision measured (default: the working tree)")
    ap.add_argument("--baseline-rev", default=None, help="the revision to compare with, run first (e.g. the "
                    "commit before a speed change); none: only --rev and its no-op re-run")
    ap.add_argument("--cores", default="2")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--configfile", action="append", default=[], help="passed to snakemake (repeatable)")
    ap.add_argument("--keep", default=None, help="keep the copies (and their results) in this folder")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="set for --rev's runs (repeatable); with --baseline-rev the same commit, the "
                    "setting's effect, e.g. --env ATEN_CPU_CAPABILITY=avx2")
    ap.add_argument("--baseline-env", action="append", default=[], metavar="NAME=VALUE",
                    help="set for --baseline-rev's run (repeatable), e.g. MTLBENCH_MALLOC=default")
    ap.add_argument("--out", default=str(ROOT / "results/benchmarks/pipeline.json"))
    a = ap.parse_args()
    env, baseline_env = env_settings(a.env, "--env"), env_settings(a.baseline_env, "--baseline-env")

    with tempfile.TemporaryDirectory(prefix="mtlbench-bench-") as tmp:
        base = Path(a.keep) if a.keep else Path(tmp)
        result: dict = {"cores": a.cores, "configfiles": a.configfile}
        if a.baseline_rev:
            result["baseline"] = measure(a.baseline_rev, base / "baseline", a.cores, a.configfile, baseline_env)
        result["rev"] = measure(a.rev, base / "rev", a.cores, a.configfile, env)
        result["noop"] = noop(base / "rev", a.cores, a.configfile, a.repeats, env)
        result["noop_target_s"] = 2.0
        result["startup"] = startup(base / "rev", a.repeats, env)
        if a.baseline_rev:
            b, r = result["baseline"], result["rev"]
            result["ratios"] = {"wall": b["wall_s"] / r["wall_s"], "cpu": b["cpu_s"] / r["cpu_s"],
                                "jobs": (b["jobs"] or 0) / (r["jobs"] or 1)}
            result["ratio_targets"] = {"wall": 3.0, "cpu": 3.0}
            result["outputs"] = same_outputs(base / "baseline", base / "rev")

    print(f"\n{'':28s} {'wall s':>9s} {'CPU-s':>9s} {'jobs':>6s}")
    for side in ("baseline", "rev"):
        if side in result:
            s = result[side]
            print(f"{s['revision']:28s} {s['wall_s']:9.1f} {s['cpu_s']:9.1f} {s['jobs'] or 0:6d}")
    if "ratios" in result:
        r = result["ratios"]
        print(f"{'baseline / rev':28s} {r['wall']:8.2f}x {r['cpu']:8.2f}x {r['jobs']:5.2f}x  (targets: >= 3x)")
        o = result["outputs"]
        print(f"outputs: {o['tables_compared'] - len(o['tables_differing'])} of {o['tables_compared']} tables and "
              f"{o['runs_compared'] - len(o['runs_differing'])} of {o['runs_compared']} run JSONs (wall time "
              "aside) identical")
    n = result["noop"]
    print(f"no-op re-run: snakemake -n median {n['dry_run_s']['median']:.2f} s, snakemake median "
          f"{n['rerun_s']['median']:.2f} s (target < 2 s)")
    for name, v in result["startup"].items():
        print(f"start-up: {name}: median {v['wall_s']:.2f} s wall, {v['cpu_s']:.2f} CPU-s")
    print_per_stage(result)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{out}")


if __name__ == "__main__":
    main()

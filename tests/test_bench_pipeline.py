"""benchmarks/bench_pipeline.py: the output comparison (wall times left out, anything else
counted), each revision's own mtlbench, and the jobs' own CPU-seconds."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "benchmarks" / "bench_pipeline.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

MD = """Groupings on d: caption

| grouping | budget | status | solve (s) | groups |
|---|---|---|---:|---|
| mip | 2 | optimal | {solve} | a,b |
| tag | 2 | optimal | 0.10 | {groups} |
"""
CSV = 'grouping,budget,groups,mean_accuracy,solve_s\nmip,2,"a,b",{acc},{solve}\n'


def _tree(root: Path, solve: str, groups: str = "a", acc: str = "0.61", wall: float = 1.0, ce: float = 0.5):
    (root / "results/tables").mkdir(parents=True)
    (root / "results/runs/d/m").mkdir(parents=True)
    (root / "results/tables/grouping_d_B2.md").write_text(MD.format(solve=solve, groups=groups))
    (root / "results/tables/grouping_d_B2.csv").write_text(CSV.format(acc=acc, solve=solve))
    (root / "results/tables/d_accuracy.md").write_text("| method | acc |\n|---|---|\n| m | 61.0 |\n")
    run = {"wall_time_s": wall, "metrics": {"ce": ce}}
    (root / "results/runs/d/m/r0.1_s0.json").write_text(json.dumps(run))


def test_solve_times_and_wall_times_are_left_out(tmp_path):
    _tree(tmp_path / "a", solve="0.04", wall=1.0)
    _tree(tmp_path / "b", solve="60.12", wall=9.0)
    out = bench.same_outputs(tmp_path / "a", tmp_path / "b")
    assert out["tables_compared"] == 3 and out["runs_compared"] == 1
    assert out["tables_differing"] == [] and out["runs_differing"] == []


def test_a_changed_group_accuracy_or_metric_is_counted(tmp_path):
    _tree(tmp_path / "a", solve="0.04")
    _tree(tmp_path / "b", solve="0.04", groups="a,c", acc="0.62", ce=0.51)
    out = bench.same_outputs(tmp_path / "a", tmp_path / "b")
    assert out["tables_differing"] == ["results/tables/grouping_d_B2.csv", "results/tables/grouping_d_B2.md"]
    assert out["runs_differing"] == ["results/runs/d/m/r0.1_s0.json"]


def test_the_recorded_instruction_set_is_left_out_but_not_the_device(tmp_path):
    """A run under --env ATEN_CPU_CAPABILITY=avx2 records another cpu_capability; the
    comparison is of the numbers.  Another device still counts."""
    for side, cap, dev in (("a", "AVX512", "cpu"), ("b", "AVX2", "cpu"), ("c", "AVX2", "cuda")):
        _tree(tmp_path / side, solve="0.04")
        f = tmp_path / side / "results/runs/d/m/r0.1_s0.json"
        f.write_text(json.dumps({**json.loads(f.read_text()), "device": {"device": dev, "cpu_capability": cap}}))
    assert bench.same_outputs(tmp_path / "a", tmp_path / "b")["runs_differing"] == []
    assert bench.same_outputs(tmp_path / "a", tmp_path / "c")["runs_differing"] == ["results/runs/d/m/r0.1_s0.json"]


def test_tables_without_a_wall_column_are_their_bytes(tmp_path):
    _tree(tmp_path, solve="1.0")
    f = tmp_path / "results/tables/d_accuracy.md"
    assert bench.without_wall_columns(f) == f.read_bytes()
    g = bench.without_wall_columns(tmp_path / "results/tables/grouping_d_B2.md").decode()
    assert "| mip | 2 | optimal || a,b |" in g and g.endswith("\n")


BURN = """import sys, time
x = 0
for i in range(2 * 10**6):
    x += i
print("cpu", time.process_time())
"""


def _copy_with_main(tmp_path, main: str) -> Path:
    copy = tmp_path / "rev"
    (copy / "src" / "mtlbench").mkdir(parents=True)
    (copy / "src" / "mtlbench" / "__init__.py").write_text("")
    (copy / "src" / "mtlbench" / "__main__.py").write_text(main)
    return copy


def test_each_revision_runs_its_own_mtlbench(tmp_path):
    """The ``mtlbench`` on a revision's PATH is that copy's ``python -m mtlbench`` (an older
    revision's entry point may differ from the installed console script's)."""
    import subprocess

    copy = _copy_with_main(tmp_path, "import sys\nprint('copy', sys.argv[1:])\n")
    out = subprocess.run(["mtlbench", "gpu-slots"], env=bench.env_for(copy), capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "copy ['gpu-slots']", out.stderr


def test_an_env_setting_reaches_the_revisions_commands(tmp_path):
    """--env / --baseline-env: set for that revision's run (and its mtlbench), nothing else;
    an argument that is not NAME=VALUE stops with the option's name."""
    import os
    import subprocess

    copy = _copy_with_main(tmp_path, "import os\nprint(os.environ.get('ATEN_CPU_CAPABILITY'))\n")
    extra = bench.env_settings(["ATEN_CPU_CAPABILITY=avx2"], "--env")
    assert extra == {"ATEN_CPU_CAPABILITY": "avx2"}
    out = subprocess.run(["mtlbench"], env=bench.env_for(copy, extra), capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "avx2", out.stderr
    assert bench.env_for(copy).get("ATEN_CPU_CAPABILITY") == os.environ.get("ATEN_CPU_CAPABILITY")
    with pytest.raises(SystemExit, match="--baseline-env: 'avx2' is not NAME=VALUE"):
        bench.env_settings(["avx2"], "--baseline-env")


@pytest.mark.skipif(not Path("/proc/self/fd/1").exists(), reason="the shim reads the job's log path from /proc")
def test_a_job_records_its_own_cpu_seconds_beside_its_log(tmp_path):
    """The shim's record is the job's own CPU time (what the command measured of itself, and
    a little for the interpreter's start and end), both runs of a job run twice; none
    outside a log."""
    import subprocess

    copy = _copy_with_main(tmp_path, BURN)
    (copy / "logs" / "train" / "d").mkdir(parents=True)
    env = bench.env_for(copy)
    own = 0.0  # what the two runs measured of themselves (each run rewrites the log)
    for _ in range(2):
        subprocess.run("mtlbench train > logs/train/d/j.log 2>&1", shell=True, cwd=copy, env=env, check=True,
                       timeout=120)
        own += float((copy / "logs/train/d/j.log").read_text().split()[1])
    recorded = bench.log_cpu_s(copy / "logs/train/d/j.log")
    assert own - 0.01 <= recorded < own + 2.0, (own, recorded)  # `times` prints milliseconds
    out = subprocess.run(["mtlbench", "gpu-slots"], cwd=copy, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and [f.name for f in copy.rglob("*.cpu")] == ["j.log.cpu"]


CONSOLE = """Select jobs to execute...
[Sun Dec  6 21:51:11 2026]
localrule train_seeds:
    input: data/features/d.parquet
    output: results/runs/d/m/r0.1_s0.json
    log: logs/train/d/a_seeds.log
    jobid: 7
    benchmark: logs/benchmarks/train/d/a_seeds.tsv
    wildcards: dataset=d
[Sun Dec  6 21:51:11 2026]
localrule train_seeds:
    log: logs/train/d/b_seeds.log
    jobid: 8
    benchmark: logs/benchmarks/train/d/b_seeds.tsv
[Sun Dec  6 21:51:16 2026]
Finished jobid: 8 (Rule: train_seeds)
[Sun Dec  6 21:51:45 2026]
Finished jobid: 7 (Rule: train_seeds)
[Sun Dec  6 21:51:45 2026]
rule train_task_set:
    log: logs/similarity/d_task_sets/a+b.log
    jobid: 9
[Sun Dec  6 21:52:45 2026]
Finished jobid: 9 (Rule: train_task_set)
[Sun Dec  6 21:52:45 2026]
localrule all:
    input: results/metrics.json
    jobid: 0
[Sun Dec  6 21:52:45 2026]
Finished jobid: 0 (Rule: all)
"""


def test_per_rule_cpu_is_the_jobs_own_where_recorded(tmp_path):
    """A recorded job counts its own CPU-seconds (its log's record), not Snakemake's sample
    (which stops updating for 30 s after a job's first 15 s); an unrecorded one counts its
    sample, or nothing without a benchmark file (a revision that writes none); the rules
    that train task sets are one stage whatever their names; the target rule is no job."""
    bm = tmp_path / "logs" / "benchmarks" / "train" / "d"
    bm.mkdir(parents=True)
    (bm / "a_seeds.tsv").write_text("s\tcpu_time\n34.0\t15.4\n")
    (bm / "b_seeds.tsv").write_text("s\tcpu_time\n5.0\t4.5\n")
    (tmp_path / "logs" / "train" / "d").mkdir(parents=True)
    (tmp_path / "logs/train/d/a_seeds.log.cpu").write_text("0m0.010s 0m0.002s\n0m31.500s 0m2.250s\n")
    rules = bench.per_rule(CONSOLE, tmp_path)
    assert set(rules) == {"train_seeds", "train_task_set"}
    out = rules["train_seeds"]
    assert out["stage"] == "train" and out["jobs"] == 2 and out["jobs_without_cpu"] == 1
    assert out["cpu_s"] == pytest.approx(0.012 + 33.75 + 4.5)
    assert out["cpu_s_sampled"] == pytest.approx(19.9) and out["wall_s"] == pytest.approx(34.0 + 5.0)
    assert rules["train_task_set"] == {"stage": "task sets", "jobs": 1, "wall_s": 60.0, "cpu_s": 0.0,
                                       "jobs_without_cpu": 1}
    (tmp_path / "logs/train/d/b_seeds.log.cpu").write_text("1m2.000s 0m0.500s\n")
    (tmp_path / "logs/similarity/d_task_sets").mkdir(parents=True)
    (tmp_path / "logs/similarity/d_task_sets/a+b.log.cpu").write_text("0m1.000s 0m0.250s\n")
    stages = bench.per_stage(bench.per_rule(CONSOLE, tmp_path))
    assert stages["train"] == {"jobs": 2, "wall_s": 39.0, "cpu_s": pytest.approx(33.762 + 62.5),
                               "jobs_without_cpu": 0}
    assert stages["task sets"]["cpu_s"] == pytest.approx(1.25) and set(stages) == {"train", "task sets"}
    assert bench.stage_of("task_sets_digits_shift_3", "logs/similarity/x/chunk3.log") == "task sets"
    assert bench.stage_of("chosen_task_sets", None) == "task sets"
    assert bench.stage_of("metrics", "logs/metrics.log") == "metrics"

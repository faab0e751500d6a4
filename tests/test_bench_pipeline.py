"""benchmarks/bench_pipeline.py's output comparison: wall times left out, anything else counted."""

import importlib.util
import json
from pathlib import Path

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


def test_tables_without_a_wall_column_are_their_bytes(tmp_path):
    _tree(tmp_path, solve="1.0")
    f = tmp_path / "results/tables/d_accuracy.md"
    assert bench.without_wall_columns(f) == f.read_bytes()
    g = bench.without_wall_columns(tmp_path / "results/tables/grouping_d_B2.md").decode()
    assert "| mip | 2 | optimal || a,b |" in g and g.endswith("\n")


def test_each_revision_runs_its_own_mtlbench(tmp_path):
    """The ``mtlbench`` on a revision's PATH is that copy's ``python -m mtlbench`` (an older
    revision's entry point may differ from the installed console script's)."""
    import subprocess

    copy = tmp_path / "rev"
    (copy / "src" / "mtlbench").mkdir(parents=True)
    (copy / "src" / "mtlbench" / "__init__.py").write_text("")
    (copy / "src" / "mtlbench" / "__main__.py").write_text("import sys\nprint('copy', sys.argv[1:])\n")
    out = subprocess.run(["mtlbench", "gpu-slots"], env=bench.env_for(copy), capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "copy ['gpu-slots']", out.stderr

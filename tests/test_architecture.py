"""The package's architecture: imports run one way, and every module imports on its own."""

import json
import subprocess
import sys

from import_graph import SRC, STAGES, cycles, graph, module_files, stage, upward_imports

# in one fresh interpreter, each module imported after every mtlbench module is dropped
# from sys.modules: a module that works only when another of the project was imported
# first (a cycle broken by import order) fails here; third-party modules stay cached
_ISOLATED = """
import importlib, json, sys, traceback
failed = {}
for name in json.loads(sys.argv[1]):
    for m in [m for m in sys.modules if m == "mtlbench" or m.startswith("mtlbench.")]:
        del sys.modules[m]
    try:
        importlib.import_module(name)
    except BaseException:  # SystemExit too
        failed[name] = traceback.format_exc(limit=3)
print(json.dumps(failed))
"""


def test_every_module_imports_in_isolation():
    names = sorted(m for m in module_files() if m != "mtlbench.__main__")  # __main__ runs the CLI
    out = subprocess.run([sys.executable, "-c", _ISOLATED, json.dumps(names)], capture_output=True, text=True,
                         check=True, cwd=SRC)
    failed = json.loads(out.stdout.strip().splitlines()[-1])
    assert failed == {}, "\n".join(f"{k}:\n{v}" for k, v in failed.items())
    assert len(names) > 80  # the whole package was walked


def test_no_import_cycle_and_no_upward_import():
    g = graph()
    assert cycles(g) == []
    assert upward_imports(g) == []


def test_ground_module_imports_nothing_of_the_project_but_errors():
    g = graph()
    assert g["mtlbench.checks"] <= {"mtlbench.errors"}
    assert g["mtlbench.errors"] == set()
    # the composer is imported by the CLI only (and by common.smk, outside the package)
    assert {m for m, deps in g.items() if "mtlbench.config" in deps} == {"mtlbench.cli"}


def test_the_checks_find_a_cycle_and_an_upward_import():
    # the checker itself can fail: a made-up graph with both faults
    g = {"mtlbench.data.a": {"mtlbench.methods.b"}, "mtlbench.methods.b": {"mtlbench.data.a"}}
    assert cycles(g) == [["mtlbench.data.a", "mtlbench.methods.b"]]
    assert upward_imports(g) == [("mtlbench.data.a", "mtlbench.methods.b")]
    assert stage("mtlbench.report.tables") > stage("mtlbench.grouping.mip") > stage("mtlbench.data.registry")
    assert len(STAGES) >= 6


def test_every_module_is_in_a_stage():
    for name in module_files():
        stage(name)  # KeyError names a module that no stage holds


def test_dvc_train_stage_lists_every_module_training_imports():
    import yaml

    g, files = graph(), module_files()
    seen, todo = set(), ["mtlbench.train"]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(g[m])
    root = SRC.parent
    deps = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train"]["deps"]
    missing = [str(files[m].relative_to(root)) for m in sorted(seen)
               if not any(files[m].relative_to(root).as_posix().startswith(d.rstrip("/")) for d in deps)]
    assert missing == [], f"dvc.yaml stages.train.deps lacks {missing}"

"""mtlbench.fastexit: a finished command ends without the interpreter's teardown, its output
complete and its exit status kept; the ordinary exit runs whenever something still needs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # block-buffered stdout, as when it is unset
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env)


EXIT_AFTER = """
import atexit, sys
from mtlbench.fastexit import exit_now
atexit.register(lambda: print("teardown ran"))
{setup}
sys.stdout.write("x" * 200000)  # more than a pipe holds: the flush must write it all
print("done")
exit_now(3)
"""


def test_exit_now_skips_the_teardown_and_keeps_output_and_status():
    out = python(EXIT_AFTER.format(setup=""))
    assert out.returncode == 3
    assert out.stdout.endswith("x" * 200000 + "done\n")
    assert "teardown ran" not in out.stdout  # os._exit: no atexit handlers, no module teardown


def test_a_running_thread_gets_the_ordinary_exit(tmp_path):
    marker = tmp_path / "written"
    setup = (f"import threading, time\n"
             f"threading.Thread(target=lambda: (time.sleep(0.5), open({str(marker)!r}, 'w').write('ok'))).start()")
    out = python(EXIT_AFTER.format(setup=setup))
    assert out.returncode == 3
    assert marker.read_text() == "ok"  # the interpreter waited for the thread
    assert "teardown ran" in out.stdout


def test_reasons_for_the_ordinary_exit():
    code = ("import sys, threading\n"
            "from mtlbench.fastexit import ordinary_exit_needed as why\n"
            "print(why())\n"
            "sys.setprofile(lambda *a: None); print(why()); sys.setprofile(None)\n"
            "stop = threading.Event(); t = threading.Thread(target=stop.wait); t.start(); print(why())\n"
            "stop.set(); t.join(); print(why())\n")
    out = python(code)
    assert out.stdout.splitlines() == ["None", "a profiler or tracer is active", "a non-daemon thread is running", "None"]


def test_the_command_output_is_complete_and_errors_keep_their_status(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mtlbench", "check", "--json", str(ROOT / "params.yaml")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "datasets" in json.loads(out.stdout)
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: {digits: {backbone: nope}}\n")
    out = subprocess.run([sys.executable, "-m", "mtlbench", "check", str(bad)], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 2
    assert "nope" in out.stderr


def test_a_profiled_command_still_writes_its_profile(tmp_path):
    prof = tmp_path / "gpu-slots.prof"
    out = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "mtlbench", "gpu-slots"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert prof.stat().st_size > 0



def test_a_reader_closing_the_pipe_ends_the_command_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "mtlbench", "check", "--json", str(ROOT / "params.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # the reader is gone before the command writes (it takes a second to start)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err

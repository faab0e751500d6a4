"""mtlbench.malloc: a job keeps its freed heap instead of faulting the same pages in again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mtlbench import cli
from mtlbench.errors import ConfigError
from mtlbench.malloc import GLIBC_VARIABLES, malloc_mode, tune_malloc

glibc = pytest.mark.skipif(not (sys.platform.startswith("linux") and hasattr(os, "confstr")
                                and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")),
                           reason="glibc only")

# a training step's pattern: two 20 MiB buffers filled, then freed, twenty times; prints the
# minor page faults after the first round (the pages the heap had to fault in again)
_PATTERN = """
import resource, sys
import numpy as np
from mtlbench.malloc import tune_malloc
print(tune_malloc())
def once():
    a = np.ones(5 * 2**20, np.float32)
    b = np.ones(5 * 2**20, np.float32)
    del b, a
once()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    once()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


def _faults(**env) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if k not in GLIBC_VARIABLES and k != "MTLBENCH_MALLOC"}
    out = subprocess.run([sys.executable, "-c", _PATTERN], env={**clean, **env}, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


@glibc
def test_tuned_heap_faults_no_page_in_again():
    tuned, faults = _faults()
    default, default_faults = _faults(MTLBENCH_MALLOC="default")
    assert (tuned, default) == ("True", "False")
    assert default_faults > 5000  # glibc's own thresholds hand the 40 MiB back and fault it in again
    assert faults < default_faults / 20


def test_user_settings_win():
    assert tune_malloc({"MTLBENCH_MALLOC": "default"}) is False
    for name in GLIBC_VARIABLES:  # glibc applied the user's own value at start-up; left as it is
        assert tune_malloc({name: "65536"}) is False


def test_every_command_tunes_first(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli, "tune_malloc", lambda: calls.append(1))
    assert cli.main(["gpu-slots"]) == 0
    assert calls == [1]


def test_unknown_mode_is_an_error_naming_the_allowed_values(capsys):
    assert malloc_mode({}) == malloc_mode({"MTLBENCH_MALLOC": ""}) == "tuned"
    assert malloc_mode({"MTLBENCH_MALLOC": "default"}) == "default"
    with pytest.raises(ConfigError, match=r"MTLBENCH_MALLOC \(environment variable\): 'defualt' is not one of "
                                          r"'tuned', 'default'"):
        tune_malloc({"MTLBENCH_MALLOC": "defualt"})
    # every command: the message, exit code 2, no traceback, nothing run
    code = subprocess.run([sys.executable, "-m", "mtlbench", "gpu-slots"], capture_output=True, text=True,
                          env={**os.environ, "MTLBENCH_MALLOC": "defualt"})
    assert code.returncode == 2 and code.stdout == ""
    assert code.stderr.strip() == "mtlbench: error: MTLBENCH_MALLOC (environment variable): 'defualt' is not " \
                                  "one of 'tuned', 'default'"

"""What a run records about where it ran."""

import os
import subprocess
import sys

import torch

from mtlbench.runinfo import device_info


def test_device_info_records_the_cpu_kernels_instruction_set():
    info = device_info("cpu")
    assert info["device"] == "cpu"
    assert info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_a_lowered_instruction_set_is_recorded_as_such():
    """ATEN_CPU_CAPABILITY changes the numbers a run gives, so the record must follow it."""
    code = "from mtlbench.runinfo import device_info; print(device_info('cpu')['cpu_capability'])"
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "DEFAULT"

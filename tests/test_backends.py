"""MixupLayer + MixupLoss (and MixupTransform feeding model.fit) on every Keras backend
that is installed, each in a fresh process with KERAS_BACKEND set (the backend is fixed
when Keras is imported). See tests/backends/check_layer.py for what is checked."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "backends" / "check_layer.py"


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_layer_on_backend(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    process = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert "ALL OK" in process.stdout


def test_layer_under_jax_data_parallel_on_two_cpu_devices():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    process = subprocess.run(
        [sys.executable, str(SCRIPT.parent / "jax_data_parallel.py")],
        env={
            **os.environ,
            "KERAS_BACKEND": "jax",
            "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
            "CUDA_VISIBLE_DEVICES": "",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, (process.stdout + process.stderr)[-4000:]
    assert "ALL OK" in process.stdout

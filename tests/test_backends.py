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

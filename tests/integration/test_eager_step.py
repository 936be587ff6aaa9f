"""What one eager PyTorch training step of `MixupLayer` + `MixupLoss` does, counted (not timed):
Keras on PyTorch runs eagerly unless told otherwise, so this is the work most PyTorch-backend
users pay every step (issue 46). The counts come from `tests/backends/count_torch_step.py`
in a fresh process; the budgets are today's counts (Keras 3.15, torch 2.13) with a little room
for another Keras's ops, so that added work fails here instead of hiding in timing noise."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "backends" / "count_torch_step.py"


@pytest.fixture(scope="module")
def counts() -> dict:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    process = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_the_forward_pass_reads_the_host_once_and_moves_four_small_arrays(counts):
    layer = counts["layer"]
    # one read: the step's seed, for the host draw; the mixing weight, its complement and the
    # permutation move to the backend (the fourth move is the SeedGenerator's own increment)
    assert layer["host_reads"] == 1, layer["calls"]
    assert layer["moved_from_numpy"] == 4, layer["calls"]
    assert layer["torch_calls"] <= 40, layer["calls"]  # 33 measured
    assert layer["calls"].get("index_select", 0) == 1  # one gather of the partners' rows


def test_the_loss_checks_the_ids_with_one_read_and_adds_bounded_work(counts):
    loss, plain = counts["loss"], counts["plain_loss"]
    # the class-id check is one read of one boolean: the offending value is computed only
    # when the check fails
    assert loss["host_reads"] == 1, loss["calls"]
    assert "argmax" not in loss["calls"], loss["calls"]
    assert loss["moved_from_numpy"] == 0, loss["calls"]
    assert loss["torch_calls"] - plain["torch_calls"] <= 60, loss["calls"]  # 50 measured

"""The README's snippets run as written: every ```python block on TensorFlow (the default
backend), the backend-neutral ones also on JAX and PyTorch, each in a fresh interpreter as a
user would paste it, with the output its `print(...)  # expected` comments promise. (`make user`
runs the first block where only `pip install ".[tensorflow]"` is installed.)"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme_snippets import python_blocks

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

BLOCKS = python_blocks(README.read_text())


def block_titled(heading_part: str) -> int:
    """The 1-based number of the first python block under the README heading containing
    `heading_part`."""
    text = README.read_text()
    start = text.index(heading_part)
    return len(python_blocks(text[:start])) + 1


def run_block(number: int, backend: str) -> str:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "readme_snippets.py"), str(README), "--block", str(number)],
        cwd=ROOT.parent, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert process.returncode == 0, (process.stdout + process.stderr)[-4000:]
    return process.stdout


def expected_prints(code: str) -> list[str]:
    """The outputs promised by `print(...)  # <output>` lines of a block."""
    return [m[1].strip() for m in re.finditer(r"^\s*print\(.*\)\s*#\s*(.+)$", code, re.M)]


def test_the_readme_has_the_quickstarts_it_promises():
    assert len(BLOCKS) == 6, "update this test's cases when the README's snippets change"
    assert "MixupTransform" in BLOCKS[block_titled("### In a tf.data pipeline") - 1]
    assert "MixupLoss" in BLOCKS[block_titled("### Inside a model") - 1]
    assert "keras.layers.Pipeline" in BLOCKS[block_titled("### Beside Keras's layers") - 1]
    assert "import tensorflow" not in BLOCKS[block_titled("### Grain and NumPy") - 1]
    assert expected_prints(BLOCKS[block_titled("### Grain and NumPy") - 1])
    assert "methods=[" in BLOCKS[block_titled("### Choosing among methods") - 1]
    assert "manifold.point()" in BLOCKS[block_titled("### Manifold Mixup") - 1]


@pytest.mark.parametrize("number", range(1, len(BLOCKS) + 1))
def test_block_runs_on_tensorflow(number):
    out = run_block(number, "tensorflow")
    for promised in expected_prints(BLOCKS[number - 1]):
        assert promised in out, (promised, out[-2000:])


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize(
    "heading",
    [
        "### Inside a model",
        "### Grain and NumPy",
        "### Choosing among methods",
        "### Manifold Mixup",
    ],
)
def test_backend_neutral_block_runs_on(backend, heading):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (the backends extra)")
    number = block_titled(heading)
    out = run_block(number, backend)
    for promised in expected_prints(BLOCKS[number - 1]):
        assert promised in out, (promised, out[-2000:])

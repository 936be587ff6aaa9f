"""Quiet logs: the JAX tutorial does not import TensorFlow, a TensorFlow tutorial's start-up
prints no CUDA error and no line twice, and progress bars show their total and end their line."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from examples._support.tensorflow_log import filtered
from keras_mixup import input_mean
from keras_mixup.adversarial import evaluate_adversarial
from keras_mixup.neighbours import nearest_neighbours

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

CUDA_NOISE = re.compile(r"cuInit|CUDA error|Unable to register")


def makefile_environment() -> dict:
    """This process's environment with TF_CPP_MIN_LOG_LEVEL as the Makefile's `make demo`
    sets it (the conftest's default removed first)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    printed = subprocess.run(
        ["make", "-s", "-f", "Makefile", "-f", "-", "print-tf-log-level"],
        input="print-tf-log-level:\n\t@echo $$TF_CPP_MIN_LOG_LEVEL\n",
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    env["TF_CPP_MIN_LOG_LEVEL"] = printed.stdout.strip()
    return env


def test_the_jax_tutorial_does_not_import_tensorflow(tmp_path):
    for needed in ("jax", "grain", "tensorflow"):  # TensorFlow installed: the point of it
        if importlib.util.find_spec(needed) is None:
            pytest.skip(f"{needed} is not installed")
    script = EXAMPLES / "grain_jax.py"
    check = (
        "import runpy, sys; "
        f"sys.argv = [{str(script)!r}]; runpy.run_path(sys.argv[0], run_name='__main__'); "
        "print('tensorflow imported:', 'tensorflow' in sys.modules)"
    )
    env = {**makefile_environment(), "KERAS_BACKEND": "jax", "KERAS_MIXUP_SMOKE_TEST": "1"}
    process = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert process.returncode == 0, (process.stdout + process.stderr)[-3000:]
    assert "tensorflow imported: False" in process.stdout, process.stdout[-2000:]
    assert not CUDA_NOISE.search(process.stderr), process.stderr[-2000:]


def tutorial_setup(name: str) -> str:
    """A tutorial's code up to its first line after the setup (its imports and environment)."""
    source = (EXAMPLES / name).read_text()
    return source[: source.index("\nSMOKE_TEST = ")]


def test_a_tensorflow_tutorial_starts_without_cuda_errors_or_repeated_lines(tmp_path):
    """The setup of `make demo`'s tutorial, then TensorFlow's devices and a training step:
    on a machine without a GPU driver, TensorFlow logs a cuInit ERROR and its start-up lines
    twice (2.19 and later), or cuFFT / cuDNN / cuBLAS factory ERRORs (2.16)."""
    program = tutorial_setup("label_noise_demo.py") + (
        "\nprint('devices:', [d.device_type for d in tf.config.list_physical_devices()])"
        "\nmodel = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])"
        "\nmodel.compile('sgd', 'mse')"
        "\nmodel.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=1, verbose=0)"
        "\nimport warnings; warnings.warn('a warning of the program itself')\n"
    )
    path = tmp_path / "setup.py"
    path.write_text(program)
    # as `python examples/label_noise_demo.py` runs: the script's folder first on the path
    env = {**makefile_environment(), "PYTHONPATH": str(EXAMPLES)}
    process = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert process.returncode == 0, (process.stdout + process.stderr)[-3000:]
    assert "devices: ['CPU'" in process.stdout
    lines = [line for line in process.stderr.splitlines() if line.strip()]
    assert not [line for line in lines if CUDA_NOISE.search(line)], process.stderr[-3000:]
    # the same line twice, timestamps and thread ids aside
    bare = [re.sub(r"[\d.:-]+", "#", line) for line in lines]
    assert len(set(bare)) == len(bare), process.stderr[-3000:]
    assert "a warning of the program itself" in process.stderr  # stderr is not swallowed


def test_the_start_up_filter_keeps_real_errors_and_what_the_level_lets_through():
    log = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796288788.466200   13731 cudart_stub.cc:31] Could not find cuda drivers "
        "on your machine, GPU will not be used.\n"
        "E0000 00:00:1796289492.916140   21237 cuda_platform.cc:52] failed call to cuInit: "
        "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
        "2026-12-03 09:06:23.227535: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc"
        ":479] Unable to register cuFFT factory: Attempting to register factory for plugin "
        "cuFFT when one has already been registered\n"
        # kept: a driver that is there but fails, another error, a warning, Python's output
        "E0000 00:00:1796289492.916140   21237 cuda_platform.cc:52] failed call to cuInit: "
        "INTERNAL: CUDA error: Failed call to cuInit: CUDA_ERROR_NO_DEVICE (100)\n"
        "E0000 00:00:1796289492.916140   21237 op_kernel.cc:12] a real error\n"
        "2026-12-03 09:06:25.147439: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] "
        "TF-TRT Warning: Could not find TensorRT\n"
        "/x.py:1: UserWarning: of Python\n"
    )
    kept = filtered(log, min_level=1).splitlines()
    assert [line.rsplit("] ", 1)[-1] for line in kept] == [
        "failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: "
        "CUDA_ERROR_NO_DEVICE (100)",
        "a real error",
        "TF-TRT Warning: Could not find TensorRT",
        "/x.py:1: UserWarning: of Python",
    ], kept
    assert len(filtered(log, min_level=2).splitlines()) == 3  # the warning hidden at 2
    assert len(filtered(log, min_level=0).splitlines()) == 5  # the INFO line shown at 0


def bar_of(printed: str) -> str:
    """A progress bar's last state: what follows its last carriage return, escapes removed."""
    return re.sub(r"\x1b\[[0-9;]*m", "", printed.rstrip("\n").split("\r")[-1]).replace("\b", "")


X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")


@pytest.mark.parametrize(
    "data, total",
    [
        (tf.data.Dataset.from_tensor_slices(X).batch(8), "4/4"),  # cardinality 4
        (np.array_split(X, 4), "4/4"),  # len 4
        (X.reshape(4, 8, 3), "4/4"),  # an array of batches
        (tf.data.Dataset.from_tensor_slices(X).batch(8).filter(lambda b: True), "4/Unknown"),
        ((batch for batch in np.array_split(X, 4)), "4/Unknown"),  # a generator
    ],
    ids=["tf.data", "list", "array", "tf.data-unknown", "generator"],
)
def test_input_mean_bar_shows_the_total_where_known_and_ends_its_line(data, total, capsys):
    np.testing.assert_allclose(input_mean(data), X.mean(axis=0), atol=1e-6)
    printed = capsys.readouterr().out
    assert bar_of(printed).split()[0] == total, repr(printed)
    assert printed.endswith("\n"), repr(printed)


def test_the_adversarial_and_neighbour_bars_end_their_line(capsys):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    labels = np.arange(32) % 4
    batches = ((X[i : i + 8], labels[i : i + 8]) for i in range(0, 32, 8))
    evaluate_adversarial(model, batches, 0.1, top_k=(1,))
    printed = capsys.readouterr().out
    assert bar_of(printed).split()[0] == "4/Unknown" and printed.endswith("\n"), repr(printed)
    dataset = tf.data.Dataset.from_tensor_slices((X, labels)).batch(8)
    evaluate_adversarial(model, dataset, 0.1, top_k=(1,))
    printed = capsys.readouterr().out
    assert bar_of(printed).split()[0] == "4/4" and printed.endswith("\n"), repr(printed)
    nearest_neighbours(X, k=2, chunk_size=10)
    printed = capsys.readouterr().out
    assert bar_of(printed).split()[0] == "32/32" and printed.endswith("\n"), repr(printed)


# ---------------------------------------------------------------- 8. no alarming log lines

_COMPILED_STEP = """
import numpy as np, keras, keras_mixup
layer = keras_mixup.MixupLayer(alpha=1.0, seed=0)
model = keras.Sequential([keras.Input((4,)), layer, keras.layers.Dense(3)])
model.compile("sgd", keras_mixup.MixupLoss("sparse_categorical_crossentropy", layer=layer,
              from_logits=True), metrics=[keras_mixup.MixupAccuracy(layer=layer)], jit_compile=True)
model.fit(np.ones((32, 4), "float32"), np.arange(32) % 3, batch_size=8, epochs=1, verbose=0)
print("TRAINED")
"""


_COMPILED_TRANSFORM = """
import numpy as np, tensorflow as tf, keras_mixup
transform = keras_mixup.MixupTransform(alpha=1.0, num_classes=3, seed=0)
mixed = tf.function(transform, jit_compile=True)(np.ones((8, 4), "float32"), np.arange(8) % 3)
print("MIXED", mixed[1].shape)
"""


def assert_no_dropped_assertion(script: str, done: str) -> None:
    """Runs `script` on TensorFlow with every log shown: it prints `done`, and XLA logs no
    `Ignoring Assert operator` (an assert op it dropped)."""
    process = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "KERAS_BACKEND": "tensorflow"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done in process.stdout, process.stderr[-3000:]
    assert "Ignoring Assert" not in process.stderr, [
        line for line in process.stderr.splitlines() if "Assert" in line
    ]


def test_a_transform_compiled_whole_logs_no_dropped_assertion():
    """`tf.function(transform, jit_compile=True)`: the tf.data fronts build their checks'
    assert ops outside their own compiled call, never inside the user's XLA function."""
    assert_no_dropped_assertion(_COMPILED_TRANSFORM, "MIXED (8, 3)")


def test_a_compiled_step_logs_no_dropped_assertion():
    """XLA drops assert ops and logs `Ignoring Assert operator`; keras_mixup builds none
    inside a compiled step (its targets are NaN for bad labels there instead)."""
    assert_no_dropped_assertion(_COMPILED_STEP, "TRAINED")

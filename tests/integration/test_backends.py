"""keras_mixup on every Keras backend that is installed, each in a fresh process with
KERAS_BACKEND set (the backend is fixed when Keras is imported).

tests/backends/check_layer.py checks the layer, loss, metric and tf.data fronts on its
backend and writes the draws it made; here those draws are tested for their
distribution (KS and chi-square, per backend) and compared across backends: the same
seed gives the same permutation and, up to float rounding, the same lambda everywhere.
"""

import importlib.util
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_mixup import sample_mix_params
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.fronts.manifold import choose_point
from keras_mixup.methods import (
    CutMix,
    FMix,
    GridMix,
    Mixup,
    Mosaic,
    ResizeMix,
    SaliencyMix,
    SmoothMix,
)
from tests.stats import float32_ks_pvalue

SCRIPTS = Path(__file__).resolve().parents[1] / "backends"
BACKENDS = ["tensorflow", "jax", "torch"]
P_MIN = 1e-3


def _run(script: str, backend: str, *args, env=None) -> str:
    process = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        env={**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert "ALL OK" in process.stdout, output[-4000:]
    return process.stdout


@pytest.fixture(scope="module", params=BACKENDS)
def backend_draws(request, tmp_path_factory):
    """Runs the backend check once per backend; returns its draws."""
    backend = request.param
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    out = tmp_path_factory.mktemp(backend)
    _run("check_layer.py", backend, str(out))
    with np.load(out / "draws.npz") as data:
        return backend, dict(data)


@pytest.mark.parametrize("alpha", [0.2, 1.0, 8.0])
def test_per_example_lambdas_follow_beta_on_each_backend(backend_draws, alpha):
    backend, draws = backend_draws
    lambdas = draws[f"per_example_alpha{alpha}"]
    assert lambdas.shape == (20_000,) and np.all((lambdas >= 0) & (lambdas <= 1))
    assert float32_ks_pvalue(lambdas, alpha) > P_MIN, backend


def test_per_batch_lambdas_follow_beta_on_each_backend(backend_draws):
    backend, draws = backend_draws
    assert float32_ks_pvalue(draws["per_batch_alpha0.4"], 0.4) > P_MIN, backend


def test_permutations_are_uniform_on_each_backend(backend_draws):
    backend, draws = backend_draws
    index = {p: i for i, p in enumerate(itertools.permutations(range(3)))}
    counts = np.bincount([index[tuple(p)] for p in draws["permutations_of_3"]], minlength=6)
    assert stats.chisquare(counts).pvalue > P_MIN, (backend, counts)


def test_c_mixup_partners_follow_the_kernel_on_each_backend(backend_draws):
    """1000 examples of three target values: the partners' values per source value
    against C-Mixup's kernel (bandwidth 0.5), the backend's compiled draw."""
    backend, draws = backend_draws
    values, copies = np.array([0.0, 0.5, 1.5]), np.array([400, 300, 300])
    targets = np.repeat(values, copies)
    partner_values = targets[draws["c_mixup_partners"]]
    kernel = np.exp(-((values[:, None] - values[None]) ** 2) / (2 * 0.5**2)) * copies
    for source, value in enumerate(values):
        observed = np.bincount(
            np.searchsorted(values, partner_values[targets == value]), minlength=3
        )
        expected = kernel[source] / kernel[source].sum() * observed.sum()
        assert stats.chisquare(observed, expected).pvalue > P_MIN, (backend, value, observed)


def test_same_seed_same_draws_on_every_backend(backend_draws):
    """The backend's keras.ops draws equal this process's TensorFlow-binding draws."""
    backend, draws = backend_draws
    for alpha in (0.05, 0.4, 5.0):
        for per_example in (False, True):
            seed = tf.constant([11, int(alpha * 100)], tf.int32)
            params = sample_mix_params(seed, 12, alpha, per_example, ops=TENSORFLOW)
            key = f"fixed_alpha{alpha}_per_example{per_example}"
            np.testing.assert_array_equal(draws[key + "_permutation"], params.permutation.numpy())
            np.testing.assert_allclose(
                draws[key + "_lambda"],
                params.mix_weight.numpy(),
                rtol=2e-6 / min(alpha, 1.0),  # the alpha < 1 boost: log(U) / alpha
                atol=1e-7,
            )
    seed = tf.constant([4, 2], tf.int32)
    families = {
        "cutmix": dict(alpha=0.5, per_example=True, cutmix_alpha=1.0, image_size=(7, 9)),
        "kway": dict(alpha=0.5, per_example=True, num_mixed=4),
        "gridmix": dict(
            per_example=True,
            methods=[Mixup(0.5), CutMix(1.0), GridMix(1.0)],
            method_probs=[1 - 0.8, 0.8 / 2, 0.8 / 2],
            image_size=(9, 11),
        ),  # fmt: skip
        "masks": dict(
            per_example=True,
            methods=[Mixup(0.5), CutMix(1.0), FMix(1.0), SmoothMix(1.0), ResizeMix(1.0)],
            method_probs=[1 - 0.9] + [0.9 / 4] * 4,
            image_size=(8, 10),
        ),  # fmt: skip
        "mosaic": dict(
            per_example=True,
            methods=[Mixup(0.5), CutMix(1.0), Mosaic(0.7)],
            method_probs=[1 - 0.8, 0.8 / 2, 0.8 / 2],
            image_size=(9, 7),
        ),  # fmt: skip
        "saliencymix": dict(
            per_example=True,
            methods=[Mixup(0.5), SaliencyMix(1.0)],
            images=tf.constant(np.random.default_rng(5).random((12, 9, 7, 3)).astype("float32")),
        ),  # fmt: skip
        "c_mixup": dict(
            alpha=0.5,
            per_example=True,
            num_mixed=3,
            pairing="c_mixup",
            labels=tf.constant(np.linspace(-2.0, 2.0, 12, dtype="float32")[::-1]),
            c_mixup_bandwidth=0.5,
        ),  # fmt: skip
    }
    for name, family in families.items():
        params = sample_mix_params(seed, 12, ops=TENSORFLOW, **family)
        for field, value in params._asdict().items():
            if value is None:
                continue
            if field == "mask":  # FMix's ranks may swap two pixels at its threshold
                binary = np.isin(value.numpy(), [0.0, 1.0])
                np.testing.assert_allclose(
                    draws[f"{name}_mask"][~binary], value.numpy()[~binary], atol=1e-5
                )
                assert np.mean(draws[f"{name}_mask"][binary] != value.numpy()[binary]) < 0.01
            elif field in ("mix_weight", "more_weights", "partner_weight"):
                np.testing.assert_allclose(
                    draws[f"{name}_{field}"], value.numpy(), rtol=4e-6, atol=1e-7
                )
            else:
                np.testing.assert_array_equal(draws[f"{name}_{field}"], value.numpy())
    # MixupLayer(seed=3): its first training step, from the SeedGenerator state [3, 0]
    params = sample_mix_params(tf.constant([3, 0]), 8, 1.0, ops=TENSORFLOW)
    np.testing.assert_array_equal(draws["layer_seed3_permutation"], params.permutation.numpy())
    np.testing.assert_allclose(draws["layer_seed3_lambda"], params.mix_weight.numpy(), rtol=2e-6)


def test_layer_mixes_per_device_shard_under_jax_data_parallel_on_eight_cpu_devices():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    _run(
        "jax_data_parallel.py",
        "jax",
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8"},
    )


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_fuzzed_layer_contract_on_each_backend(backend):
    """tests/integration/test_fuzz.py's layer property (inputs and targets mixed with the recorded
    parameters, for generated elements) under the other Keras backends."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    root = SCRIPTS.parents[1]
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_fuzz.py",
            "-k",
            "layer",
        ],
        cwd=root,
        env={**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0 and "1 passed" in process.stdout, process.stdout[-4000:]


def test_manifold_mixup_chooses_the_same_point_on_every_backend(backend_draws):
    """Issue 44: the backend's choice of mixing point (keras.ops) is the NumPy binding's."""
    backend, draws = backend_draws
    expected = [
        int(choose_point(np.array([3, i], "int32"), (1.0, 3.0), ops=NUMPY)) for i in range(30)
    ]
    np.testing.assert_array_equal(draws["manifold_chosen"], expected, err_msg=backend)
    assert 0 < np.mean(expected) < 1  # both points chosen

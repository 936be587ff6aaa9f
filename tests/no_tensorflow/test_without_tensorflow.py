"""keras_mixup with keras, NumPy and JAX alone: the layer, loss, metric, schedules,
predictor, FGSM evaluator and the NumPy transform, with TensorFlow not installed.

Run by `make notf` (part of `make test`) in a virtual environment without
TensorFlow and with KERAS_BACKEND=jax; in the main environment,
tests/core/test_core.py runs a shorter version of this with TensorFlow's import blocked.
"""

import importlib.util
import os
import sys
import warnings

import keras
import numpy as np
import pytest

import keras_mixup
from keras_mixup import (
    AlphaScheduler,
    MixupAccuracy,
    MixupLayer,
    MixupLoss,
    MixupTransform,
    alpha_schedule,
    mixup_aware_predictor,
)
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.structures import Parts
from keras_mixup.adversarial import fgsm, i_fgsm
from keras_mixup.diagnostics import in_between

# `make notf` sets KERAS_MIXUP_REQUIRE_NO_TENSORFLOW=1: there these tests never skip (a
# TensorFlow that crept into the environment fails them); elsewhere they skip.
pytestmark = pytest.mark.skipif(
    os.environ.get("KERAS_MIXUP_REQUIRE_NO_TENSORFLOW") != "1"
    and (importlib.util.find_spec("tensorflow") is not None or keras.backend.backend() != "jax"),
    reason="runs where TensorFlow is not installed, on the JAX backend (make notf)",
)

B, FEATURES, CLASSES = 8, 5, 3
rng = np.random.default_rng(0)
X = rng.normal(size=(64, FEATURES)).astype("float32")
Y = (np.arange(64) % CLASSES).astype("int32")


def model_with(layer, jit_compile=True):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((FEATURES,)), layer, keras.layers.Dense(CLASSES)])
    model.compile(
        keras.optimizers.SGD(0.0),
        MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
        metrics=[MixupAccuracy(layer=layer)],
        jit_compile=jit_compile,
    )
    return model


def test_tensorflow_is_absent_and_never_imported():
    assert importlib.util.find_spec("tensorflow") is None
    assert "tensorflow" not in sys.modules


@pytest.mark.parametrize("jit_compile", [True, False])
def test_layer_loss_and_metric_equal_the_hand_mixed_values(jit_compile):
    layer = MixupLayer(alpha=0.7, seed=1)
    model = model_with(layer, jit_compile)
    logs = model.train_on_batch(X[:B], Y[:B], return_dict=True)
    params = layer.spec.draw(
        np.array([1, 0], "int32"),
        Parts(X[:B]),
        layer.spec.runtime_values(),
        owner="",
        ops=NUMPY,
    )
    own, other, perm = (
        params.mix_weight[:, None],
        params.partner_weight[:, None],
        params.permutation,
    )
    mixed_x = own * X[:B] + other * X[:B][perm]
    one_hot = np.eye(CLASSES)[Y[:B]]
    mixed_y = own * one_hot + other * one_hot[perm]
    kernel, bias = (keras.ops.convert_to_numpy(v) for v in model.layers[-1].weights)
    logits = mixed_x @ kernel + bias
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert logs["loss"] == pytest.approx(float(np.mean(-(mixed_y * log_p).sum(axis=1))), rel=1e-5)
    mass = mixed_y[np.arange(B), logits.argmax(axis=1)].mean()
    assert logs["mixup_accuracy"] == pytest.approx(mass, abs=1e-6)


def test_schedule_reaches_the_compiled_step_without_rebuilding_it():
    layer = MixupLayer(alpha=1.0, seed=2)
    model = model_with(layer)
    schedule = alpha_schedule(1.0, warmup_epochs=1, epochs=3, off_for_last=1)
    history = model.fit(
        X, Y, batch_size=B, epochs=3, verbose=0, shuffle=False,
        callbacks=[AlphaScheduler(schedule, layer)],
    )  # fmt: skip
    plain = model.evaluate(X, Y, batch_size=B, verbose=0)[0]
    losses = history.history["loss"]
    np.testing.assert_allclose([losses[0], losses[2]], [plain, plain], rtol=1e-5)
    assert abs(losses[1] - plain) > 1e-3


def test_binary_head_trains_with_integer_labels_and_binary_accuracy():
    layer = MixupLayer(alpha=0.4, seed=3)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((FEATURES,)), layer, keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(
        "adam", MixupLoss("binary_crossentropy", layer=layer), metrics=[MixupAccuracy(layer=layer)]
    )
    labels = (Y == 1).astype("int32")
    history = model.fit(X, labels, batch_size=B, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    # unmixed (evaluate): the binary accuracy at 0.5, not an argmax over one column
    _, accuracy = model.evaluate(X, labels, batch_size=len(X), verbose=0)
    by_hand = np.mean((model.predict(X, verbose=0)[:, 0] > 0.5) == labels)
    np.testing.assert_allclose(accuracy, by_hand, atol=1e-6)


def test_numpy_transform_mixes_without_tensorflow():
    transform = MixupTransform(alpha=1.0, num_classes=CLASSES, seed=0)
    x, y = transform(X[:B], Y[:B])
    assert isinstance(x, np.ndarray) and y.shape == (B, CLASSES)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ImportError, match=r"pip install 'keras_mixup\[tensorflow\]'"):
        keras_mixup.checkpointable(None)


def test_predictor_and_adversarial_evaluator_on_jax():
    model = keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Dense(CLASSES, activation="softmax")]
    )
    predictor = mixup_aware_predictor(model, input_mean=X.mean(axis=0), alpha=1.0)
    assert predictor.predict(X[:B], verbose=0).shape == (B, CLASSES)
    x01 = (X[:B] - X.min()) / (X.max() - X.min())
    adversarial = keras.ops.convert_to_numpy(fgsm(model, x01, Y[:B], epsilon=0.05))
    assert np.max(np.abs(adversarial - x01)) <= 0.05 + 1e-6
    iterative = keras.ops.convert_to_numpy(i_fgsm(model, x01, Y[:B], epsilon=0.05, steps=3))
    assert np.max(np.abs(iterative - x01)) <= 0.05 + 1e-6
    result = in_between(model, X, Y, num_pairs=16, lambdas=[0.0, 0.5, 1.0])
    assert result["miss_rate"].shape == (3,)


def test_environment_says_which_backend():
    assert os.environ.get("KERAS_BACKEND") == "jax"


def test_a_jax_model_trains_from_a_grain_pipeline_with_mixup():
    """Grain: the JAX user's input pipeline, which model.fit takes; mixing with the
    transform's random_map (deterministic per seed and record) and no TensorFlow."""
    import grain

    records = [(X[i], Y[i]) for i in range(len(X))]
    transform = MixupTransform(alpha=0.4, num_classes=CLASSES)
    batches = grain.MapDataset.source(records).shuffle(seed=0).batch(B)
    # Endless, with the epoch's length given: no "ran out of data" warning from Keras.
    dataset = batches.repeat().random_map(transform, seed=1).to_iter_dataset()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(CLASSES),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[MixupAccuracy()],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(
            dataset, epochs=3, steps_per_epoch=len(batches), shuffle=False, verbose=0
        )
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert "tensorflow" not in sys.modules

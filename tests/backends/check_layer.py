"""MixupLayer + MixupLoss on the Keras backend named by KERAS_BACKEND (run by
tests/test_backends.py in a fresh process). Exits non-zero with a message on failure."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mixup import AlphaScheduler, MixupLayer, MixupLoss, MixupTransform, alpha_schedule  # noqa: E402

BACKEND = keras.backend.backend()
assert BACKEND == os.environ["KERAS_BACKEND"], BACKEND
B, FEATURES, CLASSES = 8, 5, 3
rng = np.random.default_rng(0)
x = rng.normal(size=(64, FEATURES)).astype("float32")
y = (np.arange(64) % CLASSES).astype("int32")


def model_with(layer):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((FEATURES,)), layer, keras.layers.Dense(CLASSES)])


def numpy_params(layer):
    params = layer._record.params
    return keras.ops.convert_to_numpy(params.mix_weight), keras.ops.convert_to_numpy(
        params.permutation
    )


def loss_equals_hand_mixed_loss(targets, per_example):
    layer = MixupLayer(alpha=0.7, seed=1, targets=targets, per_example=per_example)
    model = model_with(layer)
    loss_fn = MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True)
    weights = rng.uniform(0.5, 1.5, size=B).astype("float32")
    predictions = model(x[:B], training=True)
    loss = float(keras.ops.convert_to_numpy(loss_fn(y[:B], predictions, sample_weight=weights)))
    lam, perm = numpy_params(layer)
    assert sorted(perm.tolist()) == list(range(B)), perm
    assert (len(set(lam.tolist())) > 1) == per_example, lam
    w = lam[:, None]
    mixed_x = w * x[:B] + (1 - w) * x[:B][perm]
    one_hot = np.eye(CLASSES)[y[:B]]
    if targets == "mixed":
        mixed_y, mixed_w = (
            w * one_hot + (1 - w) * one_hot[perm],
            lam * weights + (1 - lam) * weights[perm],
        )
    else:
        mixed_y = np.where(w >= 0.5, one_hot, one_hot[perm])
        mixed_w = np.where(lam >= 0.5, weights, weights[perm])
    kernel, bias = (keras.ops.convert_to_numpy(v) for v in model.layers[-1].weights)
    logits = mixed_x @ kernel + bias
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = np.sum(-(mixed_y * log_p).sum(axis=1) * mixed_w) / B
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    evaluation = model(x[:B], training=False)  # identity outside training
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y[:B], evaluation)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loss_fn(y[:B], evaluation)),
        keras.ops.convert_to_numpy(plain),
        rtol=1e-6,
    )
    print(f"{BACKEND}: loss = hand-mixed loss (targets={targets}, per_example={per_example})")


def same_seed_same_draws():
    draws = []
    for seed in (3, 3, 4):
        layer = MixupLayer(alpha=1.0, seed=seed, inputs_only=True)
        model_with(layer)(x[:B], training=True)
        draws.append(numpy_params(layer))
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    np.testing.assert_array_equal(draws[0][1], draws[1][1])
    assert draws[0][0][0] != draws[2][0][0]
    print(f"{BACKEND}: same seed, same lambda {draws[0][0][0]:.6f} and permutation {draws[0][1]}")


def fit_with_schedule_and_jit(jit_compile):
    """lr 0: with mixup off (warm-up epoch, last epoch) the training loss equals the plain
    loss; in between it differs. The schedule reaches the compiled step."""
    layer = MixupLayer(alpha=1.0, seed=2)
    model = model_with(layer)
    model.compile(
        keras.optimizers.SGD(0.0),
        MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
        jit_compile=jit_compile,
    )
    schedule = alpha_schedule(1.0, warmup_epochs=1, epochs=3, off_for_last=1)
    history = model.fit(
        x, y, batch_size=B, epochs=3, verbose=0, shuffle=False,
        callbacks=[AlphaScheduler(schedule, layer)],
    )  # fmt: skip
    plain = model.evaluate(x, y, batch_size=B, verbose=0)
    losses = history.history["loss"]
    np.testing.assert_allclose([losses[0], losses[2]], [plain, plain], rtol=1e-5)
    assert abs(losses[1] - plain) > 1e-3, (losses, plain)
    assert history.history["mixup_alpha"] == [0.0, 1.0, 0.0]
    print(f"{BACKEND}: fit(jit_compile={jit_compile}) with warm-up / off schedule: {losses}")


def transform_in_tf_data():
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(B)
        .map(MixupTransform(alpha=0.4, num_classes=CLASSES, seed=0))
    )
    model = model_with(keras.layers.Identity())
    model.compile("sgd", keras.losses.CategoricalCrossentropy(from_logits=True))
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    print(f"{BACKEND}: MixupTransform in tf.data feeds model.fit")


def tf_data_use_of_the_layer_fails_clearly():
    try:
        MixupLayer(alpha=1.0, num_classes=CLASSES)(x[:B], y[:B])
    except ValueError as error:
        assert "MixupTransform" in str(error), error
    else:
        raise AssertionError("expected a ValueError")


def sampler_moments():
    """Per-example lambdas of `_ops.draw` have Beta(alpha, alpha)'s mean and variance,
    tiny and large alphas included (n = 20000; bounds at about 5 standard errors)."""
    from keras_mixup import _ops

    generator = keras.random.SeedGenerator(0)
    n = 20_000
    for alpha in (0.02, 0.2, 1.0, 32.0):
        params = _ops.draw(generator, n, alpha, per_example=True)
        lam = keras.ops.convert_to_numpy(params.mix_weight)
        variance = 1 / (4 * (2 * alpha + 1))
        assert np.all((lam >= 0) & (lam <= 1)), alpha
        assert abs(lam.mean() - 0.5) < 5 * np.sqrt(variance / n), (alpha, lam.mean())
        assert abs(lam.var() / variance - 1) < 0.05, (alpha, lam.var(), variance)
        perm = keras.ops.convert_to_numpy(params.permutation)
        assert np.array_equal(np.sort(perm), np.arange(n))
    print(f"{BACKEND}: sampler moments match Beta(alpha, alpha)")


def save_and_load():
    import tempfile

    layer = MixupLayer(alpha=0.3, seed=9, per_example=True)
    model = model_with(layer)
    model.compile(
        "sgd", MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True)
    )
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
    restored_layer = restored.layers[0]
    assert isinstance(restored_layer, MixupLayer), restored.layers
    assert (restored_layer.alpha, restored_layer.seed, restored_layer.per_example) == (0.3, 9, True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x[:B], training=False)),
        keras.ops.convert_to_numpy(model(x[:B], training=False)),
        rtol=1e-6,
    )
    print(f"{BACKEND}: saved and loaded (.keras)")


for targets in ("mixed", "dominant"):
    for per_example in (False, True):
        loss_equals_hand_mixed_loss(targets, per_example)
same_seed_same_draws()
sampler_moments()
save_and_load()
fit_with_schedule_and_jit(jit_compile=BACKEND == "jax")
if BACKEND == "jax":
    fit_with_schedule_and_jit(jit_compile=False)
transform_in_tf_data()
if BACKEND != "tensorflow":
    tf_data_use_of_the_layer_fails_clearly()
print("ALL OK")

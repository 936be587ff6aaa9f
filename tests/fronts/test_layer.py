"""MixupLayer and MixupLoss: targets mixed in the loss, identity at inference, saving, XLA."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupLayer, MixupLoss, blend, sample_mix_params

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 5)).astype("float32")
Y = np.arange(8) % 3


def build(mixup, *, loss="sparse_categorical_crossentropy", mode="graph", **loss_kwargs):
    model = keras.Sequential([keras.Input((5,)), mixup, keras.layers.Dense(3)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=MixupLoss(loss, layer=mixup, **loss_kwargs),
        run_eagerly=mode == "eager",
        jit_compile=mode == "xla",
    )
    # Confident predictions, so that mixed and unmixed targets give clearly different losses.
    model.layers[-1].kernel.assign(
        np.random.default_rng(1).normal(size=(5, 3)).astype("float32") * 2
    )
    return model


def plain_twin(model):
    """The same network without the MixupLayer, with the same weights."""
    twin = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    twin.set_weights(model.get_weights()[-2:])
    return twin


def params_of_next_step(mixup, batch_size, mode):
    """The parameters the layer will draw in its next training step: the seed
    generator's current state, through the same sampler in the same mode."""

    def draw(seed):
        return sample_mix_params(seed, batch_size, mixup.alpha, per_example=mixup.per_example)

    if mode == "xla":
        draw = tf.function(draw, jit_compile=True)
    return draw(tf.constant(mixup.seed_generator.state.numpy()))


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
@pytest.mark.parametrize("per_example", [False, True])
def test_training_loss_equals_loss_on_hand_mixed_inputs_and_targets(mode, per_example):
    mixup = MixupLayer(alpha=1.0, per_example=per_example, seed=3)
    model = build(mixup, mode=mode, from_logits=True)
    twin = plain_twin(model)
    params = params_of_next_step(mixup, len(X), mode)
    loss = model.train_on_batch(X, Y)
    x_mixed = blend(tf.constant(X), params)
    y_mixed = blend(tf.one_hot(Y, 3), params)
    expected = keras.losses.CategoricalCrossentropy(from_logits=True)(y_mixed, twin(x_mixed))
    np.testing.assert_allclose(loss, float(expected), rtol=1e-5)
    # and it is not the loss of unmixed targets on mixed inputs (the 'inputs only' ablation)
    inputs_only = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(Y, twin(x_mixed))
    assert not np.isclose(loss, float(inputs_only), rtol=1e-3)


def test_one_hot_targets_regression_loss_and_sample_weights():
    mixup = MixupLayer(alpha=0.5, seed=1)
    model = build(mixup, loss="mse")
    twin = plain_twin(model)
    targets = RNG.normal(size=(8, 3)).astype("float32")
    weights = RNG.random(8).astype("float32")
    params = params_of_next_step(mixup, 8, "graph")
    loss = model.train_on_batch(X, targets, sample_weight=weights)
    expected = keras.losses.MeanSquaredError()(
        blend(tf.constant(targets), params),
        twin(blend(tf.constant(X), params)),
        sample_weight=blend(tf.constant(weights), params),
    )
    np.testing.assert_allclose(loss, float(expected), rtol=1e-5)


def test_fit_with_function_loss_and_one_hot_labels():
    mixup = MixupLayer(alpha=1.0, seed=0)
    model = keras.Sequential(
        [keras.Input((5,)), mixup, keras.layers.Dense(3, activation="softmax")]
    )
    model.compile("adam", loss=MixupLoss(keras.losses.categorical_crossentropy, layer=mixup))
    history = model.fit(X, np.eye(3)[Y], epochs=2, batch_size=3, verbose=0)  # odd, partial batches
    assert np.all(np.isfinite(history.history["loss"]))


def test_inference_is_identity_and_evaluate_uses_unmixed_targets():
    mixup = MixupLayer(alpha=1.0, seed=0)
    model = build(mixup, from_logits=True)
    model.fit(X, Y, epochs=1, verbose=0)
    twin = plain_twin(model)
    np.testing.assert_allclose(model.predict(X, verbose=0), twin.predict(X, verbose=0), rtol=1e-6)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(Y, twin(X))
    np.testing.assert_allclose(model.evaluate(X, Y, verbose=0), float(expected), rtol=1e-5)
    np.testing.assert_array_equal(mixup(X, training=False).numpy(), X)
    np.testing.assert_array_equal(mixup(X).numpy(), X)  # training defaults to inference


def test_uint8_inputs_become_floats_in_training_and_inference():
    """keras.layers.MixUp returns float32 when training and uint8 when not."""
    mixup = MixupLayer(alpha=1.0, inputs_only=True, seed=0)
    images = RNG.integers(0, 256, (4, 6, 6, 3), dtype=np.uint8)
    assert mixup(images, training=True).dtype == "float32"
    assert mixup(images, training=False).dtype == "float32"


def test_exported_savedmodel_is_identity(tmp_path):
    mixup = MixupLayer(alpha=1.0, seed=0)
    model = build(mixup, from_logits=True)
    model.fit(X, Y, epochs=1, verbose=0)
    model.export(str(tmp_path / "exported"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "exported"))
    served = reloaded.serve(tf.constant(X))
    np.testing.assert_allclose(served.numpy(), model.predict(X, verbose=0), rtol=1e-6)


def test_missing_mixup_loss_is_an_error_not_a_silent_inputs_only_ablation():
    mixup = MixupLayer(alpha=1.0)
    model = keras.Sequential([keras.Input((5,)), mixup, keras.layers.Dense(3)])
    model.compile("sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(
        ValueError,
        match=r"no MixupLoss is bound to it.*'mix inputs only' ablation.*inputs_only=True",
    ):
        model.fit(X, Y, verbose=0)


def test_inputs_only_opt_in_trains_on_unmixed_targets():
    mixup = MixupLayer(alpha=1.0, inputs_only=True, seed=2)
    model = keras.Sequential([keras.Input((5,)), mixup, keras.layers.Dense(3)])
    model.compile(
        keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    twin = plain_twin(model)
    params = params_of_next_step(mixup, 8, "graph")
    loss = model.train_on_batch(X, Y)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        Y, twin(blend(tf.constant(X), params))
    )
    np.testing.assert_allclose(loss, float(expected), rtol=1e-5)


def test_alpha_zero_trains_as_plain_erm():
    mixup = MixupLayer(alpha=0.0)
    model = build(mixup, from_logits=True)
    twin = plain_twin(model)
    loss = model.train_on_batch(X, Y)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(Y, twin(X))
    np.testing.assert_allclose(loss, float(expected), rtol=1e-6)


def test_mixup_loss_argument_errors():
    with pytest.raises(TypeError, match=r"`layer` must be the MixupLayer"):
        MixupLoss("mse", layer=None)
    with pytest.raises(ValueError, match=r"ignore_class=0"):
        MixupLoss(keras.losses.SparseCategoricalCrossentropy(ignore_class=0), layer=MixupLayer())
    with pytest.raises(TypeError, match=r"only be given with a loss name"):
        MixupLoss(keras.losses.MeanSquaredError(), layer=MixupLayer(), from_logits=True)
    with pytest.raises(
        ValueError, match=r"follows MixupLayer 'mixup_layer(_\d+)?', which has not run"
    ):
        MixupLoss("mse", layer=MixupLayer())(tf.zeros((2, 3)), tf.zeros((2, 3)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"alpha": -0.1}, ValueError, r"alpha=-0\.1"),
        ({"num_classes": 0}, ValueError, r"`num_classes` must be a positive integer"),
        ({"seed": 1.5}, TypeError, r"`seed` must be an int or None; got 1\.5"),
    ],
)
def test_layer_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        MixupLayer(**kwargs)


def test_get_config_round_trip():
    layer = MixupLayer(
        alpha=0.4, num_classes=7, per_example=True, inputs_only=True, seed=9, name="mix"
    )
    config = layer.get_config()
    clone = MixupLayer.from_config(config)
    assert clone.get_config() == config
    assert (clone.alpha, clone.num_classes, clone.per_example, clone.inputs_only, clone.seed) == (
        0.4,
        7,
        True,
        True,
        9,
    )


def test_keras_file_round_trip_keeps_the_bound_loss(tmp_path):
    mixup = MixupLayer(alpha=0.3, seed=5, name="mixup_saved")
    model = build(mixup, from_logits=True)
    model.fit(X, Y, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.layers[0], MixupLayer) and loaded.layers[0].alpha == 0.3
    assert isinstance(loaded.loss, MixupLoss) and loaded.loss.layer is loaded.layers[0]
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    assert np.isfinite(loaded.fit(X, Y, epochs=1, verbose=0).history["loss"][0])


@pytest.mark.parametrize(
    "policy_name, dtype", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")]
)
@pytest.mark.parametrize("jit_compile", [False, True])
def test_trains_under_mixed_precision_and_xla(policy, policy_name, dtype, jit_compile):
    policy(policy_name)
    mixup = MixupLayer(alpha=1.0, seed=0)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            mixup,
            keras.layers.Conv2D(4, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
            keras.layers.Activation("linear", dtype="float32"),
        ]
    )
    model.compile(
        "adam",
        loss=MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
        jit_compile=jit_compile,
    )
    images = RNG.integers(0, 256, (12, 6, 6, 1), dtype=np.uint8)
    history = model.fit(images, np.arange(12) % 3, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert mixup(images, training=False).dtype == dtype


def test_in_tf_data_like_a_preprocessing_layer():
    n = 6
    layer = MixupLayer(alpha=1.0, num_classes=n, seed=0)
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.eye(n, dtype=np.uint8), np.arange(n), np.ones(n))
    ).batch(n)
    ((x, y, w),) = list(dataset.map(layer))
    assert x.dtype == tf.float32 and y.dtype == tf.float32 and w.dtype == tf.float32
    np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-6)
    assert not np.array_equal(y.numpy(), np.eye(n))  # it mixed
    ((x2, y2),) = list(
        tf.data.Dataset.from_tensor_slices((np.eye(n, dtype=np.float32), np.arange(n)))
        .batch(n)
        .map(lambda a, b: layer(a, b, training=False))
    )
    np.testing.assert_array_equal(y2.numpy(), np.eye(n))


def test_tf_data_use_needs_num_classes_for_integer_labels():
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.zeros((4, 2), np.float32), np.arange(4))
    ).batch(4)
    with pytest.raises(ValueError, match="pass num_classes="):
        dataset.map(MixupLayer(alpha=1.0))


def test_a_keras_file_saved_by_0_2_0_still_loads():
    """tests/fixtures/mixup_layer_0.2.0.keras: saved by keras_mixup 0.2.0 (commit 28fd075)
    after one epoch, with alpha then scheduled to 0.7 (kept in the layer's variable)."""
    import json
    import zipfile

    from packaging.version import Version

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    with zipfile.ZipFile(fixtures / "mixup_layer_0.2.0.keras") as archive:
        saved_with = json.loads(archive.read("metadata.json"))["keras_version"]
    if Version(keras.__version__) < Version(saved_with):
        pytest.skip(
            f"saved with Keras {saved_with}, whose Dense configs an older Keras cannot read"
        )
    loaded = keras.models.load_model(fixtures / "mixup_layer_0.2.0.keras")
    layer = loaded.layers[0]
    assert isinstance(layer, MixupLayer) and layer.name == "mixup_v020"
    assert (layer.alpha, layer.per_example, layer.cutmix_alpha, layer.switch_prob) == (
        pytest.approx(0.7),
        True,
        1.0,
        0.25,
    )
    assert isinstance(loaded.loss, MixupLoss) and loaded.loss.layer is layer
    x = np.random.default_rng(0).random((8, 6, 6, 1)).astype("float32")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0),
        np.load(fixtures / "mixup_layer_0.2.0_predictions.npy"),
        rtol=1e-6,
    )
    history = loaded.fit(x, np.arange(8) % 3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# ---------------------------------------------------------------- messages that mislead


def test_loss_bound_to_another_layer_says_which():
    outside = MixupLayer(name="mixup_outside")
    inside = MixupLayer(name="mixup_inside")
    model = keras.Sequential([keras.Input((5,)), inside, keras.layers.Dense(3)])
    model.compile("sgd", MixupLoss("sparse_categorical_crossentropy", layer=outside))
    with pytest.raises(
        ValueError,
        match=r"'mixup_inside'.*follow the layer\(s\) \[.*'mixup_outside'.*\].*one MixupLayer called on all of them",
    ):
        model.train_on_batch(X, Y)


def test_one_layer_per_input_is_told_to_use_one_layer_for_all_inputs():
    a, b = keras.Input((5,)), keras.Input((2,))
    mix_a, mix_b = MixupLayer(name="mix_a"), MixupLayer(name="mix_b")
    merged = keras.layers.Concatenate()([mix_a(a), mix_b(b)])
    model = keras.Model([a, b], keras.layers.Dense(3)(merged))
    model.compile("sgd", MixupLoss("sparse_categorical_crossentropy", layer=mix_a))
    with pytest.raises(ValueError, match=r"MixupLayer 'mix_b'.*mixup\(\[x1, x2\]\)"):
        model.train_on_batch([X, X[:, :2]], Y)


def test_one_layer_mixes_a_list_of_inputs_with_the_same_parameters():
    a, b = keras.Input((5,)), keras.Input((2,))
    mixup = MixupLayer(alpha=1.0, seed=3)
    mixed_a, mixed_b = mixup([a, b])
    model = keras.Model(
        [a, b], keras.layers.Dense(3)(keras.layers.Concatenate()([mixed_a, mixed_b]))
    )
    model.compile(
        "sgd", MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True)
    )
    assert np.isfinite(model.train_on_batch([X, X[:, :2]], Y))
    inputs_only = MixupLayer(alpha=1.0, seed=3, inputs_only=True)
    out_a, out_b = inputs_only([X, X[:, :2]], training=True)
    lam = inputs_only.record.params.mix_weight.numpy()[:, None]
    other = inputs_only.record.params.partner_weight.numpy()[:, None]
    perm = inputs_only.record.params.permutation.numpy()
    np.testing.assert_allclose(out_a.numpy(), lam * X + other * X[perm], rtol=1e-6)
    np.testing.assert_allclose(out_b.numpy(), lam * X[:, :2] + other * X[perm, :2], rtol=1e-6)

"""Each case a new user met that gave a silently wrong result: now right, or an error
that says what is wrong (issue "one mixing core ... and nothing silently wrong")."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupAccuracy, MixupLayer, MixupLoss, MixupTransform

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 5)).astype("float32")
Y = np.arange(8) % 3


def sequential(mixup, *, mode="graph", metrics=()):
    model = keras.Sequential([keras.Input((5,)), mixup, keras.layers.Dense(3)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        loss=MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
        metrics=list(metrics),
        run_eagerly=mode == "eager",
        jit_compile=mode == "xla",
    )
    model.layers[-1].kernel.assign(RNG.normal(size=(5, 3)).astype("float32") * 3)
    return model


# ---------------------------------------------------------------- training accuracy


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_mixup_accuracy_in_a_model_is_the_lambda_weighted_accuracy(mode):
    mixup = MixupLayer(alpha=1.0, seed=4)
    model = sequential(mixup, mode=mode, metrics=[MixupAccuracy(layer=mixup), "accuracy"])
    logs = model.train_on_batch(X, Y, return_dict=True)
    if mode == "eager":  # the record holds this step's values
        lam = mixup.record.params.mix_weight.numpy()
        perm = mixup.record.params.permutation.numpy()
        twin = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
        twin.set_weights(model.layers[-1].get_weights())
        mixed_x = lam[:, None] * X + (1 - lam[:, None]) * X[perm]
        predicted = np.argmax(twin(mixed_x).numpy(), axis=1)
        expected = np.mean(lam * (predicted == Y) + (1 - lam) * (predicted == Y[perm]))
        assert logs["mixup_accuracy"] == pytest.approx(expected, abs=1e-6)
    # in evaluation the layer does not mix: plain accuracy
    result = model.evaluate(X, Y, verbose=0, return_dict=True)
    assert result["mixup_accuracy"] == pytest.approx(result["accuracy"], abs=1e-6)


def test_mixup_accuracy_on_transform_targets_is_the_mass_on_the_predicted_class():
    transform = MixupTransform(alpha=1.0, num_classes=3, seed=0)
    x, targets = transform(tf.constant(X), tf.constant(Y))
    logits = RNG.normal(size=(8, 3)).astype("float32")
    metric = MixupAccuracy()
    metric.update_state(targets, logits)
    expected = targets.numpy()[np.arange(8), logits.argmax(axis=1)].mean()
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
    metric.reset_state()
    metric.update_state(Y, logits)  # integer labels: plain accuracy
    assert float(metric.result()) == pytest.approx(np.mean(logits.argmax(axis=1) == Y))


def test_a_perfect_classifier_scores_at_least_the_larger_mix_weight():
    """On mixed pairs a perfect classifier predicts the class with the larger weight, so
    its lambda-weighted accuracy is at least max(lam, 1 - lam) (1 for same-class pairs);
    plain 'accuracy' would score it 1 / 3 whenever lam < 1/2."""
    mixup = MixupLayer(alpha=1.0, seed=1)
    features = np.eye(6, dtype="float32").repeat(20, axis=0)
    labels = np.arange(6).repeat(20) % 3
    model = keras.Sequential([keras.Input((6,)), mixup, keras.layers.Dense(3)])
    model.compile(
        keras.optimizers.SGD(0.0),
        MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
        metrics=[MixupAccuracy(layer=mixup)],
        run_eagerly=True,
    )
    kernel = np.zeros((6, 3), "float32")
    kernel[np.arange(6), np.arange(6) % 3] = 10.0  # a perfect classifier
    model.layers[-1].kernel.assign(kernel)
    history = model.fit(features, labels, batch_size=120, epochs=1, verbose=0, shuffle=False)
    lam = float(mixup.record.params.mix_weight.numpy()[0])
    # a perfect model's lambda-weighted accuracy on mixed pairs is ~1 (it predicts the
    # class with the larger weight); plain accuracy counts every pair as half wrong
    assert history.history["mixup_accuracy"][0] >= max(lam, 1 - lam) - 0.02


# ---------------------------------------------------------------- class ids in a model


@pytest.mark.parametrize("bad_id", [14, -5])
@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_out_of_range_class_ids_raise_in_training(mode, bad_id):
    mixup = MixupLayer(alpha=1.0, seed=0)
    model = sequential(mixup, mode=mode)
    labels = Y.copy()
    labels[2] = bad_id
    with pytest.raises(
        (ValueError, tf.errors.InvalidArgumentError), match=r"class ids in \[0, num_classes=3\)"
    ):
        model.train_on_batch(X, labels)


def test_out_of_range_class_ids_make_the_xla_loss_nan_not_a_zero_row():
    mixup = MixupLayer(alpha=1.0, seed=0)
    model = sequential(mixup, mode="xla")
    labels = Y.copy()
    labels[2] = 14
    assert np.isfinite(model.train_on_batch(X, Y))
    assert np.isnan(model.train_on_batch(X, labels))


# ---------------------------------------------------------------- elements in tf.data


def test_layer_in_tf_data_rejects_a_dict_element_naming_its_keys():
    dataset = tf.data.Dataset.from_tensor_slices({"pixels": X, "target": Y}).batch(4)
    with pytest.raises(
        ValueError, match=r"keys \['pixels', 'target'\].*lambda d: \(d\['pixels'\], d\['target'\]\)"
    ):
        dataset.map(MixupLayer(num_classes=3))


def test_layer_in_tf_data_rejects_features_alone():
    dataset = tf.data.Dataset.from_tensor_slices(X).batch(4)
    with pytest.raises(ValueError, match=r"got features alone .* no labels to mix"):
        dataset.map(MixupLayer(num_classes=3))


def test_dict_advice_uses_the_dataset_keys():
    dataset = tf.data.Dataset.from_tensor_slices({"image": X, "meta": X[:, :2], "label": Y}).batch(
        4
    )
    with pytest.raises(
        ValueError, match=r"\{'image': d\['image'\], 'meta': d\['meta'\]\}, d\['label'\]"
    ):
        dataset.map(MixupTransform(num_classes=3))
    dataset = tf.data.Dataset.from_tensor_slices({"a": X, "b": Y}).batch(4)
    with pytest.raises(
        ValueError, match=r"d\[<features key>\], d\[<labels key>\]\)\) with your keys \('a', 'b'\)"
    ):
        dataset.map(MixupTransform(num_classes=3))


@pytest.mark.parametrize("front", ["transform", "layer"])
def test_float_labels_of_another_width_than_num_classes_raise(front):
    one_hot = np.eye(5, dtype="float32")[np.arange(8) % 5]
    dataset = tf.data.Dataset.from_tensor_slices((X, one_hot)).batch(4)
    stage = MixupTransform(num_classes=10) if front == "transform" else MixupLayer(num_classes=10)
    with pytest.raises(
        ValueError, match=r"5 entries on their class \(last\) axis .* num_classes=10"
    ):
        dataset.map(stage)


def test_errors_in_the_map_form_are_the_library_message_not_an_autograph_summary():
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)
    with pytest.raises(ValueError) as caught:
        dataset.map(MixupTransform())
    assert str(caught.value).startswith("`labels` are integer class ids")


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

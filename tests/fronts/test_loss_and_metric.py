"""MixupLoss and MixupAccuracy against hand-mixed values: the lambda-weighted accuracy in a
model and on transform targets, class ids out of range in training (an error, NaN under
XLA), binary and multi-label heads, and one rule for integer labels in the loss and the
metric (from the "nothing silently wrong" rounds)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupAccuracy, MixupLayer, MixupLoss, MixupTransform
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.structures import Parts

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


def binary_model(mixup, units=1, loss="binary_crossentropy", metrics=(), **loss_kwargs):
    model = keras.Sequential(
        [keras.Input((5,)), mixup, keras.layers.Dense(units, activation="sigmoid")]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        loss=MixupLoss(loss, layer=mixup, **loss_kwargs),
        metrics=list(metrics),
    )
    return model


# ---------------------------------------------------------------- 1. binary heads


@pytest.mark.parametrize("label, expected", [(0, 1.0), (1, 0.0)])
@pytest.mark.parametrize("shape", [(8,), (8, 1)])
def test_binary_accuracy_of_a_one_unit_head_on_transform_targets(label, expected, shape):
    """A head that predicts 0.02 everywhere is right on all-0 labels and wrong on all-1
    labels (the argmax over one unit read 0.0 and 1.0: inverted)."""
    metric = MixupAccuracy()
    metric.update_state(np.full(shape, float(label), "float32"), np.full((8, 1), 0.02, "float32"))
    assert float(metric.result()) == expected


def test_binary_accuracy_is_lambda_weighted_per_unit_and_averaged_over_labels():
    metric = MixupAccuracy(multi_label=True, threshold=0.5)
    targets = np.array([[0.7, 0.0, 1.0], [0.2, 0.9, 0.5]], "float32")  # mixed multi-hot
    predictions = np.array([[0.9, 0.1, 0.3], [0.6, 0.8, 0.4]], "float32")
    metric.update_state(targets, predictions)
    # per unit: t * [p > 0.5] + (1 - t) * [p <= 0.5]
    expected = np.mean([(0.7 + 1.0 + 0.0) / 3, (0.2 + 0.9 + 0.5) / 3])
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("shape", [(8,), (8, 1)])
def test_binary_loss_takes_integer_labels_and_equals_the_hand_mixed_loss(shape):
    mixup = MixupLayer(alpha=1.0, seed=3)
    model = binary_model(mixup, metrics=[MixupAccuracy(layer=mixup)])
    labels = (np.arange(8) % 2).astype("int32").reshape(shape)
    logs = model.train_on_batch(X, labels, return_dict=True)
    params = mixup.spec.draw(
        np.array([3, 0], "int32"),
        Parts(X),
        mixup.spec.runtime_values(),
        owner="",
        ops=NUMPY,
    )
    own, other, perm = params.mix_weight, params.partner_weight, params.permutation
    y = labels.reshape(-1).astype("float64")
    mixed_y = own * y + other * y[perm]
    mixed_x = own[:, None] * X + other[:, None] * X[perm]
    kernel, bias = (keras.ops.convert_to_numpy(v) for v in model.layers[-1].weights)
    p = 1 / (1 + np.exp(-(mixed_x @ kernel + bias)[:, 0]))
    eps = 1e-7
    p = np.clip(p, eps, 1 - eps)
    expected = np.mean(-(mixed_y * np.log(p) + (1 - mixed_y) * np.log(1 - p)))
    assert logs["loss"] == pytest.approx(expected, rel=1e-4)
    predicted = (p > 0.5).astype(float)
    mass = mixed_y * predicted + (1 - mixed_y) * (1 - predicted)
    assert logs["mixup_accuracy"] == pytest.approx(mass.mean(), abs=1e-6)


def test_multi_label_head_metric_follows_the_binary_loss_it_is_bound_with():
    mixup = MixupLayer(alpha=0.0, seed=0)  # alpha 0: targets as given, exact metric values
    metric = MixupAccuracy(layer=mixup)
    model = binary_model(mixup, units=3, loss="binary_crossentropy", metrics=[metric])
    multi_hot = (RNG.random((8, 3)) > 0.5).astype("int32")
    logs = model.train_on_batch(X, multi_hot, return_dict=True)
    predicted = (keras.ops.convert_to_numpy(model(X)) > 0.5).astype(int)
    assert logs["mixup_accuracy"] == pytest.approx((predicted == multi_hot).mean(), abs=1e-6)


def test_logits_and_threshold_follow_the_bound_loss():
    mixup = MixupLayer(alpha=0.0, seed=0)
    metric = MixupAccuracy(layer=mixup)
    model = keras.Sequential([keras.Input((5,)), mixup, keras.layers.Dense(1)])
    model.compile(
        "sgd", MixupLoss("binary_crossentropy", layer=mixup, from_logits=True), metrics=[metric]
    )
    labels = (np.arange(8) % 2).astype("int32")
    logs = model.train_on_batch(X, labels, return_dict=True)
    predicted = (keras.ops.convert_to_numpy(model(X))[:, 0] > 0.0).astype(int)  # logit 0 = p 0.5
    assert logs["mixup_accuracy"] == pytest.approx((predicted == labels).mean(), abs=1e-6)


def test_binary_labels_out_of_range_raise_with_the_library_words():
    mixup = MixupLayer(alpha=1.0, seed=0)
    model = binary_model(mixup)
    model.compile(
        optimizer="sgd", loss=MixupLoss("binary_crossentropy", layer=mixup), run_eagerly=True
    )
    with pytest.raises(ValueError, match=r"binary labels \(0 or 1\)"):
        model.train_on_batch(X, np.full(8, 2, "int32"))


@pytest.mark.parametrize(
    "width, binary_loss, expected",
    [
        (1, True, "probabilities"),
        (3, True, "probabilities"),
        (1, False, "values"),
        (3, False, "class_ids"),
    ],
)
def test_one_rule_for_integer_labels_of_the_loss_and_the_metric(width, binary_loss, expected):
    """issue 28 item 4: the loss and the metric read integer labels by one rule."""
    from keras_mixup._src.core.labels import integer_labels

    assert integer_labels(width, binary_loss=binary_loss) == expected
    mixup = MixupLayer(alpha=0.0)
    loss = MixupLoss("binary_crossentropy" if binary_loss else "mse", layer=mixup)
    assert loss.integer_labels(width) == expected


def test_a_one_unit_regression_head_metric_reads_integer_labels_as_the_loss_does():
    """mse on one unit: the loss reads integer labels as values. 0/1 values give the
    lambda-weighted binary accuracy of the same mixed targets; other values raise the
    metric's error (before: the metric read them as 0/1 binary labels, the loss as
    values)."""
    mixup = MixupLayer(alpha=1.0, seed=5)
    metric = MixupAccuracy(layer=mixup)
    model = binary_model(mixup, loss="mse", metrics=[metric])
    labels = (np.arange(8) % 2).astype("int32")
    logs = model.train_on_batch(X, labels, return_dict=True)
    params = mixup.spec.draw(
        np.array([5, 0], "int32"), Parts(X), mixup.spec.runtime_values(), owner="", ops=NUMPY
    )
    y = labels.astype("float64")
    mixed_y = params.mix_weight * y + params.partner_weight * y[params.permutation]
    mixed_x = (
        params.mix_weight[:, None] * X + params.partner_weight[:, None] * X[params.permutation]
    )
    kernel, bias = (keras.ops.convert_to_numpy(v) for v in model.layers[-1].weights)
    p = 1 / (1 + np.exp(-(mixed_x @ kernel + bias)[:, 0]))
    assert logs["loss"] == pytest.approx(np.mean((mixed_y - p) ** 2), rel=1e-4)
    predicted = (p > 0.5).astype(float)
    mass = mixed_y * predicted + (1 - mixed_y) * (1 - predicted)
    assert logs["mixup_accuracy"] == pytest.approx(mass.mean(), abs=1e-6)

    model.compile(
        optimizer="sgd", loss=MixupLoss("mse", layer=mixup), metrics=[metric], run_eagerly=True
    )
    with pytest.raises(
        ValueError,
        match=r"probabilities in \[0, 1\].*regression values.*"
        r"first offending value is (3|2\.99)",
    ):
        model.train_on_batch(X, np.full(8, 3, "int32"))

"""The options behind the paper's ablations (Table 5): same-class pairing, dominant
targets ("mix inputs only"), label smoothing, latent mixing, nearest-neighbour partners."""

import collections
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_mixup import (
    MixParams,
    MixupLayer,
    MixupLoss,
    MixupTransform,
    NeighbourMixup,
    blend,
    nearest_neighbours,
    sample_mix_params,
)
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.core.mixing import mix_parts, select_dominant
from keras_mixup._src.core.structures import Parts as Batch

# --- same-class pairing -------------------------------------------------------------


def test_same_class_permutation_stays_in_class_and_is_a_permutation():
    classes = tf.constant([2, 0, 2, 1, 0, 2, 2, 1, 5])
    for seed in range(20):
        params = sample_mix_params(
            tf.constant([seed, 7]), 9, 1.0, pairing="same_class", labels=classes
        )
        perm = params.permutation.numpy()
        assert sorted(perm.tolist()) == list(range(9))
        np.testing.assert_array_equal(classes.numpy()[perm], classes.numpy())
        assert perm[8] == 8  # alone in its class: its own partner


def test_same_class_permutation_is_uniform_within_each_class():
    """All 3! permutations of a class of three, and both of a class of two, equally often."""
    classes = tf.constant([0, 1, 0, 1, 0])
    draw = tf.function(
        lambda s: sample_mix_params(s, 5, 1.0, pairing="same_class", labels=classes).permutation
    )
    counts = collections.Counter()
    trials = 3000
    for seed in range(trials):
        perm = draw(tf.constant([seed, 11])).numpy()
        counts[tuple(perm[[0, 2, 4]]), tuple(perm[[1, 3]])] += 1
    assert len(counts) == 12
    assert stats.chisquare(list(counts.values())).pvalue > 1e-3


def test_same_class_pairing_compiles_under_xla_with_the_same_result():
    classes = tf.constant([3, 1, 3, 3, 1, 0])

    def draw(seed):
        return sample_mix_params(seed, 6, 0.4, pairing="same_class", labels=classes)

    seed = tf.constant([5, 6])
    eager, compiled = draw(seed), tf.function(draw, jit_compile=True)(seed)
    np.testing.assert_array_equal(eager.permutation, compiled.permutation)


def test_transform_same_class_pairing_mixes_only_within_classes():
    x = np.arange(12, dtype="float32").reshape(12, 1) * 10.0
    y = np.array([0, 1, 2] * 4)
    transform = MixupTransform(alpha=1.0, num_classes=3, seed=0, pairing="same_class")
    x_mixed, y_mixed = transform(tf.constant(x), tf.constant(y))
    # Targets unchanged: partners share the class.
    np.testing.assert_allclose(y_mixed, tf.one_hot(y, 3))
    # Each mixed feature lies between two features of the same class.
    for i in range(12):
        same = x[y == y[i], 0]
        low = min(x[i, 0], same.min())
        assert low - 1e-4 <= x_mixed[i, 0] <= max(x[i, 0], same.max()) + 1e-4


def test_transform_same_class_pairing_with_one_hot_labels_and_errors():
    y = tf.one_hot([0, 0, 1, 1], 2)
    transform = MixupTransform(alpha=1.0, seed=0, pairing="same_class")
    _, y_mixed = transform(tf.zeros((4, 2)), y)
    np.testing.assert_allclose(y_mixed, y)
    with pytest.raises(ValueError, match="one class per example"):
        transform(tf.zeros((4, 2)), tf.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match=r"`pairing` must be one of .*got pairing='knn'"):
        MixupTransform(pairing="knn")


# --- dominant targets and label smoothing ------------------------------------------

PARAMS = MixParams(
    mix_weight=tf.constant([0.7, 0.7, 0.3, 0.5]), permutation=tf.constant([1, 2, 3, 0])
)


def test_dominant_targets_pick_the_larger_weight_exactly():
    y = tf.one_hot([0, 1, 2, 3], 4)
    expected = tf.one_hot([0, 1, 3, 3], 4)  # rows 0,1: own (0.7); row 2: partner 3; 0.5: own
    np.testing.assert_array_equal(select_dominant(y, PARAMS, ops=TENSORFLOW), expected)
    batch = Batch(
        tf.constant([[0.0], [10.0], [20.0], [30.0]]),
        tf.constant([0, 1, 2, 3]),
        tf.constant([1.0, 2.0, 3.0, 4.0]),
    )
    mixed = mix_parts(
        batch, PARAMS, num_classes=4, feature_dtype="float32", targets="dominant", ops=TENSORFLOW
    )
    np.testing.assert_allclose(mixed.features, [[3.0], [13.0], [27.0], [15.0]])
    np.testing.assert_array_equal(mixed.labels, expected)
    np.testing.assert_array_equal(mixed.sample_weight, [1.0, 2.0, 4.0, 4.0])


def test_label_smoothing_exact_values_and_commutes_with_mixing():
    batch = Batch(tf.zeros((4, 1)), tf.constant([0, 1, 2, 3]))
    smoothed = mix_parts(
        batch, None, num_classes=4, feature_dtype="float32", label_smoothing=0.2, ops=TENSORFLOW
    )
    # eps / K = 0.05 for the wrong classes, 1 - eps (K - 1) / K = 0.85 for the right one.
    np.testing.assert_allclose(smoothed.labels, 0.05 + 0.8 * np.eye(4), rtol=1e-6)
    mixed = mix_parts(
        batch, PARAMS, num_classes=4, feature_dtype="float32", label_smoothing=0.2, ops=TENSORFLOW
    )
    mixed_then_smoothed = 0.8 * blend(tf.one_hot([0, 1, 2, 3], 4), PARAMS) + 0.05
    np.testing.assert_allclose(mixed.labels, mixed_then_smoothed, rtol=1e-6)


def test_transform_dominant_targets_are_one_hot_and_options_are_validated():
    transform = MixupTransform(alpha=1.0, num_classes=3, seed=1, targets="dominant")
    _, y = transform(tf.zeros((16, 2)), tf.constant(np.arange(16) % 3))
    np.testing.assert_array_equal(tf.reduce_max(y, axis=1), np.ones(16))
    np.testing.assert_array_equal(tf.reduce_sum(y, axis=1), np.ones(16))
    assert transform.get_config()["targets"] == "dominant"
    with pytest.raises(ValueError, match="`targets` must be one of"):
        MixupTransform(targets="hard")
    for bad in (-0.1, 1.0, "0.1", True):
        with pytest.raises(ValueError, match="label_smoothing"):
            MixupTransform(label_smoothing=bad)


def _dense_model(mixup, loss):
    model = keras.Sequential([keras.Input((5,)), mixup, keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    model.layers[-1].kernel.assign(np.random.default_rng(1).normal(size=(5, 3)) * 2)
    return model


X = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
Y = np.arange(8) % 3


def _next_params(mixup, batch_size):
    state = tf.constant(mixup.seed_generator.state.numpy())
    return sample_mix_params(state, batch_size, mixup.alpha)


def test_layer_dominant_targets_loss_equals_hand_computed():
    mixup = MixupLayer(alpha=1.0, targets="dominant", seed=4)
    model = _dense_model(
        mixup, MixupLoss("sparse_categorical_crossentropy", mixup, from_logits=True)
    )
    dense = model.layers[-1]
    params = _next_params(mixup, len(X))
    logits = dense(blend(tf.constant(X), params))  # before the step changes the weights
    targets = select_dominant(tf.one_hot(Y, 3), params, ops=TENSORFLOW)
    expected = keras.losses.CategoricalCrossentropy(from_logits=True)(targets, logits)
    loss = model.train_on_batch(X, Y)
    np.testing.assert_allclose(loss, float(expected), rtol=1e-5)


def test_layer_with_label_smoothing_loss_equals_paper_targets():
    mixup = MixupLayer(alpha=1.0, seed=5)
    loss = MixupLoss(
        keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), mixup
    )
    model = _dense_model(mixup, loss)
    dense = model.layers[-1]
    params = _next_params(mixup, len(X))
    logits = dense(blend(tf.constant(X), params))
    targets = blend(tf.one_hot(Y, 3), params) * 0.9 + 0.1 / 3
    expected = -tf.reduce_mean(tf.reduce_sum(targets * tf.nn.log_softmax(logits), axis=1))
    value = model.train_on_batch(X, keras.utils.to_categorical(Y, 3))
    np.testing.assert_allclose(value, float(expected), rtol=1e-5)


# --- latent mixing --------------------------------------------------------------------


def test_mixup_layer_inside_a_model_mixes_latent_features_with_the_labels():
    """Layer k of Table 5: h = f(x) unmixed, g(lam h + (1 - lam) h[perm]) with mixed labels."""
    keras.utils.set_random_seed(0)
    mixup = MixupLayer(alpha=1.0, seed=6)
    inputs = keras.Input((5,))
    first = keras.layers.Dense(4, activation="relu")
    head = keras.layers.Dense(3)
    model = keras.Model(inputs, head(mixup(first(inputs))))
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=MixupLoss("sparse_categorical_crossentropy", mixup, from_logits=True),
    )
    params = _next_params(mixup, len(X))
    hidden = first(X)  # before the step changes the weights
    expected = keras.losses.CategoricalCrossentropy(from_logits=True)(
        blend(tf.one_hot(Y, 3), params), head(blend(hidden, params))
    )
    loss = model.train_on_batch(X, Y)
    np.testing.assert_allclose(loss, float(expected), rtol=1e-5)


# --- nearest neighbours ---------------------------------------------------------------


def _brute_force_neighbours(x, k, labels=None):
    flat = x.reshape(len(x), -1).astype("float64")
    distances = ((flat[:, None] - flat[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    if labels is not None:
        distances[labels[:, None] != labels[None]] = np.inf
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("same_class", [False, True])
def test_nearest_neighbours_match_brute_force(same_class):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(57, 3, 2)).astype("float32")
    labels = rng.integers(0, 3, 57) if same_class else None
    table = nearest_neighbours(x, k=5, labels=labels, chunk_size=16, verbose=0)
    np.testing.assert_array_equal(table, _brute_force_neighbours(x, 5, labels))


def test_nearest_neighbours_errors():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"`k` must be an integer between 1 and 4 .*got k=5"):
        nearest_neighbours(x, k=5, verbose=0)
    with pytest.raises(ValueError, match=r"between 1 and 1 \(the smallest class"):
        nearest_neighbours(x, k=2, labels=[0, 0, 1, 1, 1], verbose=0)
    with pytest.raises(ValueError, match="must have one row per example"):
        nearest_neighbours(x, k=1, labels=[0, 1], verbose=0)


def test_neighbour_mixup_mixes_each_example_with_one_of_its_neighbours():
    """Labels = the example's own index (one-hot over n), so a mixed label reveals
    both the partner j and lambda; features must then be lam x_i + (1 - lam) x_j."""
    n, k = 24, 3
    x = np.random.default_rng(1).normal(size=(n, 2)).astype("float32")
    table = nearest_neighbours(x, k=k, verbose=0)
    mixup = NeighbourMixup(x, np.arange(n), table, alpha=1.0, num_classes=n, seed=3)
    chosen = collections.Counter()
    for epoch_batches in itertools.islice(iter(mixup.dataset(8).repeat(30)), 90):
        xb, yb = (t.numpy() for t in epoch_batches)
        for row_x, row_y in zip(xb, yb, strict=True):
            i, j = np.argsort(row_y)[::-1][:2]
            if row_y[j] == 0:  # lambda = 1: nothing was mixed
                continue
            anchor, partner = (i, j) if j in table[i] else (j, i)
            assert partner in table[anchor]
            weight = row_y[anchor]
            np.testing.assert_allclose(
                row_x, weight * x[anchor] + (1 - weight) * x[partner], rtol=1e-4, atol=1e-5
            )
            chosen[list(table[anchor]).index(partner)] += 1
    assert sum(chosen.values()) > 300
    assert stats.chisquare([chosen[c] for c in range(k)]).pvalue > 1e-3


def test_neighbour_mixup_is_reproducible_and_validates_its_inputs():
    x = np.arange(10, dtype="float32").reshape(10, 1)
    table = nearest_neighbours(x, k=2, verbose=0)

    def first_batches(seed):
        mixup = NeighbourMixup(x, np.arange(10) % 2, table, 0.5, num_classes=2, seed=seed)
        return [b[0].numpy() for b in mixup.dataset(4)]

    for a, b in zip(first_batches(1), first_batches(1), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="num_classes"):
        NeighbourMixup(x, np.arange(10) % 2, table)
    with pytest.raises(ValueError, match="one row per example"):
        NeighbourMixup(x, np.arange(9) % 2, table, num_classes=2)
    with pytest.raises(ValueError, match=r"indices in \[0, 10\)"):
        NeighbourMixup(x, np.arange(10) % 2, table + 5, num_classes=2)

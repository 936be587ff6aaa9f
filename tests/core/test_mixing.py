"""Applying parameters: exact values with injected lambda and permutation, and properties."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_mixup import MixParams, blend
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.core.labels import to_float_targets as _to_float_targets
from keras_mixup._src.core.mixing import mix_parts
from keras_mixup._src.core.structures import Parts as Batch


def to_float_targets(labels, num_classes):
    return _to_float_targets(labels, num_classes, ops=TENSORFLOW)


def mix_batch(batch, params, *, num_classes, feature_dtype):
    return mix_parts(
        batch, params, num_classes=num_classes, feature_dtype=feature_dtype, ops=TENSORFLOW
    )


def params(weights, permutation):
    return MixParams(tf.constant(weights, tf.float32), tf.constant(permutation, tf.int32))


def test_blend_exact_values_per_batch_lambda():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = blend(x, params([0.25] * 3, [2, 0, 1]))
    expected = 0.25 * x.numpy() + 0.75 * x.numpy()[[2, 0, 1]]
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-6)


def test_blend_exact_values_per_example_lambda_rank4():
    x = np.arange(2 * 2 * 2 * 3, dtype=np.float32).reshape(2, 2, 2, 3)
    out = blend(tf.constant(x), params([0.9, 0.3], [1, 0])).numpy()
    np.testing.assert_allclose(out[0], 0.9 * x[0] + 0.1 * x[1], atol=1e-5)
    np.testing.assert_allclose(out[1], 0.3 * x[1] + 0.7 * x[0], atol=1e-5)


def test_blend_uint8_to_float_and_half_precision_uses_float32_lambda():
    x = tf.constant([[0], [255]], tf.uint8)
    p = params([0.3, 0.3], [1, 0])
    np.testing.assert_allclose(blend(x, p).numpy(), [[178.5], [76.5]], atol=1e-4)
    out16 = blend(x, p, tf.float16)
    assert out16.dtype == tf.float16
    np.testing.assert_array_equal(out16.numpy(), np.float16([[178.5], [76.5]]))
    assert blend(x, p, tf.bfloat16).dtype == tf.bfloat16


def test_blend_identity_permutation_and_lambda_one_is_exact():
    x = tf.constant(np.random.default_rng(0).normal(size=(5, 3)).astype("float32"))
    np.testing.assert_array_equal(blend(x, params([1.0] * 5, [4, 3, 2, 1, 0])).numpy(), x.numpy())


def test_rank1_float_labels_are_mixed_elementwise_not_broadcast():
    """keras.layers.MixUp broadcasts (B,) float targets to (B, B); we must not."""
    y = tf.constant([0.0, 10.0, 20.0])
    out = blend(y, params([0.5] * 3, [1, 2, 0]))
    assert out.shape == (3,)
    np.testing.assert_allclose(out.numpy(), [5.0, 15.0, 10.0])


def test_segmentation_mask_keeps_its_shape():
    """keras.layers.MixUp turns (B, H, W, 1) into (B, H, W, B)."""
    masks = tf.constant(np.random.default_rng(0).integers(0, 4, (3, 5, 5, 1)), tf.int32)
    targets = to_float_targets(masks, num_classes=4)
    assert targets.shape == (3, 5, 5, 4)
    assert blend(targets, params([0.7] * 3, [2, 0, 1])).shape == (3, 5, 5, 4)


@pytest.mark.parametrize(
    "labels, num_classes, expected",
    [
        ([2, 0], 3, [[0, 0, 1], [1, 0, 0]]),
        ([[2], [0]], 3, [[0, 0, 1], [1, 0, 0]]),
        ([[True, False], [True, True]], None, [[1, 0], [1, 1]]),
        ([[0.2, 0.8], [1.0, 0.0]], None, [[0.2, 0.8], [1.0, 0.0]]),
    ],
)
def test_to_float_targets(labels, num_classes, expected):
    out = to_float_targets(tf.constant(labels), num_classes)
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), expected)


def test_mix_batch_exact_values_nested_features_labels_and_weights():
    batch = Batch(
        features={
            "image": tf.constant([[0], [100]], tf.uint8),
            "meta": tf.constant([1.0, 3.0], tf.float64),
        },
        labels=tf.constant([0, 1]),
        sample_weight=tf.constant([1.0, 0.0]),
    )
    out = mix_batch(batch, params([0.75, 0.75], [1, 0]), num_classes=2, feature_dtype="float32")
    assert out.features["image"].dtype == tf.float32
    assert out.features["meta"].dtype == tf.float64  # floating features keep their dtype
    np.testing.assert_allclose(out.features["image"].numpy(), [[25.0], [75.0]])
    np.testing.assert_allclose(out.features["meta"].numpy(), [1.5, 2.5])
    np.testing.assert_allclose(out.labels.numpy(), [[0.75, 0.25], [0.25, 0.75]])
    np.testing.assert_allclose(out.sample_weight.numpy(), [0.75, 0.25])


def test_no_params_converts_with_the_same_dtypes_and_values_unchanged():
    batch = Batch(tf.constant([[1], [2]], tf.uint8), tf.constant([0, 1]), tf.constant([1, 2]))
    converted = mix_batch(batch, None, num_classes=2, feature_dtype="bfloat16")
    np.testing.assert_array_equal(converted.features.numpy(), [[1], [2]])
    np.testing.assert_array_equal(converted.labels.numpy(), [[1, 0], [0, 1]])
    mixed = mix_batch(batch, params([0.5, 0.5], [1, 0]), num_classes=2, feature_dtype="bfloat16")
    for a, b in zip(*(tf.nest.flatten(tuple(x[:3])) for x in (converted, mixed)), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape


batch_sizes = st.integers(1, 12)


@st.composite
def batches_with_params(draw):
    size = draw(batch_sizes)
    features = draw(hnp.arrays(np.float32, (size, 3), elements=st.floats(-1e3, 1e3, width=32)))
    weights = draw(hnp.arrays(np.float32, (size,), elements=st.floats(0, 1, width=32)))
    permutation = draw(st.permutations(list(range(size))))
    return features, weights, np.array(permutation, np.int32)


@settings(max_examples=60, deadline=None)
@given(batches_with_params())
def test_every_row_is_a_convex_combination_of_its_row_and_its_partner(data):
    features, weights, permutation = data
    out = blend(
        tf.constant(features), MixParams(tf.constant(weights), tf.constant(permutation))
    ).numpy()
    partner = features[permutation]
    low, high = np.minimum(features, partner), np.maximum(features, partner)
    tolerance = 1e-6 * np.maximum(np.abs(low), np.abs(high)) + 1e-30
    assert np.all(out >= low - tolerance) and np.all(out <= high + tolerance)
    np.testing.assert_allclose(
        out, weights[:, None] * features + (1 - weights[:, None]) * partner, rtol=1e-5, atol=1e-3
    )


@settings(max_examples=60, deadline=None)
@given(batches_with_params(), st.integers(2, 7))
def test_label_mass_is_preserved(data, num_classes):
    _, weights, permutation = data
    labels = np.arange(len(permutation)) % num_classes
    targets = to_float_targets(tf.constant(labels), num_classes)
    mixed = blend(targets, MixParams(tf.constant(weights), tf.constant(permutation))).numpy()
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(mixed >= 0)
    # Each row puts weight lambda on its own class and 1 - lambda on its partner's.
    for i, j in enumerate(permutation):
        expected = np.zeros(num_classes)
        expected[labels[i]] += weights[i]
        expected[labels[j]] += 1 - weights[i]
        np.testing.assert_allclose(mixed[i], expected, atol=1e-6)


def test_blend_with_a_cutmix_box_refuses_a_tensor_that_is_not_an_image():
    """The same image rule (and words) as the fronts' check, for hand-made parameters."""
    params = MixParams(
        mix_weight=np.full(2, 0.75, "float32"),
        permutation=np.array([1, 0], "int32"),
        box=np.array([[0, 0, 1, 1]] * 2, "int32"),
        cut=np.array([True, True]),
    )
    with pytest.raises(ValueError, match=r"CutMix needs images here .* shape \(2, 5\)"):
        blend(np.zeros((2, 5), "float32"), params)

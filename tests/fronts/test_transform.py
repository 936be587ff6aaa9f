"""MixupTransform in tf.data: element forms, labels, dtypes, errors, determinism, XLA."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupTransform
from tests.stats import float32_ks_pvalue

RNG = np.random.default_rng(0)


def identity_dataset(batch_size, num_batches, drop_remainder=True):
    """Features = labels = one-hot of the index in the batch: the output reveals
    lambda and the permutation (row i = lam * e_i + (1 - lam) * e_perm(i))."""
    eye = np.tile(np.eye(batch_size, dtype=np.float32), (num_batches, 1))
    ids = np.tile(np.arange(batch_size), num_batches)
    return tf.data.Dataset.from_tensor_slices((eye, ids)).batch(
        batch_size, drop_remainder=drop_remainder
    )


def recovered_lambda(x):
    """The per-batch lambda of an identity batch, from a row mixed with another row."""
    x = np.asarray(x)
    diagonal = np.diag(x)
    moved = diagonal < 1.0  # rows whose partner is another row (or lambda == 1)
    return float(diagonal[moved][0]) if moved.any() else 1.0


def batches(dataset):
    return [tuple(np.asarray(t) for t in element) for element in dataset]


# ---------------------------------------------------------------- element forms


def test_features_and_labels_get_the_same_lambda_and_pairing():
    for x, y in batches(
        identity_dataset(6, 20).map(MixupTransform(alpha=1.0, num_classes=6, seed=1))
    ):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-6)


def test_dict_and_nested_features_keep_structure_and_share_parameters():
    n = 8
    features = {
        "image": np.tile(np.eye(n, dtype=np.uint8)[:, :, None], (1, 1, 2)) * 255,
        "meta": {"position": np.eye(n, dtype=np.float32)},
    }
    dataset = tf.data.Dataset.from_tensor_slices((features, np.arange(n))).batch(n)
    ((x, y),) = list(dataset.map(MixupTransform(alpha=1.0, num_classes=n, seed=3)))
    assert set(x) == {"image", "meta"} and set(x["meta"]) == {"position"}
    assert x["image"].dtype == tf.float32 and x["meta"]["position"].dtype == tf.float32
    np.testing.assert_allclose(x["image"][..., 0].numpy() / 255, y.numpy(), atol=1e-6)
    np.testing.assert_allclose(x["meta"]["position"].numpy(), y.numpy(), atol=1e-7)


def test_sample_weights_are_mixed_like_labels():
    n = 5
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.eye(n, dtype=np.float32), np.arange(n), np.arange(n, dtype=np.int64))
    ).batch(n)
    ((x, y, w),) = list(dataset.map(MixupTransform(alpha=1.0, num_classes=n, seed=4)))
    assert w.dtype == tf.float32 and w.shape == (n,)
    np.testing.assert_allclose(w.numpy(), y.numpy() @ np.arange(n), atol=1e-5)


@pytest.mark.parametrize(
    "labels",
    [
        np.eye(4, dtype=np.float32)[RNG.integers(0, 4, 10)],  # one-hot
        RNG.dirichlet(np.ones(4), 10).astype(np.float32),  # soft
        RNG.random((10, 4)) < 0.5,  # multi-hot (bool)
        RNG.normal(size=(10,)).astype(np.float32),  # rank-1 regression
        RNG.normal(size=(10, 3, 2)).astype(np.float64),  # rank-3 regression
    ],
    ids=["one-hot", "soft", "multi-hot", "regression-rank1", "regression-rank3"],
)
def test_float_and_bool_labels_keep_their_shape_and_become_float32(labels):
    x = np.eye(10, dtype=np.float32)
    ((mx, my),) = list(
        tf.data.Dataset.from_tensor_slices((x, labels)).batch(10).map(MixupTransform(seed=5))
    )
    assert my.dtype == tf.float32 and my.shape == labels.shape
    flat_labels = labels.reshape(10, -1).astype(np.float64)
    np.testing.assert_allclose(my.numpy().reshape(10, -1), mx.numpy() @ flat_labels, atol=1e-5)


def test_integer_labels_need_num_classes():
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.zeros((4, 2), np.float32), np.arange(4))
    ).batch(4)
    with pytest.raises(ValueError, match=r"integer class ids .* pass num_classes="):
        dataset.map(MixupTransform(alpha=1.0))


@pytest.mark.parametrize("form", ["map", "apply"])
@pytest.mark.parametrize("jit_compile", [True, False])
def test_out_of_range_class_ids_are_an_error_not_a_zero_row(form, jit_compile):
    # a valid first batch comes through, the second fails naming its first offending id
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.zeros((8, 2), np.float32), np.array([0, 1, 2, 0, 1, 7, 3, 2]))
    ).batch(4)
    transform = MixupTransform(alpha=1.0, num_classes=3, seed=0, jit_compile=jit_compile)
    iterator = iter(dataset.map(transform) if form == "map" else dataset.apply(transform))
    assert next(iterator)[1].shape == (4, 3)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"(?s)class ids in \[0, num_classes=3\).*first offending value is\]? \[?7",
    ):
        next(iterator)


def test_single_dict_element_is_rejected_with_advice():
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": np.zeros((4, 2)), "label": np.arange(4)}
    ).batch(2)
    with pytest.raises(
        ValueError, match=r"single dict with keys \['image', 'label'\].*Map it to a tuple"
    ):
        dataset.map(MixupTransform(num_classes=4))


def test_string_feature_is_rejected():
    dataset = tf.data.Dataset.from_tensor_slices(
        ({"a": np.zeros((4, 2)), "s": ["x"] * 4}, np.zeros((4, 1)))
    ).batch(2)
    with pytest.raises(TypeError, match=r"features\['s'\]` has dtype string"):
        dataset.map(MixupTransform())


# ---------------------------------------------------------------- batches


def test_unbatched_element_asks_to_batch_first():
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 3), np.uint8), np.arange(4)))
    with pytest.raises(ValueError, match=r"not batched. Call dataset.batch\(batch_size\)"):
        dataset.map(MixupTransform(num_classes=4))


def test_static_batch_size_mismatch():
    x, y = tf.zeros((4, 3)), tf.zeros((5, 2))
    with pytest.raises(
        ValueError, match=r"`features` has shape \(4, 3\) and `labels` has shape \(5, 2\)"
    ):
        MixupTransform()(x, y)


@pytest.mark.parametrize("form", ["map", "apply"])
@pytest.mark.parametrize("jit_compile", [True, False])
def test_dynamic_batch_size_mismatch(form, jit_compile):
    # asserted before the compiled call, which could not be built for these shapes
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.zeros((8, 3), np.float32), np.zeros((8, 2), np.float32))
    )
    dataset = dataset.batch(4).map(lambda x, y: (x, y[:3]))
    transform = MixupTransform(seed=0, jit_compile=jit_compile)
    with pytest.raises(tf.errors.InvalidArgumentError, match="share the batch .* dimension"):
        list(dataset.map(transform) if form == "map" else dataset.apply(transform))


@pytest.mark.parametrize("batch_size", [3, 7])
def test_odd_batch_sizes_and_last_partial_batch(batch_size):
    dataset = identity_dataset(batch_size, 3).unbatch().take(batch_size * 2 + 2).batch(batch_size)
    out = batches(dataset.map(MixupTransform(num_classes=batch_size, seed=0)))
    assert [x.shape[0] for x, _ in out] == [batch_size, batch_size, 2]
    for _, y in out:
        np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-6)


def test_batch_of_one_is_returned_as_is():
    x = np.array([[0.1, 0.7]], np.float32)
    for seed in range(5):
        mx, my = MixupTransform(num_classes=3, seed=seed)(tf.constant(x), tf.constant([2]))
        np.testing.assert_array_equal(mx.numpy(), x)
        np.testing.assert_array_equal(my.numpy(), [[0, 0, 1]])


# ---------------------------------------------------------------- alpha


def test_alpha_zero_returns_the_batch_with_dtype_conversion_only():
    x = RNG.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
    y = RNG.integers(0, 5, 6)
    ((mx, my),) = list(
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(6)
        .map(MixupTransform(alpha=0, num_classes=5))
    )
    assert mx.dtype == tf.float32
    np.testing.assert_array_equal(mx.numpy(), x.astype(np.float32))
    np.testing.assert_array_equal(my.numpy(), np.eye(5, dtype=np.float32)[y])


@pytest.mark.parametrize("alpha", [8.0, 32.0])
def test_large_alphas_mix_near_one_half(alpha):
    lambdas = [
        recovered_lambda(x)
        for x, _ in batches(
            identity_dataset(8, 200).map(MixupTransform(alpha=alpha, num_classes=8, seed=0))
        )
    ]
    assert abs(np.mean(lambdas) - 0.5) < 0.02
    # the whole distribution, not a variance within a fixed tolerance (200 draws put the
    # sample variance within +-30 % only at about 3 standard errors)
    assert float32_ks_pvalue(lambdas, alpha) > 1e-3


@pytest.mark.parametrize("form", ["map", "apply"])
@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_pipeline_lambdas_follow_beta(alpha, form):
    transform = MixupTransform(alpha=alpha, num_classes=8, seed=11)
    dataset = identity_dataset(8, 1500)
    mixed = dataset.map(transform) if form == "map" else dataset.apply(transform)
    lambdas = [recovered_lambda(x) for x, _ in batches(mixed)]
    assert float32_ks_pvalue(lambdas, alpha) > 1e-3


def test_per_example_lambdas():
    ((x, y),) = list(
        identity_dataset(64, 1).map(
            MixupTransform(alpha=1.0, num_classes=64, per_example=True, seed=0)
        )
    )
    diagonal = np.diag(x.numpy())
    moved = diagonal[diagonal < 1]
    assert len(np.unique(moved)) == len(moved) > 50  # a different lambda per example


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize(
    "policy_name, expected",
    [("float32", tf.float32), ("mixed_float16", tf.float16), ("mixed_bfloat16", tf.bfloat16)],
)
def test_uint8_images_become_the_compute_dtype(policy, policy_name, expected):
    policy(policy_name)
    x = RNG.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    ((mx, my),) = list(
        tf.data.Dataset.from_tensor_slices((x, np.arange(4)))
        .batch(4)
        .map(MixupTransform(num_classes=4, seed=0))
    )
    assert mx.dtype == expected and my.dtype == tf.float32
    assert (
        float(tf.reduce_min(tf.cast(mx, tf.float32))) >= 0
        and float(tf.reduce_max(tf.cast(mx, tf.float32))) <= 255
    )


def test_floating_inputs_keep_their_dtype_and_explicit_dtype():
    for dtype in [np.float16, np.float32, np.float64]:
        mx, _ = MixupTransform(seed=0)(tf.zeros((4, 2), dtype), tf.zeros((4, 3)))
        assert mx.dtype == tf.as_dtype(dtype)
    mx, _ = MixupTransform(seed=0, dtype="bfloat16")(tf.zeros((4, 2), tf.uint8), tf.zeros((4, 3)))
    assert mx.dtype == tf.bfloat16
    with pytest.raises(ValueError, match=r"`dtype` must be a floating dtype .* got 'int32'"):
        MixupTransform(dtype="int32")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"alpha": -1}, ValueError, r"alpha=-1"),
        ({"alpha": float("nan")}, ValueError, r"finite number >= 0"),
        ({"alpha": float("inf")}, ValueError, r"finite number >= 0"),
        (
            {"num_classes": 0},
            ValueError,
            r"`num_classes` must be a positive integer or None; got 0",
        ),
        ({"num_classes": 2.5}, TypeError, r"`num_classes` must be a positive integer"),
        ({"seed": "7"}, TypeError, r"`seed` must be an int or None; got '7'"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        MixupTransform(**kwargs)


# ---------------------------------------------------------------- determinism


def pipeline_output(form, seed, parallel=None, epochs=1):
    dataset = identity_dataset(8, 12)
    transform = MixupTransform(alpha=1.0, num_classes=8, seed=seed)
    mixed = (
        dataset.apply(transform)
        if form == "apply"
        else dataset.map(transform, num_parallel_calls=parallel)
    )
    return [batches(mixed) for _ in range(epochs)]


def test_same_pipeline_built_twice_is_bit_identical_sequential_map():
    a, b = pipeline_output("map", 5), pipeline_output("map", 5)
    for (xa, ya), (xb, yb) in zip(a[0], b[0], strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_apply_form_is_bit_identical_under_autotune():
    a, b = pipeline_output("apply", 5, epochs=2), pipeline_output("apply", 5, epochs=2)
    for epoch_a, epoch_b in zip(a, b, strict=True):
        for (xa, _), (xb, _) in zip(epoch_a, epoch_b, strict=True):
            np.testing.assert_array_equal(xa, xb)


def test_parallel_map_draws_the_same_set_of_parameters():
    """The documented guarantee of the plain map form under parallel calls."""
    a = pipeline_output("map", 9, parallel=tf.data.AUTOTUNE)[0]
    b = pipeline_output("map", 9, parallel=tf.data.AUTOTUNE)[0]
    assert sorted(recovered_lambda(x) for x, _ in a) == sorted(recovered_lambda(x) for x, _ in b)


@pytest.mark.parametrize("form", ["map", "apply"])
def test_fresh_parameters_per_batch_and_per_epoch_and_per_seed(form):
    epoch1, epoch2 = pipeline_output(form, 5, epochs=2)
    lambdas1 = [recovered_lambda(x) for x, _ in epoch1]
    lambdas2 = [recovered_lambda(x) for x, _ in epoch2]
    assert len(set(lambdas1)) == len(lambdas1)  # successive batches differ
    assert lambdas1 != lambdas2  # so do epochs
    other = [recovered_lambda(x) for x, _ in pipeline_output(form, 6)[0]]
    assert other != lambdas1


# ---------------------------------------------------------------- XLA


@pytest.mark.parametrize("per_example", [False, True])
def test_jit_compiled_call(per_example):
    transform = MixupTransform(alpha=0.4, num_classes=8, per_example=per_example, seed=0)
    compiled = tf.function(transform, jit_compile=True)
    x = tf.constant(np.eye(8, dtype=np.uint8) * 200)
    mx, my = compiled(x, tf.range(8))
    assert mx.dtype == tf.float32
    np.testing.assert_allclose(mx.numpy() / 200, my.numpy(), atol=1e-6)


def test_jit_compile_false_path_gives_equally_shaped_output():
    transform = MixupTransform(alpha=1.0, num_classes=8, seed=0, jit_compile=False)
    ((x, y),) = list(identity_dataset(8, 1).map(transform))
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert "jit_compile=False" in repr(transform)

"""The mixup family in the one core: CutMix boxes, k-way Dirichlet mixing, the switch
and apply probabilities; exact values with injected parameters, statistics for the
samplers, composition with the rest, XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_mixup import (
    AlphaScheduler,
    MixParams,
    MixupAccuracy,
    MixupLayer,
    MixupLoss,
    MixupTransform,
    blend,
    sample_mix_params,
)
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.core.mixing import mix_parts
from keras_mixup._src.core.structures import Parts as Batch
from tests.images import coded_images
from tests.stats import float32_ks_pvalue

P_MIN = 1e-3


def source_example(mixed):
    return (np.asarray(mixed)[..., 0] // 10_000).astype(int)


# ---------------------------------------------------------------- CutMix geometry


@pytest.mark.parametrize("height, width", [(8, 8), (6, 11), (13, 4)])
@pytest.mark.parametrize("per_example", [False, True])
def test_partner_pixels_form_exactly_the_box_and_the_weight_is_its_area(height, width, per_example):
    batch = 6
    images = coded_images(batch, height, width)
    seen_edges = set()
    for seed in range(40):
        params = sample_mix_params(
            tf.constant([seed, 1]), batch, 0.0, per_example,
            cutmix_alpha=0.4, image_size=(height, width),
        )  # fmt: skip
        mixed = blend(tf.constant(images), params).numpy()
        source = source_example(mixed)
        box = params.box.numpy()
        perm = params.permutation.numpy()
        assert params.cut.numpy().all()
        for i in range(batch):
            top, left, bottom, right = box[i]
            assert 0 <= top <= bottom <= height and 0 <= left <= right <= width
            inside = np.zeros((height, width), bool)
            inside[top:bottom, left:right] = True
            expected = np.where(inside, perm[i], i)
            np.testing.assert_array_equal(source[i], expected)
            # the pixels are the partner's own pixels at the same place
            same_place = mixed[i, ..., 0] % 10_000 == images[i, ..., 0] % 10_000
            assert same_place.all()
            kept = 1.0 - inside.sum() / (height * width)
            assert params.mix_weight.numpy()[i] == pytest.approx(kept, abs=1e-6)
            if inside.any():
                seen_edges.update(
                    name
                    for name, touches in [
                        ("top", top == 0), ("bottom", bottom == height),
                        ("left", left == 0), ("right", right == width),
                    ]
                    if touches
                )  # fmt: skip
        if not per_example:
            assert (box == box[0]).all()
    assert seen_edges == {"top", "bottom", "left", "right"}  # clipped at every edge


@pytest.mark.parametrize(
    "box", [(0, 0, 3, 2), (5, 6, 8, 8), (0, 5, 2, 8), (6, 0, 8, 3), (2, 2, 2, 7), (0, 0, 8, 8)]
)
def test_injected_boxes_at_corners_edges_empty_and_full(box):
    images = coded_images(2, 8, 8)
    params = MixParams(
        mix_weight=tf.constant([0.3, 0.3]),
        permutation=tf.constant([1, 0]),
        box=tf.constant([box, box]),
        cut=tf.constant([True, False]),
    )
    mixed = blend(tf.constant(images), params).numpy()
    top, left, bottom, right = box
    expected = images[0].copy()
    expected[top:bottom, left:right] = images[1, top:bottom, left:right]
    np.testing.assert_array_equal(mixed[0], expected)
    # an example that is not cut is blended with its weight
    np.testing.assert_allclose(mixed[1], 0.3 * images[1] + 0.7 * images[0], rtol=1e-6)


def test_uncorrected_weight_option_keeps_the_drawn_lambda():
    exact = sample_mix_params(tf.constant([3, 3]), 4, 0.0, cutmix_alpha=1.0, image_size=(5, 5))
    drawn = sample_mix_params(
        tf.constant([3, 3]), 4, 0.0, cutmix_alpha=1.0, image_size=(5, 5), exact_cutmix_weight=False
    )
    np.testing.assert_array_equal(exact.box.numpy(), drawn.box.numpy())
    area = np.prod(exact.box.numpy()[0, 2:] - exact.box.numpy()[0, :2]) / 25
    assert exact.mix_weight.numpy()[0] == pytest.approx(1 - area)
    assert drawn.mix_weight.numpy()[0] != pytest.approx(1 - area)  # rounding + clipping


def test_cutmix_lambda_before_the_box_follows_beta():
    """Unclipped boxes of a large image: area fraction ~ 1 - lambda, lambda ~ Beta(a, a)."""
    fractions = []
    for seed in range(300):
        params = sample_mix_params(
            tf.constant([seed, 9]), 2, 0.0, cutmix_alpha=1.0, image_size=(1000, 1000),
            exact_cutmix_weight=False,
        )  # fmt: skip
        fractions.append(params.mix_weight.numpy()[0])
    assert stats.kstest(fractions, stats.beta(1.0, 1.0).cdf).pvalue > P_MIN


def test_segmentation_masks_are_cut_pixel_by_pixel():
    batch, height, width, classes = 4, 6, 7, 5
    rng = np.random.default_rng(0)
    masks = rng.integers(0, classes, (batch, height, width))
    images = coded_images(batch, height, width)
    transform = MixupTransform(
        alpha=0.0, cutmix_alpha=1.0, num_classes=classes, per_example=True, seed=2
    )
    mixed_images, targets = transform(tf.constant(images), tf.constant(masks))
    source = source_example(mixed_images)
    expected = np.eye(classes)[masks[source, np.arange(height)[:, None], np.arange(width)]]
    np.testing.assert_array_equal(targets.numpy(), expected)


def test_cutmix_rejects_features_that_are_not_images_and_mismatched_sizes():
    transform = MixupTransform(cutmix_alpha=1.0, num_classes=3)
    with pytest.raises(
        ValueError, match=r"a feature has shape \(4, 5\); every feature must then be an image"
    ):
        transform(tf.zeros((4, 5)), tf.constant([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"different heights and widths \[\(6, 6\), \(8, 8\)\]"):
        transform(
            {"a": tf.zeros((4, 8, 8, 3)), "b": tf.zeros((4, 6, 6, 1))}, tf.constant([0, 1, 2, 0])
        )


def test_cutmix_with_dict_features_cuts_the_same_box_out_of_each():
    images = coded_images(4, 6, 6)
    transform = MixupTransform(alpha=0.0, cutmix_alpha=1.0, num_classes=4, seed=1, per_example=True)
    (first, second), _ = transform(
        (tf.constant(images), tf.constant(images[..., 0] + 0.5)), tf.constant([0, 1, 2, 3])
    )
    np.testing.assert_array_equal(source_example(first), source_example(second[..., None]))


# ---------------------------------------------------------------- k-way (Dirichlet)


@pytest.mark.parametrize("num_mixed", [3, 4])
@pytest.mark.parametrize("per_example", [False, True])
def test_k_way_rows_are_the_target_weighted_sums_of_their_sources(num_mixed, per_example):
    batch = 9
    features = np.random.default_rng(1).normal(size=(batch, 3)).astype("float32")
    transform = MixupTransform(
        alpha=0.7, num_mixed=num_mixed, per_example=per_example, num_classes=batch, seed=4
    )
    identity = tf.constant(np.arange(batch))
    mixed, targets = transform._elements.tf_data().mix(
        Batch(tf.constant(features), identity), tf.constant([5, 6])
    )[:2]
    same_mixed = (
        transform._elements.tf_data()
        .mix(Batch(tf.constant(features), identity), tf.constant([5, 6]))
        .features
    )
    weights = targets.numpy()  # row i: the weight of every source example
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert (np.count_nonzero(weights > 1e-6, axis=1) <= num_mixed).all()
    np.testing.assert_allclose(mixed.numpy(), weights @ features, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(mixed.numpy(), same_mixed.numpy())


@pytest.mark.parametrize("num_mixed", [3, 4])
@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_dirichlet_weight_marginals_are_beta(num_mixed, alpha):
    params = sample_mix_params(
        tf.constant([num_mixed, int(alpha * 10)]), 4000, alpha, per_example=True,
        num_mixed=num_mixed,
    )  # fmt: skip
    own = params.mix_weight.numpy()
    others = params.more_weights.numpy()
    first_partner = 1.0 - own - others.sum(axis=0)
    for weights in [own, first_partner, *others]:
        assert stats.kstest(weights, stats.beta(alpha, (num_mixed - 1) * alpha).cdf).pvalue > P_MIN


def test_k_equal_two_is_todays_mixup():
    lambdas = sample_mix_params(tf.constant([2, 2]), 4000, 0.4, per_example=True).mix_weight
    assert float32_ks_pvalue(lambdas.numpy(), 0.4) > P_MIN


def test_k_way_dominant_targets_pick_the_largest_weight():
    params = MixParams(
        mix_weight=tf.constant([0.2, 0.5, 0.3]),
        permutation=tf.constant([1, 2, 0]),
        more_weights=tf.constant([[0.5, 0.1, 0.2]]),
        more_permutations=tf.constant([[2, 0, 1]]),
    )
    labels = tf.constant(np.eye(3, dtype="float32"))
    batch = mix_parts(
        Batch(labels, labels),
        params,
        num_classes=None,
        feature_dtype="float32",
        targets="dominant",
        ops=TENSORFLOW,
    )
    # weights per row: own, first partner (1 - own - more), more -> largest source
    # row 0: 0.2 (0), 0.3 (1), 0.5 (2) -> 2; row 1: 0.5 (1), 0.4 (2), 0.1 (0) -> 1;
    # row 2: 0.3 (2), 0.5 (0), 0.2 (1) -> 0
    np.testing.assert_array_equal(batch.labels.numpy().argmax(axis=1), [2, 1, 0])


# ---------------------------------------------------------------- probabilities


def test_prob_mixes_the_expected_share_of_batches():
    n, prob = 2000, 0.3
    mixed = 0
    draw = tf.function(lambda s: sample_mix_params(s, 4, 1.0, prob=prob).mix_weight[0])
    for seed in range(n):
        mixed += draw(tf.constant([seed, 77])).numpy() < 1.0
    assert stats.binomtest(int(mixed), n, prob).pvalue > P_MIN


def test_switch_prob_chooses_cutmix_for_the_expected_share_of_examples():
    switch = 0.35
    params = sample_mix_params(
        tf.constant([1, 5]), 5000, 1.0, per_example=True, cutmix_alpha=1.0,
        switch_prob=switch, image_size=(8, 8),
    )  # fmt: skip
    assert stats.binomtest(int(params.cut.numpy().sum()), 5000, switch).pvalue > P_MIN


def test_one_alpha_at_zero_uses_the_other_method_only():
    only_cutmix = sample_mix_params(
        tf.constant([1, 5]), 500, 0.0, per_example=True, cutmix_alpha=1.0, image_size=(8, 8)
    )
    assert only_cutmix.cut.numpy().all()
    # a tensor cutmix_alpha traces CutMix (a schedule may raise it): at 0 it cuts nothing
    only_mixup = sample_mix_params(
        tf.constant([1, 5]), 500, 1.0, per_example=True, cutmix_alpha=tf.constant(0.0),
        switch_prob=1.0, image_size=(8, 8),
    )  # fmt: skip
    assert not only_mixup.cut.numpy().any()
    assert only_mixup.mix_weight.numpy().std() > 0.1  # mixup's lambdas, not 1
    # a Python 0 (the default) leaves CutMix out: no box, no image size needed
    untraced = sample_mix_params(tf.constant([1, 5]), 500, 1.0, per_example=True)
    assert untraced.cut is None and untraced.box is None
    np.testing.assert_array_equal(untraced.mix_weight, only_mixup.mix_weight)


def test_prob_zero_returns_the_batch_as_it_is():
    images = coded_images(4, 5, 5)
    transform = MixupTransform(alpha=1.0, cutmix_alpha=1.0, prob=0.0, num_classes=4, seed=0)
    x, y = transform(tf.constant(images), tf.constant([0, 1, 2, 3]))
    np.testing.assert_array_equal(x.numpy(), images)
    np.testing.assert_array_equal(y.numpy(), np.eye(4))


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_mixed": 1}, ValueError, r"`num_mixed` must be an integer >= 2.*num_mixed=1"),
        ({"num_mixed": 2.5}, TypeError, r"`num_mixed` must be an integer >= 2.*2\.5"),
        ({"cutmix_alpha": -1.0}, ValueError, r"cutmix_alpha=-1\.0"),
        ({"prob": 1.5}, ValueError, r"`prob` must be a probability in \[0, 1\]; got prob=1\.5"),
        ({"switch_prob": -0.1}, ValueError, r"switch_prob=-0\.1"),
        ({"prob": "half"}, TypeError, r"`prob` must be a probability"),
        ({"num_mixed": 3, "cutmix_alpha": 1.0}, ValueError, r"num_mixed=3 with cutmix_alpha=1\.0"),
        ({"exact_cutmix_weight": 1}, TypeError, r"`exact_cutmix_weight` must be True or False"),
    ],
)
@pytest.mark.parametrize("front", [MixupTransform, MixupLayer])
def test_invalid_family_arguments_name_the_argument(front, kwargs, error, match):
    with pytest.raises(error, match=match):
        front(**kwargs)


def test_cutmix_alpha_cannot_be_switched_on_where_cutmix_was_not_built():
    transform = MixupTransform(alpha=1.0)
    with pytest.raises(ValueError, match=r"built with cutmix_alpha > 0"):
        transform.cutmix_alpha = 1.0
    built = MixupTransform(alpha=1.0, cutmix_alpha=1.0)
    built.cutmix_alpha = 0.0
    built.cutmix_alpha = 2.0
    assert built.cutmix_alpha == 2.0


# ---------------------------------------------------------------- composition


def test_scheduler_drives_cutmix_alpha_and_prob():
    transform = MixupTransform(alpha=1.0, cutmix_alpha=1.0, num_classes=2, seed=0)
    AlphaScheduler(
        lambda epoch: 0.0 if epoch < 1 else 1.0, transform, attribute="cutmix_alpha"
    ).on_epoch_begin(0)
    AlphaScheduler(lambda epoch: 0.25, transform, attribute="prob").on_epoch_begin(0)
    assert (transform.cutmix_alpha, transform.prob) == (0.0, 0.25)
    assert transform.runtime.tf_values()["prob"].numpy() == 0.25
    with pytest.raises(ValueError, match="`attribute` must be one of"):
        AlphaScheduler(lambda epoch: 1.0, transform, attribute="beta")


def test_label_smoothing_and_same_class_pairing_compose_with_cutmix():
    labels = np.array([0, 0, 1, 1, 2, 2])
    images = coded_images(6, 4, 4)
    transform = MixupTransform(
        alpha=0.0, cutmix_alpha=1.0, num_classes=3, label_smoothing=0.3,
        pairing="same_class", per_example=True, seed=3,
    )  # fmt: skip
    x, y = transform(tf.constant(images), tf.constant(labels))
    source = source_example(x)
    assert all(set(labels[np.unique(source[i])]) == {labels[i]} for i in range(6))
    smoothed = np.eye(3)[labels] * 0.7 + 0.1
    np.testing.assert_allclose(y.numpy(), smoothed, atol=1e-6)  # same class: target unchanged


def test_sample_weights_follow_the_cutmix_weights():
    images = coded_images(4, 6, 6)
    weights = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    transform = MixupTransform(alpha=0.0, cutmix_alpha=1.0, num_classes=4, seed=8, per_example=True)
    x, y, w = transform(tf.constant(images), tf.constant(np.arange(4)), tf.constant(weights))
    own = y.numpy()[np.arange(4), np.arange(4)]  # identity labels: the own weight
    source = source_example(x)
    partner = np.array(
        [
            np.setdiff1d(np.unique(source[i]), [i])[0] if len(np.unique(source[i])) > 1 else i
            for i in range(4)
        ]
    )
    np.testing.assert_allclose(w.numpy(), own * weights + (1 - own) * weights[partner], rtol=1e-6)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize(
    "family",
    [{"cutmix_alpha": 1.0, "alpha": 0.8, "switch_prob": 0.5}, {"num_mixed": 3, "alpha": 0.5}],
)
def test_model_loss_equals_the_hand_mixed_loss(family, jit_compile):
    """CutMix and k-way inside a model: MixupLoss follows the layer's parameters."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 6, 6, 1)).astype("uint8")
    labels = np.arange(8) % 3
    mixup = MixupLayer(seed=5, per_example=True, **family)
    model = keras.Sequential(
        [keras.Input((6, 6, 1)), mixup, keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    model.compile(
        keras.optimizers.SGD(0.0),
        MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
        metrics=[MixupAccuracy(layer=mixup)],
        jit_compile=jit_compile,
    )
    draw = tf.function(
        lambda seed: mixup.spec.draw(
            seed,
            Batch(tf.constant(images)),
            mixup.spec.runtime_values(),
            owner="",
            ops=TENSORFLOW,
        ),
        jit_compile=jit_compile,
    )
    params = draw(tf.constant(mixup.seed_generator.state.numpy()))
    logs = model.train_on_batch(images, labels, return_dict=True)
    mixed_x = blend(tf.constant(images), params)
    mixed_y = blend(tf.one_hot(labels, 3), params, per_pixel=False)
    logits = model.layers[-1](keras.layers.Flatten()(mixed_x))
    expected = keras.losses.CategoricalCrossentropy(from_logits=True)(mixed_y, logits)
    assert logs["loss"] == pytest.approx(float(expected), rel=1e-5)
    mass = mixed_y.numpy()[np.arange(8), logits.numpy().argmax(axis=1)].mean()
    assert logs["mixup_accuracy"] == pytest.approx(mass, abs=1e-6)


def test_cutmix_compiles_under_xla_in_the_transform():
    images = coded_images(4, 8, 8)
    transform = MixupTransform(
        alpha=1.0, cutmix_alpha=1.0, num_classes=4, seed=0, jit_compile=False
    )
    compiled = tf.function(
        lambda x, y, s: transform._elements.tf_data().mix(Batch(x, y), s), jit_compile=True
    )
    eager = transform._elements.tf_data().mix(
        Batch(tf.constant(images), tf.constant(np.arange(4))), tf.constant([1, 2])
    )
    xla = compiled(tf.constant(images), tf.constant(np.arange(4)), tf.constant([1, 2]))
    np.testing.assert_allclose(xla.features.numpy(), eager.features.numpy(), rtol=1e-6)
    np.testing.assert_allclose(xla.labels.numpy(), eager.labels.numpy(), rtol=1e-6)

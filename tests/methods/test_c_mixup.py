"""C-Mixup (Yao et al., "C-Mixup: Improving Generalization in Regression", NeurIPS 2022):
`pairing="c_mixup"` draws example i's partner j with probability proportional to
`exp(-||y_i - y_j||^2 / (2 bandwidth^2))` within the batch, i itself included, then mixes as
mixup mixes. Checked against an independent float64 reference of that kernel, on every
binding (the backends' draws: tests/integration/test_backends.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_mixup import MixupLayer, MixupTransform, sample_mix_params
from keras_mixup._src.bindings.ops import KERAS, NUMPY
from keras_mixup._src.bindings.tf_ops import TENSORFLOW

P_MIN = 1e-3


def kernel_probabilities(targets, bandwidth):
    """The paper's Eq. 6 in float64: row i is the distribution of i's partner."""
    y = np.asarray(targets, "float64").reshape(len(targets), -1)
    distance = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-distance / (2.0 * bandwidth**2))
    return kernel / kernel.sum(1, keepdims=True)


def partners(seed, targets, bandwidth, ops=NUMPY, **options):
    convert = {NUMPY: np.asarray, TENSORFLOW: tf.constant, KERAS: keras.ops.convert_to_tensor}
    params = sample_mix_params(
        convert[ops](np.array([seed, 5], "int32")),
        len(targets),
        1.0,
        ops=ops,
        pairing="c_mixup",
        labels=convert[ops](np.asarray(targets, "float32")),
        c_mixup_bandwidth=bandwidth,
        **options,
    )
    return params


@pytest.mark.parametrize("ops", [NUMPY, TENSORFLOW, KERAS], ids=["numpy", "tf", "keras_ops"])
def test_partners_follow_the_kernel_on_every_binding(ops):
    """A batch of 1000 targets with three values: each example's partner is one draw
    from its row, so the partners' values per source value are a multinomial sample."""
    values, copies, bandwidth = np.array([0.0, 0.5, 1.5]), np.array([400, 300, 300]), 0.5
    targets = np.repeat(values, copies)
    drawn = np.asarray(partners(1, targets, bandwidth, ops=ops).permutation)
    kernel = np.exp(-((values[:, None] - values[None]) ** 2) / (2 * bandwidth**2)) * copies
    for source, value in enumerate(values):
        observed = np.bincount(
            np.searchsorted(values, targets[drawn[targets == value]]), minlength=3
        )
        expected = kernel[source] / kernel[source].sum() * observed.sum()
        assert stats.chisquare(observed, expected).pvalue > P_MIN, (value, observed, expected)


def test_each_row_s_partner_frequencies_match_the_paper_s_kernel():
    """Distinct 2-D targets: 3000 seeds, every row against the float64 reference."""
    rng = np.random.default_rng(0)
    targets = rng.normal(size=(6, 2)).astype("float32")
    bandwidth = 0.8
    expected = kernel_probabilities(targets, bandwidth)
    draws = np.stack(
        [np.asarray(partners(seed, targets, bandwidth).permutation) for seed in range(3000)]
    )
    for row in range(6):
        observed = np.bincount(draws[:, row], minlength=6)
        assert stats.chisquare(observed, expected[row] * 3000).pvalue > P_MIN, row
    # the kernel does what C-Mixup is for: partners much nearer than uniform ones
    near = np.linalg.norm(targets[draws] - targets[None], axis=-1).mean()
    uniform = np.linalg.norm(targets[:, None] - targets[None], axis=-1).mean()
    assert near < 0.7 * uniform


def test_the_same_partners_on_every_binding_and_under_xla():
    rng = np.random.default_rng(1)
    targets = rng.normal(size=(16, 3)).astype("float32")
    options = dict(num_mixed=3, per_example=True)

    def draw_tf(seed):
        return sample_mix_params(
            seed, 16, 1.0, pairing="c_mixup", labels=tf.constant(targets),
            c_mixup_bandwidth=0.7, **options,
        )  # fmt: skip

    compiled = tf.function(draw_tf, jit_compile=True)
    for seed in range(10):
        host = partners(seed, targets, 0.7, **options)
        for other in (
            partners(seed, targets, 0.7, ops=TENSORFLOW, **options),
            partners(seed, targets, 0.7, ops=KERAS, **options),
            compiled(tf.constant([seed, 5])),
        ):
            np.testing.assert_array_equal(host.permutation, other.permutation)
            np.testing.assert_array_equal(host.more_permutations, other.more_permutations)
            np.testing.assert_allclose(host.mix_weight, other.mix_weight, rtol=2e-6)


def test_a_narrow_kernel_pairs_equals_and_a_wide_one_is_uniform():
    targets = np.array([0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 5.0])
    for seed in range(50):
        drawn = np.asarray(partners(seed, targets, 1e-6).permutation)
        np.testing.assert_array_equal(targets[drawn], targets)  # only equal targets
        assert drawn[2] == 2 and drawn[6] == 6  # alone with its value: itself
    wide = np.concatenate([partners(s, targets, 1e30).permutation for s in range(700)])
    assert stats.chisquare(np.bincount(wide, minlength=7)).pvalue > P_MIN


def test_the_transform_mixes_each_example_with_its_drawn_partner():
    """Features that name their row: the mixed row shows which partner and weight were
    used, and the regression target is mixed with the same partner and weight."""
    size = 64
    targets = np.linspace(-3.0, 3.0, size).astype("float32")
    identity = np.eye(size, dtype="float32")
    transform = MixupTransform(alpha=1.0, pairing="c_mixup", c_mixup_bandwidth=0.2, seed=4)
    dataset = tf.data.Dataset.from_tensor_slices((identity, targets)).batch(size)
    elements = [next(iter(dataset.map(transform)))]  # graph mode, under XLA
    elements.append(transform(identity, targets))  # NumPy: drawn on the host
    elements.append(transform({"images": identity, "labels": targets}).values())  # the dict
    for x, y in elements:
        x, y = np.asarray(x), np.asarray(y)
        own = x[np.arange(size), np.arange(size)]
        rest = x.copy()
        rest[np.arange(size), np.arange(size)] = 0.0
        partner = np.where(own < 1.0, rest.argmax(1), np.arange(size))
        np.testing.assert_allclose(y, own * targets + (1 - own) * targets[partner], atol=1e-5)
        gap = np.abs(targets[partner] - targets)
        assert gap.mean() < 0.25, gap.mean()  # uniform partners: about 2.0


def test_errors_name_the_pairing_and_what_it_needs():
    seed = np.array([0, 1], "int32")
    with pytest.raises(ValueError, match="pairing='c_mixup'.*integer.*pairing='same_class'"):
        sample_mix_params(seed, 4, 1.0, pairing="c_mixup", labels=np.arange(4))
    with pytest.raises(ValueError, match="needs one floating label.*got 2 labels"):
        transform = MixupTransform(pairing="c_mixup")
        transform(np.zeros((4, 2), "float32"), (np.zeros(4, "float32"), np.zeros(4, "float32")))
    with pytest.raises(ValueError, match="pairing='c_mixup' the regression targets"):
        sample_mix_params(seed, 4, 1.0, pairing="c_mixup")
    with pytest.raises(ValueError, match=r"`c_mixup_bandwidth` must be in \(0.0, .*got .*-1.0"):
        MixupTransform(pairing="c_mixup", c_mixup_bandwidth=-1.0)
    with pytest.raises(ValueError, match="c_mixup_bandwidth"):
        MixupLayer(c_mixup_bandwidth=1.0)  # the layer pairs no labels


def test_a_batch_of_one_is_its_own_partner_and_unmixed():
    params = partners(3, np.array([2.5]), 1.0)
    assert np.asarray(params.permutation).tolist() == [0]
    assert np.asarray(params.mix_weight).tolist() == [1.0]

"""The sampler: exact Beta(alpha, alpha) lambdas and uniform permutations, in every mode."""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from keras_mixup import sample_beta, sample_mix_params
from keras_mixup._src.core.methods.mixup import sample_log_gamma
from keras_mixup._src.core.validation import validate_alpha
from tests.stats import float32_ks_pvalue

ALPHAS = [0.1, 0.2, 1.0, 8.0, 32.0]
P_MIN = 1e-3  # per test; a correct sampler fails one of these ~35 tests with p ~ 3.5 %: seeds are fixed, so a pass is stable


def _seeds(n, base=0):
    return tf.stack(
        [tf.fill([n], tf.constant(base, tf.int64)), tf.range(n, dtype=tf.int64)], axis=1
    )


def per_batch_lambdas(alpha, mode, n):
    def draw(seeds):
        return tf.map_fn(
            lambda s: sample_mix_params(s, 4, alpha).mix_weight[0],
            seeds,
            fn_output_signature=tf.float32,
        )

    if mode == "graph":
        draw = tf.function(draw)
    elif mode == "xla":
        draw = tf.function(draw, jit_compile=True)
    return draw(_seeds(n, base=int(alpha * 100))).numpy()


def per_example_lambdas(alpha, mode, n):
    def draw(seed):
        return sample_mix_params(seed, n, alpha, per_example=True).mix_weight

    if mode == "graph":
        draw = tf.function(draw)
    elif mode == "xla":
        draw = tf.function(draw, jit_compile=True)
    return draw(tf.constant([17, int(alpha * 100)], tf.int64)).numpy()


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_per_batch_lambda_follows_beta(alpha, mode):
    n = 200 if mode == "eager" else 3000  # eager map_fn runs a Python loop
    lambdas = per_batch_lambdas(alpha, mode, n)
    assert np.all((lambdas >= 0) & (lambdas <= 1))
    assert float32_ks_pvalue(lambdas, alpha) > P_MIN


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_per_example_lambda_follows_beta(alpha, mode):
    lambdas = per_example_lambdas(alpha, mode, 4000)
    assert np.all((lambdas >= 0) & (lambdas <= 1))
    assert float32_ks_pvalue(lambdas, alpha) > P_MIN


@pytest.mark.parametrize("alpha", [0.2, 8.0])
def test_ks_check_detects_a_wrong_distribution(alpha):
    """The statistical test has power: a sampler off by 30 % in alpha fails it."""
    lambdas = per_example_lambdas(alpha * 1.3, "graph", 4000)
    assert float32_ks_pvalue(lambdas, alpha) < P_MIN


def test_extreme_alphas_stay_finite_and_in_range():
    for alpha in [1e-4, 1e-2, 1e3, 1e5]:
        lam = sample_beta(tf.constant([1, 2]), [5000], alpha).numpy()
        assert np.all(np.isfinite(lam)) and np.all((lam >= 0) & (lam <= 1)), alpha
    tiny = sample_beta(tf.constant([1, 2]), [5000], 1e-4).numpy()
    assert np.mean((tiny < 1e-6) | (tiny > 1 - 1e-6)) > 0.99  # alpha -> 0: lambda at 0 or 1
    huge = sample_beta(tf.constant([1, 2]), [5000], 1e5).numpy()
    assert np.max(np.abs(huge - 0.5)) < 0.01  # alpha -> inf: lambda -> 1/2


def test_alpha_zero_means_no_mixing():
    params = sample_mix_params(tf.constant([3, 4]), 7, 0.0, per_example=True)
    np.testing.assert_array_equal(params.mix_weight.numpy(), np.ones(7, np.float32))


def test_batch_of_one_has_nothing_to_mix_with():
    for seed in range(5):
        params = sample_mix_params(tf.constant([seed, 1]), 1, 1.0)
        assert params.mix_weight.numpy().tolist() == [1.0]
        assert params.permutation.numpy().tolist() == [0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), batch_size=st.integers(1, 65), per_example=st.booleans())
def test_permutation_is_a_permutation(seed, batch_size, per_example):
    params = sample_mix_params(tf.constant([seed, 7]), batch_size, 1.0, per_example=per_example)
    assert sorted(params.permutation.numpy().tolist()) == list(range(batch_size))
    assert params.mix_weight.shape == (batch_size,)
    if not per_example:
        assert len(set(params.mix_weight.numpy().tolist())) == 1


def test_permutations_are_uniform():
    """All 3! permutations of a batch of 3 are equally likely (chi-square)."""
    perms = tf.function(
        lambda seeds: tf.map_fn(
            lambda s: sample_mix_params(s, 3, 1.0).permutation, seeds, fn_output_signature=tf.int32
        )
    )(_seeds(6000)).numpy()
    index = {p: i for i, p in enumerate(itertools.permutations(range(3)))}
    counts = np.bincount([index[tuple(p)] for p in perms], minlength=6)
    assert stats.chisquare(counts).pvalue > P_MIN


def test_same_seed_same_parameters_different_seed_different():
    a = sample_mix_params(tf.constant([5, 6]), 16, 1.0)
    b = sample_mix_params(tf.constant([5, 6]), 16, 1.0)
    c = sample_mix_params(tf.constant([5, 7]), 16, 1.0)
    np.testing.assert_array_equal(a.mix_weight, b.mix_weight)
    np.testing.assert_array_equal(a.permutation, b.permutation)
    assert not np.array_equal(a.permutation, c.permutation) or a.mix_weight[0] != c.mix_weight[0]


@pytest.mark.parametrize(
    "alpha, error, match",
    [
        (-0.5, ValueError, r"alpha=-0\.5"),
        (math.nan, ValueError, r"finite number >= 0"),
        (math.inf, ValueError, r"finite number >= 0"),
        ("1.0", TypeError, r"real number .* got '1\.0' of type str"),
        (True, TypeError, r"got True of type bool"),
    ],
)
def test_invalid_alpha_is_rejected(alpha, error, match):
    with pytest.raises(error, match=match):
        validate_alpha(alpha)


def test_valid_alphas_are_accepted():
    assert [validate_alpha(a) for a in [0, 0.2, 8, 32, np.float32(1.0)]] == [
        0.0,
        0.2,
        8.0,
        32.0,
        1.0,
    ]


@pytest.mark.parametrize("per_example", [False, True])
def test_same_seed_same_parameters_in_eager_graph_and_xla(per_example):
    """All randomness comes from one stateless Philox call whose bits XLA reproduces;
    the conversions to floats are ours, so only transcendental rounding may differ."""

    def draw(seed):
        return sample_mix_params(seed, 33, 0.4, per_example=per_example)

    seed = tf.constant([12, 34], tf.int64)
    eager = draw(seed)
    for compiled in [tf.function(draw), tf.function(draw, jit_compile=True)]:
        other = compiled(seed)
        np.testing.assert_array_equal(other.permutation.numpy(), eager.permutation.numpy())
        np.testing.assert_allclose(other.mix_weight.numpy(), eager.mix_weight.numpy(), rtol=1e-5)


@pytest.mark.parametrize("alpha", [0.1, 0.5, 1.0, 4.0])
def test_log_gamma_follows_gamma(alpha):
    """The gamma sampler itself, including the log-space boost for alpha < 1."""
    draws = np.exp(sample_log_gamma(tf.constant([3, 9]), [3000], alpha).numpy().astype(np.float64))
    assert stats.kstest(draws, stats.gamma(alpha).cdf).pvalue > P_MIN


@pytest.mark.parametrize("alpha", ALPHAS)
def test_numpy_binding_lambdas_follow_beta_and_equal_tensorflows(alpha):
    """The host binding (NumPy batches, Grain, eager models' draws) is the same sampler."""
    seed = np.array([7, int(alpha * 100)], np.int32)
    on_host = sample_mix_params(seed, 20_000, alpha, per_example=True)
    assert isinstance(on_host.mix_weight, np.ndarray)
    assert float32_ks_pvalue(on_host.mix_weight, alpha) > P_MIN
    in_tf = sample_mix_params(tf.constant(seed), 200, alpha, per_example=True)
    head = sample_mix_params(seed, 200, alpha, per_example=True)
    np.testing.assert_array_equal(head.permutation, in_tf.permutation.numpy())
    np.testing.assert_allclose(
        head.mix_weight, in_tf.mix_weight.numpy(), rtol=2e-6 / min(alpha, 1.0), atol=1e-7
    )


@pytest.mark.parametrize("binding", ["numpy", "tensorflow"])
def test_the_two_weights_of_a_pair_are_symmetric_near_zero_and_one(binding):
    """At alpha = 0.05 about a fifth of the lambdas lie within 6e-8 of 1, where float32
    rounds lambda to 1.0; the partner's weight is computed directly (not as 1 - lambda, which
    would be exactly 0 and leave those batches unmixed), so both examples' weights keep their
    precision near 0 and have the same distribution."""
    seed = np.array([3, 5], np.int32)
    params = sample_mix_params(
        seed if binding == "numpy" else tf.constant(seed), 40_000, 0.05, per_example=True
    )
    own, partner = (np.asarray(w, np.float64) for w in (params.mix_weight, params.partner_weight))
    near_one = own == 1.0
    assert 0.15 < near_one.mean() < 0.25, near_one.mean()
    assert np.all(partner[near_one] < 6e-8)
    # exactly 0 only below float32's range (3 % at alpha 0.05 where a library flushes
    # subnormals to zero, as TensorFlow 2.16 does), and as often for either example
    assert (partner[near_one] > 0).mean() > 0.95
    assert abs((partner == 0).mean() - (own == 0).mean()) < 0.01
    assert abs((own == 1.0).mean() - (partner == 1.0).mean()) < 0.01
    assert stats.ks_2samp(own, partner).pvalue > P_MIN
    np.testing.assert_allclose(own + partner, 1.0, atol=1.2e-7)


def test_the_public_sampler_refuses_cutmix_with_k_way_mixing():
    """Checked where the parameters are drawn, not only by the fronts' spec: the
    k-way weights would otherwise be added to the cut examples' (a sum above 1)."""
    seed = np.array([0, 1])
    with pytest.raises(ValueError, match="num_mixed=3 with cutmix_alpha=1.0"):
        sample_mix_params(seed, 8, 1.0, num_mixed=3, cutmix_alpha=1.0, image_size=(8, 8))
    params = sample_mix_params(seed, 8, 1.0, num_mixed=3, cutmix_alpha=0.0, image_size=(8, 8))
    total = params.mix_weight + params.partner_weight + params.more_weights.sum(axis=0)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)

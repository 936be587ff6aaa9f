"""Drawing mixup's random parameters: the mix weight and the partner permutation.

This module only *draws*; `keras_mixup.mixing` only *applies*. It is the one
place where keras_mixup makes randomness, for every front and every backend:
everything here is a pure function of an explicit seed (two 32-bit integers),
written against the ops interface of `keras_mixup.ops`, so the same code runs
as TensorFlow ops in tf.data and XLA, and as `keras.ops` on JAX and PyTorch.

Random bits come from Threefry-2x32 with 20 rounds (Salmon et al., SC 2011),
the counter-based generator JAX uses, computed with 32-bit integer adds,
rotations and xors that every backend executes identically: the same seed gives
the same random words on TensorFlow (eager, graph, XLA), JAX (with or without
`jit`) and PyTorch. Everything after the words (uniforms, normals, the Gamma
rejection sampler, the permutation) is keras_mixup's own arithmetic, so the
same seed gives the same permutation bit for bit on every backend and the same
lambda up to the last-bit rounding of `log` and `cos` in each backend (see
`sample_mix_params`).

Why not `tf.random.stateless_gamma` or `keras.random.beta`: the gamma op behind
them has no XLA kernel, and each backend's generator differs. `sample_beta`
below is exact (not an approximation).
"""

from __future__ import annotations

import math

from keras_mixup.ops import TENSORFLOW, ops_for
from keras_mixup.structures import MixParams
from keras_mixup.validation import user_error

__all__ = [
    "MixParams",
    "fold_in",
    "random_words",
    "sample_beta",
    "sample_log_gamma",
    "sample_mix_params",
    "sample_neighbour_choice",
]

# Threefry-2x32: rotation constants and the key-schedule parity (Salmon et al. 2011).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA

# Streams: the high word of Threefry's counter, so that every purpose draws from
# its own sequence of the same seed. Rejection round r uses REJECTION_STREAM + r.
MAIN_STREAM = 0
NEIGHBOUR_STREAM = 1
FOLD_IN_STREAM = 2
REJECTION_STREAM = 16

# Rejection sampling of Gamma variates (Marsaglia & Tsang). Each proposal is
# accepted with probability >= 0.95 (shape >= 1), and a round makes
# CANDIDATES_PER_ROUND proposals per variate, so a variate is still pending after
# the first round with probability <= 0.05**4 = 6.25e-6 (further rounds run in a
# while loop), and after MAX_REJECTION_ROUNDS rounds with probability
# <= 0.05**64 ~ 5e-84: the cap never binds; it bounds the loop.
CANDIDATES_PER_ROUND = 4
MAX_REJECTION_ROUNDS = 16
WORDS_PER_GAMMA = 3 * CANDIDATES_PER_ROUND + 1  # three uniforms per proposal, one boost
_FLOAT32_TINY = 1.1754944e-38  # smallest normal float32


def _rotate_left(x, bits: int, ops):
    low = ops.bit_and(ops.shift_right(x, 32 - bits), (1 << bits) - 1)  # logical shift
    return ops.bit_or(ops.shift_left(x, bits), low)


def threefry2x32(key, counter_low, counter_high, ops=TENSORFLOW):
    """Threefry-2x32-20 of the counters `(counter_low, counter_high)` under `key`.

    All operands are int32 (the bit patterns of uint32 words); additions wrap.
    Returns the two output words, each shaped like `counter_low`. Matches
    Random123's known-answer vectors and `jax.extend.random.threefry_2x32`.
    """
    k0, k1 = key[0], key[1]
    keys = (k0, k1, ops.bit_xor(ops.bit_xor(k0, k1), _KEY_PARITY))
    x0, x1 = counter_low + keys[0], counter_high + keys[1]
    for block in range(5):
        for bits in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = ops.bit_xor(_rotate_left(x1, bits, ops), x0)
        x0 = x0 + keys[(block + 1) % 3]
        x1 = x1 + keys[(block + 2) % 3] + (block + 1)
    return x0, x1


def seed_key(seed, ops=TENSORFLOW):
    """The Threefry key (int32 `[2]`) of a seed: two integers, e.g. a stateless
    seed tensor of shape `[2]` or a `keras.random.SeedGenerator` state; 64-bit
    values contribute their low 32 bits."""
    seed = ops.convert(seed)
    shape = ops.static_shape(seed)
    if shape is not None and shape != (2,):
        raise user_error(
            ValueError, f"`seed` must have shape [2] (two integers); got shape {shape}."
        )
    if not ops.dtype(seed).startswith(("int", "uint")):
        raise user_error(
            TypeError,
            f"`seed` must be an integer tensor of shape [2]; got dtype {ops.dtype(seed)}.",
        )
    return ops.cast(seed, "int32")


def random_words(seed, count, stream: int = MAIN_STREAM, ops=TENSORFLOW):
    """`count` random 32-bit words (int32 `[count]`) of `seed` on `stream`.

    Word `i` is output `i % 2` of Threefry at counter `(i // 2, stream)`, so a
    prefix of the words does not depend on `count`.
    """
    key = seed_key(seed, ops)
    pairs = ops.arange((count + 1) // 2)
    low, high = threefry2x32(key, pairs, pairs * 0 + stream, ops)
    return ops.reshape(ops.stack([low, high], axis=1), [-1])[:count]


def fold_in(seed, data, ops=TENSORFLOW):
    """A new seed (int32 `[2]`) derived from `seed` and the integer `data`
    (e.g. a replica id): Threefry of `(data, FOLD_IN_STREAM)` under `seed`."""
    data = ops.reshape(ops.cast(ops.convert(data), "int32"), [1])
    low, high = threefry2x32(seed_key(seed, ops), data, data * 0 + FOLD_IN_STREAM, ops)
    return ops.concat([low, high], axis=0)


def unit_uniforms(words, ops=TENSORFLOW):
    """Uniforms on (0, 1] from random words: the top 24 bits, k -> (k + 1) / 2**24.

    Every value is exact in float32, and 0 is excluded so that logs stay finite.
    """
    top_bits = ops.bit_and(ops.shift_right(words, 8), 0xFFFFFF)
    return (ops.cast(top_bits, "float32") + 1.0) * (2.0**-24)


def _log_gamma_from_uniforms(uniforms, num_variates, alpha, seed, ops):
    """log(G), G ~ Gamma(alpha, 1), for `num_variates` variates (float32 `[num_variates]`).

    `uniforms` holds `WORDS_PER_GAMMA * num_variates` uniforms on (0, 1]: the
    first rejection round's proposals, then one boost uniform per variate. Later
    rounds (rare) draw their own words from stream `REJECTION_STREAM + round`.
    """
    boosted = alpha < 1.0
    shape_param = ops.where(boosted, alpha + 1.0, alpha)
    d = shape_param - 1.0 / 3.0
    c = 1.0 / ops.sqrt(9.0 * d)
    num_proposal_uniforms = 3 * CANDIDATES_PER_ROUND * num_variates

    def propose(proposal_uniforms):
        """One round of Marsaglia-Tsang with CANDIDATES_PER_ROUND proposals per variate.

        Returns, per variate, whether a proposal was accepted and log(v) of the
        first accepted one: proposals are consumed in order, so the result is
        exactly the sequential rejection sampler's.
        """
        u = ops.reshape(proposal_uniforms, [3, CANDIDATES_PER_ROUND, num_variates])
        x = ops.sqrt(-2.0 * ops.log(u[0])) * ops.cos((2.0 * math.pi) * u[1])  # Box-Muller
        v = (1.0 + c * x) * (1.0 + c * x) * (1.0 + c * x)
        log_v = ops.log(ops.maximum(v, _FLOAT32_TINY))
        accept = (v > 0.0) & (ops.log(u[2]) < 0.5 * x * x + d - d * v + d * log_v)
        first = accept & (ops.cumsum(ops.cast(accept, "int32"), axis=0) == 1)
        return ops.any(accept, axis=0), ops.sum(ops.where(first, log_v, 0.0), axis=0)

    accepted, log_v = propose(uniforms[:num_proposal_uniforms])

    def pending(round_index, accepted, log_v):
        return (round_index < MAX_REJECTION_ROUNDS) & ops.logical_not(ops.all(accepted))

    def next_round(round_index, accepted, log_v):
        words = random_words(seed, num_proposal_uniforms, REJECTION_STREAM + round_index, ops)
        accepted_now, log_v_now = propose(unit_uniforms(words, ops))
        return round_index + 1, accepted | accepted_now, ops.where(accepted, log_v, log_v_now)

    # Almost always every variate is accepted in the first round; the loop then
    # evaluates its condition once and runs zero times.
    _, _, log_v = ops.while_loop(pending, next_round, (ops.convert(1, "int32"), accepted, log_v))
    log_gamma = ops.log(d) + log_v
    boost = ops.log(uniforms[num_proposal_uniforms:]) / ops.where(boosted, alpha, 1.0)
    return ops.where(boosted, log_gamma + boost, log_gamma)


def _as_alpha(alpha, ops):
    return ops.cast(ops.convert(alpha), "float32")


def beta_from_uniforms(uniforms, num_variates, alpha, seed, ops=TENSORFLOW):
    """lambda ~ Beta(alpha, alpha) from `2 * WORDS_PER_GAMMA * num_variates`
    uniforms, as sigmoid(log G1 - log G2); alpha = 0 gives 1."""
    alpha = _as_alpha(alpha, ops)
    log_gammas = _log_gamma_from_uniforms(
        uniforms, 2 * num_variates, ops.where(alpha > 0, alpha, 1.0), seed, ops
    )
    lam = ops.sigmoid(log_gammas[:num_variates] - log_gammas[num_variates:])
    return ops.where(alpha > 0, lam, 1.0)


def sample_log_gamma(seed, shape, alpha, ops=None):
    """Draws log(G) for G ~ Gamma(alpha, 1), exactly, with XLA-compilable ops.

    Marsaglia & Tsang's rejection method for shape >= 1, with standard normals by
    Box-Muller; for alpha < 1 the draw is boosted: Gamma(alpha) = Gamma(alpha + 1)
    * U**(1 / alpha), taken in log space so that small alphas (where U**(1/alpha)
    underflows float32) stay exact.

    Args:
        seed: two integers (tensor of shape `[2]`).
        shape: static shape of the output (tuple of ints).
        alpha: float scalar (Python or tensor) > 0.
        ops: the ops binding (`keras_mixup.ops`); by default the one for `seed`.

    Returns:
        float32 tensor of `shape`.

    References:
        - Marsaglia & Tsang, "A simple method for generating gamma variables",
          ACM TOMS 26(3), 2000.
    """
    ops = ops or ops_for(seed)
    count = math.prod(shape)
    uniforms = unit_uniforms(random_words(seed, WORDS_PER_GAMMA * count, MAIN_STREAM, ops), ops)
    log_gamma = _log_gamma_from_uniforms(uniforms, count, _as_alpha(alpha, ops), seed, ops)
    return ops.reshape(log_gamma, list(shape))


def sample_beta(seed, shape, alpha, ops=None):
    """Draws lambda ~ Beta(alpha, alpha), exactly, with XLA-compilable ops.

    lambda = G1 / (G1 + G2) with G1, G2 ~ Gamma(alpha, 1) (`sample_log_gamma`),
    computed as sigmoid(log G1 - log G2) so that tiny alphas (lambda at 0 or 1)
    stay finite. alpha == 0 gives lambda = 1 (no mixing: the paper's alpha -> 0
    limit is ERM).

    Args:
        seed: two integers (tensor of shape `[2]`).
        shape: static shape of the output (tuple of ints).
        alpha: float scalar >= 0, Python number or tensor.
        ops: the ops binding; by default the one for `seed`.

    Returns:
        float32 tensor of `shape` with values in [0, 1].

    Example:
    >>> lam = sample_beta(tf.constant([1, 2]), [4], alpha=1.0)
    >>> lam.shape, lam.dtype.name
    (TensorShape([4]), 'float32')
    >>> bool(tf.reduce_all((lam >= 0) & (lam <= 1)))
    True
    """
    ops = ops or ops_for(seed)
    count = math.prod(shape)
    words = random_words(seed, WORDS_PER_GAMMA * 2 * count, MAIN_STREAM, ops)
    lam = beta_from_uniforms(unit_uniforms(words, ops), count, alpha, seed, ops)
    return ops.reshape(lam, list(shape))


def sample_mix_params(
    seed, batch_size, alpha, per_example: bool = False, groups=None, ops=None
) -> MixParams:
    """Draws the mixup parameters of one batch: lambda(s) and the partner permutation.

    This is the one place where keras_mixup draws mixing parameters;
    `MixupTransform`, `MixupLayer` and `NeighbourMixup` all call it.

    All random words of a batch (the permutation keys, then the first rejection
    round of the Beta sampler) come from one Threefry call. The same seed gives
    the same permutation, bit for bit, in eager, graph and XLA code and on every
    Keras backend; lambda is the same up to the rounding of `log` and `cos`
    (relative differences of about 1e-7). In the rare case where a Gamma
    proposal's acceptance test falls within that rounding of its boundary (about
    one proposal in 10**7), the backends can accept different proposals and draw
    different, equally distributed lambdas.

    Args:
        seed: two integers (tensor of shape `[2]`, e.g. a stateless seed or a
            `keras.random.SeedGenerator` state).
        batch_size: int or scalar int tensor.
        alpha: Beta(alpha, alpha) concentration, float >= 0 (Python or tensor).
            0 means no mixing (lambda = 1).
        per_example: if False (default, the paper's choice), one lambda for the
            whole batch; if True, an independent lambda per example.
        groups: optional integer tensor `[batch_size]` (class ids): the partner of
            example `i` is then drawn among the examples of its own group (a
            uniformly random permutation within each group, the paper's "SC"
            pairing of Table 5). An example alone in its group is its own partner.
            None (default): a uniformly random permutation of the whole batch
            ("AC + RP", the paper's mixup).
        ops: the ops binding (`keras_mixup.ops.TENSORFLOW` or `.KERAS`); by
            default the one for `seed`'s kind of tensor.

    Returns:
        A `MixParams(mix_weight, permutation)`. A batch of size 1 has nothing to
        mix with: its mix weight is 1, so it is returned unchanged.

    Example:
    >>> params = sample_mix_params(tf.constant([0, 42]), batch_size=5, alpha=0.2)
    >>> sorted(params.permutation.numpy().tolist())
    [0, 1, 2, 3, 4]
    >>> params.mix_weight.shape
    TensorShape([5])
    >>> classes = tf.constant([0, 1, 0, 1, 1])
    >>> same = sample_mix_params(tf.constant([0, 42]), 5, 1.0, groups=classes)
    >>> bool(tf.reduce_all(tf.gather(classes, same.permutation) == classes))
    True
    """
    ops = ops or ops_for(seed)
    num_weights = batch_size if per_example else 1
    num_key_words = batch_size if groups is None else 2 * batch_size
    words = random_words(seed, num_key_words + WORDS_PER_GAMMA * 2 * num_weights, MAIN_STREAM, ops)
    if groups is None:
        permutation = ops.argsort(words[:batch_size])
    else:
        permutation = _permutation_within_groups(
            words[:batch_size], words[batch_size:num_key_words], groups, ops
        )
    uniforms = unit_uniforms(words[num_key_words:], ops)
    lam = beta_from_uniforms(uniforms, num_weights, alpha, seed, ops)
    lam = ops.broadcast_to(lam, [batch_size])
    lam = ops.where(ops.convert(batch_size) > 1, lam, 1.0)
    return MixParams(mix_weight=lam, permutation=permutation)


def _permutation_within_groups(keys_a, keys_b, groups, ops):
    """A uniformly random permutation that maps every index into its own group.

    Two independent random orders of the batch, each stably sorted by group,
    list every group in the same contiguous block; pairing the k-th entries of
    the two orders maps each group onto itself, uniformly at random.
    """
    groups = ops.reshape(ops.convert(groups), [-1])

    def grouped_order(keys):
        random_order = ops.argsort(keys)
        by_group = ops.argsort(ops.take(groups, random_order))
        return ops.take(random_order, by_group)

    order_a, order_b = grouped_order(keys_a), grouped_order(keys_b)
    # permutation[order_a[k]] = order_b[k]
    return ops.take(order_b, ops.argsort(order_a))


def sample_neighbour_choice(seed, batch_size, num_neighbours, ops=None):
    """Which of its `num_neighbours` nearest neighbours each example is mixed with.

    Uniform integers in `[0, num_neighbours)`, shape `[batch_size]`, int32, from
    the seed's `NEIGHBOUR_STREAM` (separate from `sample_mix_params`'s, so the
    same seed can drive both): 31 random bits modulo `num_neighbours` (a bias
    below `num_neighbours / 2**31`). Used by `keras_mixup.neighbours.NeighbourMixup`.
    """
    ops = ops or ops_for(seed)
    words = random_words(seed, batch_size, NEIGHBOUR_STREAM, ops)
    return ops.bit_and(words, 0x7FFFFFFF) % ops.cast(ops.convert(num_neighbours), "int32")

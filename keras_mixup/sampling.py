"""Drawing mixup's random parameters: the mix weight and the partner permutation.

This module only *draws*; `keras_mixup.mixing` only *applies*. Everything here is a
pure function of an explicit stateless seed (a shape-`[2]` integer tensor), so the
same seed always gives the same parameters, the functions compile under XLA
(`tf.function(jit_compile=True)`), and callers decide where seeds come from
(a `tf.random.Generator`, a `keras.random.SeedGenerator`, or a per-element seed
in `tf.data`).

Why not `tf.random.stateless_gamma` or `keras.random.beta`: the gamma op behind
them has no XLA kernel. `sample_beta` below is exact (not an approximation) and
built only from stateless normal/uniform draws, a bounded `tf.while_loop` and
elementwise maths, all of which XLA compiles.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import tensorflow as tf

# Philox, named explicitly: "auto_select" may pick a different generator per device.
RNG_ALG = "philox"

# Rejection rounds in the gamma sampler. Each proposal is accepted with probability
# >= 0.95 (Marsaglia & Tsang, shape >= 1) and a round makes CANDIDATES_PER_ROUND
# proposals per variate, so a variate is still pending after 16 rounds with
# probability below 0.05**64 ~ 1e-83: the cap only guards against an endless loop
# on a non-finite alpha, it never truncates in practice.
CANDIDATES_PER_ROUND = 4
MAX_REJECTION_ROUNDS = 16
_FLOAT32_TINY = 1.1754944e-38  # smallest normal float32


class MixParams(NamedTuple):
    """The random parameters of one mixup batch.

    Attributes:
        mix_weight: float32 tensor of shape `[batch_size]`: lambda for each example,
            the weight of the example itself. With one lambda per batch (the
            default) all entries are equal.
        permutation: int32 tensor of shape `[batch_size]`: example `i` is mixed with
            example `permutation[i]` of the same batch.
    """

    mix_weight: tf.Tensor
    permutation: tf.Tensor


def validate_alpha(alpha, name: str = "alpha") -> float:
    """Returns `alpha` as a float after checking it is a finite number >= 0.

    Raises:
        ValueError: if `alpha` is negative, NaN or infinite.
        TypeError: if `alpha` is not a real number.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(
            f"`{name}` must be a real number >= 0 (the Beta(alpha, alpha) "
            f"concentration); got {alpha!r} of type {type(alpha).__name__}."
        )
    value = float(alpha)
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"`{name}` must be a finite number >= 0 (0 disables mixing, the paper "
            f"uses 0.1 to 32); got {name}={alpha!r}."
        )
    return value


def _as_seed(seed) -> tf.Tensor:
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(
            f"`seed` must be an integer tensor of shape [2]; got dtype {seed.dtype.name}."
        )
    seed = tf.cast(seed, tf.int64)
    if seed.shape.rank is not None and seed.shape != (2,):
        raise ValueError(f"`seed` must have shape [2]; got shape {seed.shape}.")
    return seed


def _random_words(seed, count) -> tf.Tensor:
    """`count` random 32-bit words (int32) from a stateless seed: one RNG kernel."""
    return tf.random.stateless_uniform(
        tf.reshape(count, [1]), seed, minval=None, maxval=None, dtype=tf.int32, alg=RNG_ALG
    )


def _unit_uniforms(words: tf.Tensor) -> tf.Tensor:
    """Uniforms on (0, 1] from random words: the top 24 bits, k -> (k + 1) / 2**24.

    Every value is exact in float32, and 0 is excluded so that logs stay finite.
    """
    top_bits = tf.bitwise.right_shift(tf.bitcast(words, tf.uint32), 8)
    return (tf.cast(top_bits, tf.float32) + 1.0) * (2.0**-24)


def _words_per_gamma() -> int:
    # First rejection round: per proposal two uniforms for the Box-Muller normal and
    # one for the acceptance test; plus one uniform for the alpha < 1 boost.
    return 3 * CANDIDATES_PER_ROUND + 1


def _log_gamma_from_uniforms(uniforms, num_variates, alpha, seed) -> tf.Tensor:
    """log(G), G ~ Gamma(alpha, 1), for `num_variates` variates (float32 [num_variates]).

    `uniforms` holds `_words_per_gamma() * num_variates` uniforms on (0, 1]: the
    first rejection round's proposals and the boost uniforms. Further rounds (rare)
    draw their own words from `fold_in(seed, round)`.
    """
    alpha = tf.cast(alpha, tf.float32)
    boosted = alpha < 1.0
    shape_param = tf.where(boosted, alpha + 1.0, alpha)
    d = shape_param - 1.0 / 3.0
    c = tf.math.rsqrt(9.0 * d)
    proposal_shape = tf.stack([3, CANDIDATES_PER_ROUND, num_variates])
    num_proposal_uniforms = 3 * CANDIDATES_PER_ROUND * num_variates

    def propose(proposal_uniforms):
        """One round of Marsaglia-Tsang with CANDIDATES_PER_ROUND proposals per variate.

        Returns, per variate, whether a proposal was accepted and log(v) of the
        first accepted one: proposals are consumed in order, so the result is
        exactly the sequential rejection sampler's.
        """
        u = tf.reshape(proposal_uniforms, proposal_shape)
        x = tf.sqrt(-2.0 * tf.math.log(u[0])) * tf.cos((2.0 * math.pi) * u[1])  # Box-Muller
        v = (1.0 + c * x) ** 3
        log_v = tf.math.log(tf.maximum(v, _FLOAT32_TINY))
        accept = (v > 0.0) & (tf.math.log(u[2]) < 0.5 * tf.square(x) + d - d * v + d * log_v)
        first = accept & (tf.cumsum(tf.cast(accept, tf.int32), axis=0) == 1)
        return tf.reduce_any(accept, axis=0), tf.reduce_sum(tf.where(first, log_v, 0.0), axis=0)

    accepted, log_v = propose(uniforms[:num_proposal_uniforms])
    variate_shape = log_v.shape

    def next_round(i, accepted, log_v):
        round_seed = tf.random.experimental.stateless_fold_in(seed, i, alg=RNG_ALG)
        accepted_now, log_v_now = propose(
            _unit_uniforms(_random_words(round_seed, num_proposal_uniforms))
        )
        log_v = tf.ensure_shape(tf.where(accepted, log_v, log_v_now), variate_shape)
        return i + 1, tf.ensure_shape(accepted | accepted_now, variate_shape), log_v

    # Almost always every variate is accepted in the first round (each is left
    # pending with probability <= 0.05**4); the loop then runs zero times.
    _, _, log_v = tf.while_loop(
        lambda i, accepted, _: (i < MAX_REJECTION_ROUNDS) & ~tf.reduce_all(accepted),
        next_round,
        (tf.constant(1, tf.int32), accepted, log_v),
    )
    log_gamma = tf.math.log(d) + log_v
    boost = tf.math.log(uniforms[num_proposal_uniforms:]) / tf.where(boosted, alpha, 1.0)
    return tf.where(boosted, log_gamma + boost, log_gamma)


def _beta_from_uniforms(uniforms, num_variates, alpha, seed) -> tf.Tensor:
    """lambda ~ Beta(alpha, alpha) as sigmoid(log G1 - log G2); alpha = 0 gives 1."""
    alpha = tf.cast(alpha, tf.float32)
    log_gammas = _log_gamma_from_uniforms(
        uniforms, 2 * num_variates, tf.where(alpha > 0, alpha, 1.0), seed
    )
    lam = tf.sigmoid(log_gammas[:num_variates] - log_gammas[num_variates:])
    return tf.where(alpha > 0, lam, tf.ones_like(lam))


def sample_log_gamma(seed, shape, alpha) -> tf.Tensor:
    """Draws log(G) for G ~ Gamma(alpha, 1), exactly, with XLA-compilable ops.

    Marsaglia & Tsang's rejection method for shape >= 1, with standard normals by
    Box-Muller; for alpha < 1 the draw is boosted: Gamma(alpha) = Gamma(alpha + 1)
    * U**(1 / alpha), taken in log space so that small alphas (where U**(1/alpha)
    underflows float32) stay exact. All random bits of the first rejection round
    come from one stateless RNG call.

    Args:
        seed: integer tensor of shape `[2]`, a stateless seed.
        shape: shape of the output.
        alpha: float scalar (Python or tensor) > 0.

    Returns:
        float32 tensor of `shape`.

    References:
        - Marsaglia & Tsang, "A simple method for generating gamma variables",
          ACM TOMS 26(3), 2000.
    """
    seed = _as_seed(seed)
    count = tf.reduce_prod(tf.cast(shape, tf.int32))
    uniforms = _unit_uniforms(_random_words(seed, _words_per_gamma() * count))
    return tf.reshape(_log_gamma_from_uniforms(uniforms, count, alpha, seed), shape)


def sample_beta(seed, shape, alpha) -> tf.Tensor:
    """Draws lambda ~ Beta(alpha, alpha), exactly, with XLA-compilable ops.

    lambda = G1 / (G1 + G2) with G1, G2 ~ Gamma(alpha, 1) (`sample_log_gamma`),
    computed as sigmoid(log G1 - log G2) so that tiny alphas (lambda at 0 or 1)
    stay finite. alpha == 0 gives lambda = 1 (no mixing: the paper's alpha -> 0
    limit is ERM).

    Args:
        seed: integer tensor of shape `[2]`, a stateless seed.
        shape: shape of the output.
        alpha: float scalar >= 0, Python number or tensor.

    Returns:
        float32 tensor of `shape` with values in [0, 1].

    Example:
    >>> lam = sample_beta(tf.constant([1, 2]), [4], alpha=1.0)
    >>> lam.shape, lam.dtype.name
    (TensorShape([4]), 'float32')
    >>> bool(tf.reduce_all((lam >= 0) & (lam <= 1)))
    True
    """
    seed = _as_seed(seed)
    count = tf.reduce_prod(tf.cast(shape, tf.int32))
    uniforms = _unit_uniforms(_random_words(seed, _words_per_gamma() * 2 * count))
    return tf.reshape(_beta_from_uniforms(uniforms, count, alpha, seed), shape)


def replica_seed(seed) -> tf.Tensor:
    """`seed` made distinct per replica under a multi-replica `tf.distribute` strategy.

    In a replica context with more than one replica in sync (MirroredStrategy,
    MultiWorkerMirroredStrategy, TPUStrategy), the replica's id in the sync group
    is folded into the stateless seed, so that replicas fed the same seed (a
    mirrored seed-generator state) draw different lambdas and permutations, and
    the run stays reproducible. Elsewhere (no strategy, one replica, cross-replica
    context) the seed is returned unchanged.
    """
    seed = _as_seed(seed)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return seed
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return tf.random.experimental.stateless_fold_in(seed, replica, alg=RNG_ALG)


def sample_mix_params(seed, batch_size, alpha, per_example: bool = False, groups=None) -> MixParams:
    """Draws the mixup parameters of one batch: lambda(s) and the partner permutation.

    This is the one place where keras_mixup draws randomness; `MixupTransform`,
    `MixupLayer` and `MixupLoss` all call it.

    Args:
        seed: integer tensor of shape `[2]`, a stateless seed. The same seed and
            batch size always give the same parameters (within one execution mode:
            XLA-compiled and uncompiled code draw different, equally distributed
            values from the same seed).
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
    seed = _as_seed(seed)
    batch_size = tf.convert_to_tensor(batch_size, tf.int32)
    num_weights = batch_size if per_example else tf.constant(1, tf.int32)
    num_key_words = batch_size if groups is None else 2 * batch_size
    # One RNG call for the whole batch: permutation keys, then the Beta's uniforms.
    words = _random_words(seed, num_key_words + _words_per_gamma() * 2 * num_weights)
    if groups is None:
        permutation = tf.argsort(words[:batch_size], stable=True)
    else:
        permutation = _permutation_within_groups(
            words[:batch_size], words[batch_size:num_key_words], groups
        )
    lam = _beta_from_uniforms(_unit_uniforms(words[num_key_words:]), num_weights, alpha, seed)
    lam = tf.broadcast_to(lam, tf.reshape(batch_size, [1]))
    lam = tf.where(batch_size > 1, lam, tf.ones_like(lam))
    return MixParams(mix_weight=lam, permutation=permutation)


def _permutation_within_groups(keys_a, keys_b, groups) -> tf.Tensor:
    """A uniformly random permutation that maps every index into its own group.

    Two independent random orders of the batch, each stably sorted by group,
    list every group in the same contiguous block; pairing the k-th entries of
    the two orders maps each group onto itself, uniformly at random.
    """
    groups = tf.reshape(tf.convert_to_tensor(groups), [-1])

    def grouped_order(keys):
        random_order = tf.argsort(keys, stable=True)
        by_group = tf.argsort(tf.gather(groups, random_order), stable=True)
        return tf.gather(random_order, by_group)

    order_a, order_b = grouped_order(keys_a), grouped_order(keys_b)
    # permutation[order_a[k]] = order_b[k]
    return tf.gather(order_b, tf.argsort(order_a, stable=True))


def sample_neighbour_choice(seed, batch_size, num_neighbours) -> tf.Tensor:
    """Which of its `num_neighbours` nearest neighbours each example is mixed with.

    Uniform integers in `[0, num_neighbours)`, shape `[batch_size]`, int32, drawn
    from a stream of `seed` separate from `sample_mix_params`'s (so the same seed
    can drive both). Used by `keras_mixup.neighbours.NeighbourMixup`.
    """
    seed = tf.random.experimental.stateless_fold_in(_as_seed(seed), 1, alg=RNG_ALG)
    return tf.random.stateless_uniform(
        tf.reshape(tf.convert_to_tensor(batch_size, tf.int32), [1]),
        seed,
        minval=0,
        maxval=num_neighbours,
        dtype=tf.int32,
        alg=RNG_ALG,
    )

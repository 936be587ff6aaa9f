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
    `alpha` is a scalar or one shape per variate (`[num_variates]`), all > 0.
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

    Examples:
        >>> lam = sample_beta(tf.constant([1, 2]), [4], alpha=1.0)
        >>> lam.shape, lam.dtype.name
        (TensorShape([4]), 'float32')
        >>> bool(tf.reduce_all((lam >= 0) & (lam <= 1)))
        True
    """
    ops = ops or ops_for(seed)
    count = math.prod(shape)
    alpha = _as_alpha(alpha, ops)
    words = random_words(seed, WORDS_PER_GAMMA * 2 * count, MAIN_STREAM, ops)
    log_gammas = _log_gamma_from_uniforms(
        unit_uniforms(words, ops), 2 * count, ops.where(alpha > 0, alpha, 1.0), seed, ops
    )
    lam = _dirichlet_weights(log_gammas, 2, count, alpha, ops)[0]
    return ops.reshape(lam, list(shape))


def _dirichlet_weights(log_gammas, num_mixed: int, num_weights, alpha, ops):
    """Weights `[num_mixed, num_weights]` from `num_mixed * num_weights` log-Gamma
    draws: Beta(alpha, alpha) as sigmoid(log G1 - log G2) for pairs, and
    Dirichlet(alpha, ..., alpha) as a softmax of the log-Gammas for k >= 3 (the
    normalized Gammas, stable for tiny alphas). alpha = 0 gives (1, 0, ..., 0)."""
    log_gammas = ops.reshape(log_gammas, [num_mixed, -1])
    if num_mixed == 2:
        own = ops.sigmoid(log_gammas[0] - log_gammas[1])
        weights = ops.stack([own, 1.0 - own])
    else:
        shifted = ops.exp(log_gammas - ops.max(log_gammas, axis=0))
        weights = shifted / ops.sum(shifted, axis=0)
    first = ops.cast(ops.arange(num_mixed) == 0, "float32")[:, None]
    return ops.where(alpha > 0, weights, first)


def _cutmix_boxes(lam, centre_words, image_size, ops):
    """Boxes `[n, 4]` (top, left, bottom, right) and their clipped area fractions `[n]`.

    The box has the image's aspect ratio and, before clipping, an area of
    `(1 - lam) H W` (sides rounded to whole pixels), centred on a uniformly random
    pixel; it is clipped to the image, so its area may be smaller.
    """
    height, width = (ops.cast(ops.convert(size), "int32") for size in image_size)
    side = ops.sqrt(ops.maximum(1.0 - lam, 0.0))
    box_height = ops.cast(ops.floor(side * ops.cast(height, "float32") + 0.5), "int32")
    box_width = ops.cast(ops.floor(side * ops.cast(width, "float32") + 0.5), "int32")
    centre_y = ops.bit_and(centre_words[0], 0x7FFFFFFF) % height
    centre_x = ops.bit_and(centre_words[1], 0x7FFFFFFF) % width
    top = ops.maximum(centre_y - box_height // 2, 0)
    left = ops.maximum(centre_x - box_width // 2, 0)
    bottom = ops.minimum(centre_y - box_height // 2 + box_height, height)
    right = ops.minimum(centre_x - box_width // 2 + box_width, width)
    area = ops.cast((bottom - top) * (right - left), "float32")
    return ops.stack([top, left, bottom, right], axis=1), area / ops.cast(height * width, "float32")


def sample_mix_params(
    seed,
    batch_size,
    alpha,
    per_example: bool = False,
    groups=None,
    ops=None,
    *,
    num_mixed: int = 2,
    cutmix_alpha=None,
    switch_prob=0.5,
    prob=1.0,
    image_size=None,
    exact_area: bool = True,
) -> MixParams:
    """Draws the mixing parameters of one batch: weights, partners and CutMix boxes.

    This is the one place where keras_mixup draws mixing parameters;
    `MixupTransform`, `MixupLayer` and `NeighbourMixup` all call it.

    All random words of a batch come from one Threefry call (the permutation keys
    first, then the Gamma proposals, then the uniforms of `prob`, the switch and
    the box centres). The same seed gives the same permutation, bit for bit, in
    eager, graph and XLA code and on every Keras backend; lambda is the same up
    to the rounding of `log` and `cos` (relative differences of about 1e-7). In
    the rare case where a Gamma proposal's acceptance test falls within that
    rounding of its boundary (about one proposal in 10**7), the backends can
    accept different proposals and draw different, equally distributed lambdas.

    Args:
        seed: two integers (tensor of shape `[2]`, e.g. a stateless seed or a
            `keras.random.SeedGenerator` state).
        batch_size: int or scalar int tensor.
        alpha: mixup's concentration, float >= 0 (Python or tensor): lambda ~
            Beta(alpha, alpha), or the weights ~ Dirichlet(alpha, ..., alpha) for
            `num_mixed > 2`. 0 means no mixup (lambda = 1).
        per_example: if False (default, the paper's choice), one draw for the
            whole batch (one lambda, one box, one switch and `prob` decision); if
            True, an independent draw per example.
        groups: optional integer tensor `[batch_size]` (class ids): partners are
            then drawn among the examples of the same group (a uniformly random
            permutation within each group, the paper's "SC" pairing of Table 5).
            An example alone in its group is its own partner.
        ops: the ops binding (`keras_mixup.ops.TENSORFLOW` or `.KERAS`); by
            default the one for `seed`'s kind of tensor.
        num_mixed: how many examples mixup combines (static int >= 2): each
            example with `num_mixed - 1` partners from as many independent
            permutations (paper, Section 2).
        cutmix_alpha: None (default): no CutMix. A float >= 0 (Python or tensor):
            CutMix's lambda ~ Beta(cutmix_alpha, cutmix_alpha) sets a box (see
            `MixParams.box`) of area `(1 - lambda) H W` with the image's aspect
            ratio at a uniformly random centre, clipped to the image.
        switch_prob: with both alphas > 0, the probability that a batch (an
            example, with `per_example`) uses CutMix instead of mixup. With only
            one alpha > 0, that method is used.
        prob: the probability that a batch (an example) is mixed at all;
            otherwise its weight is 1 (it is returned as it is).
        image_size: `(H, W)` of the images (ints or scalar tensors); needed with
            `cutmix_alpha`.
        exact_area: if True (default), an example cut by a box keeps the weight
            `1 - (clipped box area) / (H W)`, the share of its pixels it keeps; if
            False, the drawn lambda (timm's `correct_lam=False`), which overstates
            the example's share when the box was clipped at the border.

    Returns:
        A `MixParams`. A batch of size 1 has nothing to mix with: its mix weight
        is 1, so it is returned unchanged.

    Examples:
        >>> params = sample_mix_params(tf.constant([0, 42]), batch_size=5, alpha=0.2)
        >>> sorted(params.permutation.numpy().tolist())
        [0, 1, 2, 3, 4]
        >>> params.mix_weight.shape
        TensorShape([5])
        >>> classes = tf.constant([0, 1, 0, 1, 1])
        >>> same = sample_mix_params(tf.constant([0, 42]), 5, 1.0, groups=classes)
        >>> bool(tf.reduce_all(tf.gather(classes, same.permutation) == classes))
        True
        >>> cut = sample_mix_params(tf.constant([1, 2]), 4, 0.0, cutmix_alpha=1.0, image_size=(8, 6))
        >>> cut.box.shape, bool(cut.cut[0])
        (TensorShape([4, 4]), True)
    """
    ops = ops or ops_for(seed)
    num_partners = num_mixed - 1
    num_weights = batch_size if per_example else 1
    keys_per_permutation = batch_size if groups is None else 2 * batch_size
    num_key_words = num_partners * keys_per_permutation
    cutmix = cutmix_alpha is not None
    if cutmix and image_size is None:
        raise user_error(
            ValueError, "sample_mix_params: `image_size` is needed with `cutmix_alpha`."
        )
    # Gamma variates: mixup's (2 for Beta, k for Dirichlet), then CutMix's 2.
    num_gammas = (num_mixed + (2 if cutmix else 0)) * num_weights
    words = random_words(
        seed,
        num_key_words + WORDS_PER_GAMMA * num_gammas + (4 if cutmix else 1) * num_weights,
        MAIN_STREAM,
        ops,
    )
    permutations = []
    for index in range(num_partners):
        keys = words[index * keys_per_permutation : (index + 1) * keys_per_permutation]
        if groups is None:
            permutations.append(ops.argsort(keys))
        else:
            permutations.append(
                _permutation_within_groups(keys[:batch_size], keys[batch_size:], groups, ops)
            )
    gamma_end = num_key_words + WORDS_PER_GAMMA * num_gammas
    alpha = _as_alpha(alpha, ops)
    alphas = ops.broadcast_to(alpha, [num_mixed * num_weights])
    if cutmix:
        cutmix_alpha = _as_alpha(cutmix_alpha, ops)
        alphas = ops.concat([alphas, ops.broadcast_to(cutmix_alpha, [2 * num_weights])])
    log_gammas = _log_gamma_from_uniforms(
        unit_uniforms(words[num_key_words:gamma_end], ops),
        num_gammas,
        ops.where(alphas > 0, alphas, 1.0),
        seed,
        ops,
    )
    mixup_gammas = log_gammas[: num_mixed * num_weights]
    weights = _dirichlet_weights(mixup_gammas, num_mixed, num_weights, alpha, ops)
    uniforms = unit_uniforms(words[gamma_end:], ops)
    applied = uniforms[:num_weights] <= prob  # u in (0, 1]: prob 1 always, 0 never
    applied = applied & (ops.convert(batch_size) > 1)  # a batch of one has no partner
    own = ops.where(applied, weights[0], 1.0)
    more_weights = None
    if num_mixed > 2:
        more_weights = ops.where(applied, weights[2:], 0.0)
    box = cut = None
    if cutmix:
        cut_gammas = log_gammas[num_mixed * num_weights :]
        cut_lam = _dirichlet_weights(cut_gammas, 2, num_weights, cutmix_alpha, ops)[0]
        centre_words = ops.reshape(
            words[gamma_end + 2 * num_weights : gamma_end + 4 * num_weights], [2, -1]
        )
        box, area = _cutmix_boxes(cut_lam, centre_words, image_size, ops)
        switch = uniforms[num_weights : 2 * num_weights] <= switch_prob
        use_cutmix = ops.where((alpha > 0) & (cutmix_alpha > 0), switch, cutmix_alpha > 0)
        cut = applied & use_cutmix
        kept = 1.0 - area if exact_area else cut_lam
        own = ops.where(cut, kept, own)
    shape = [batch_size]
    return MixParams(
        mix_weight=ops.broadcast_to(own, shape),
        permutation=permutations[0],
        more_weights=None
        if more_weights is None
        else ops.broadcast_to(more_weights, [num_mixed - 2, batch_size]),
        more_permutations=None if num_mixed == 2 else ops.stack(permutations[1:]),
        box=None if box is None else ops.broadcast_to(box, [batch_size, 4]),
        cut=None if cut is None else ops.broadcast_to(cut, shape),
    )


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

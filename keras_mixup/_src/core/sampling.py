"""The random primitives every draw is made of: Threefry words, uniforms, exact
Gamma / Beta / Dirichlet variates, permutations within groups, categorical draws
(C-Mixup's partners, the choice of method).

These primitives, the mixing methods' draws (`methods/`) and the sampler that
combines them (`sampler.py`) only *draw*; `mixing.py` only *applies*. They are
the one place where keras_mixup makes randomness, for every front and every
backend: everything here is a pure function of an explicit seed (two 32-bit
integers), written against the ops interface (`ops.py`), so the same code runs
as TensorFlow ops in tf.data and XLA, as `keras.ops` on JAX and PyTorch, and as
NumPy on the host.

Random bits come from Threefry-2x32 with 20 rounds (Salmon et al., SC 2011),
the counter-based generator JAX uses, computed with 32-bit integer adds,
rotations and xors that every binding executes identically. Every purpose has
its own *stream* (the high word of Threefry's counter; `STREAMS`), so adding a
draw, or drawing more of one quantity, changes no other draw; the words of all
streams a batch needs come from one Threefry call. Everything after the words
(uniforms, normals, the Gamma rejection sampler, the permutation) is
keras_mixup's own arithmetic: the same seed gives the same permutation bit for
bit everywhere and the same weights up to the last-bit rounding of `log`, `cos`
and `sin` in each library.

Why not `tf.random.stateless_gamma` or `keras.random.beta`: the gamma op behind
them has no XLA kernel, and each backend's generator differs. The Gamma variates
below, and the Beta and Dirichlet weights made of them, are exact (not
approximations).
"""

from __future__ import annotations

import math

from keras_mixup._src.core.validation import user_error

# Threefry-2x32: rotation constants and the key-schedule parity (Salmon et al. 2011).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA

# Streams: the high word of Threefry's counter; word i of stream s is output i % 2
# of Threefry at counter (i // 2, s). One stream per purpose.
# The core's streams are here; each mixing method declares its own
# (`methods/<method>.py`: mixup 6, CutMix 5 and 7), all numbers distinct.
STREAMS = {
    "neighbour": 1,  # which nearest neighbour (keras_mixup.neighbours)
    "fold_in": 2,  # derived seeds (replicas, shards, pipelines)
    "prob": 3,  # is the example (batch) mixed at all
    "choice": 4,  # which method mixes it (the switch between mixup and CutMix)
    "point": 1 << 15,  # which of Manifold Mixup's points mixes this step
    "permutation": 1 << 16,  # + p: the keys of partner p's permutation
}

# Rejection sampling of Gamma variates (Marsaglia & Tsang) with a fixed budget of
# proposals: ROUNDS rounds of PROPOSALS_PER_ROUND proposals per variate, the first
# accepted one kept (exactly the sequential sampler's result). A proposal is
# accepted with probability >= 0.95 (shape >= 1; smaller alphas are boosted), so a
# variate has no accepted proposal with probability <= 0.05**16 < 1.6e-21; it is
# then d (the centre of the Gamma's mass) instead of a random value. Compiled code
# computes all rounds at once (no loop, no synchronisation); the host binding
# stops after the first round in which every variate was accepted (almost always
# the first), with the same result.
PROPOSALS_PER_ROUND = 4
ROUNDS = 4
# Per round and variate: two Box-Muller pairs (4 words, 4 normals) and 4 acceptance uniforms.
WORDS_PER_ROUND = 2 * PROPOSALS_PER_ROUND
WORDS_PER_GAMMA = ROUNDS * WORDS_PER_ROUND + 1  # and one uniform for the alpha < 1 boost
_FLOAT32_TINY = 1.1754944e-38  # smallest normal float32


def threefry2x32(key, counter_low, counter_high, *, ops):
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
            x1 = ops.bit_xor(ops.rotate_left(x1, bits), x0)
        x0 = x0 + keys[(block + 1) % 3]
        x1 = x1 + keys[(block + 2) % 3] + (block + 1)
    return x0, x1


def seed_key(seed, *, ops):
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


def stream_words(seed, requests, *, ops) -> list:
    """Random 32-bit words (int32) of `seed` for several streams in one Threefry call.

    `requests` is a list of `(stream, start, count)`: words `start` to
    `start + count` of that stream (`start` even). Returns one int32 vector per
    request. Word `i` of stream `s` is output `i % 2` of Threefry at counter
    `(i // 2, s)`, so a word does not depend on what else is drawn.
    """
    key = seed_key(seed, ops=ops)
    lows, highs, sizes = [], [], []
    for stream, start, count in requests:
        pairs = (count + 1) // 2
        low = ops.arange(pairs) + start // 2
        lows.append(low)
        highs.append(low * 0 + stream)
        sizes.append(pairs)
    low, high = threefry2x32(key, ops.concat(lows), ops.concat(highs), ops=ops)
    words = ops.reshape(ops.stack([low, high], axis=1), [-1])
    out, offset = [], 0
    for (_, _, count), pairs in zip(requests, sizes, strict=True):
        out.append(words[2 * offset : 2 * offset + count])
        offset = offset + pairs
    return out


def random_words(seed, count, stream: int, *, ops):
    """`count` random words (int32 `[count]`) of `seed` on `stream`."""
    return stream_words(seed, [(stream, 0, count)], ops=ops)[0]


def fold_in(seed, data, *, ops):
    """A new seed (int32 `[2]`) derived from `seed` and the integer `data`
    (e.g. a replica or shard index): Threefry of `(data, fold_in stream)`."""
    data = ops.reshape(ops.cast(ops.convert(data), "int32"), [1])
    low, high = threefry2x32(seed_key(seed, ops=ops), data, data * 0 + STREAMS["fold_in"], ops=ops)
    return ops.concat([low, high], axis=0)


def unit_uniforms(words, *, ops):
    """Uniforms on (0, 1] from random words: the top 24 bits, k -> (k + 1) / 2**24.

    Every value is exact in float32, and 0 is excluded so that logs stay finite.
    """
    top_bits = ops.bit_and(ops.shift_right(words, 8), 0xFFFFFF)
    return (ops.cast(top_bits, "float32") + 1.0) * (2.0**-24)


def standard_normals(radius_uniforms, angle_uniforms, *, ops):
    """Standard normals by Box-Muller from two equally shaped tensors of uniforms on
    (0, 1]: `concat([r cos t, r sin t])` along the first axis, `r = sqrt(-2 log u1)`,
    `t = 2 pi u2` (twice as many normals as pairs; each pair's two are independent)."""
    radius = ops.sqrt(-2.0 * ops.log(radius_uniforms))
    angle = (2.0 * math.pi) * angle_uniforms
    return ops.concat([radius * ops.cos(angle), radius * ops.sin(angle)], axis=0)


def _propose(round_uniforms, num_variates, d, c, *, ops):
    """One round of Marsaglia-Tsang: `PROPOSALS_PER_ROUND` proposals per variate.

    `round_uniforms`: `WORDS_PER_ROUND * num_variates` uniforms, laid out
    `[WORDS_PER_ROUND, num_variates]`. Returns `accept` and `log v`, each
    `[PROPOSALS_PER_ROUND, num_variates]`, in proposal order.
    """
    u = ops.reshape(round_uniforms, [WORDS_PER_ROUND, -1])
    x = standard_normals(u[0:2], u[2:4], ops=ops)  # two pairs, four normals
    v = (1.0 + c * x) * (1.0 + c * x) * (1.0 + c * x)
    log_v = ops.log(ops.maximum(v, _FLOAT32_TINY))
    accept = (v > 0.0) & (ops.log(u[4:8]) < 0.5 * x * x + d - d * v + d * log_v)
    return accept, log_v


def _first_accepted(accept, log_v, *, ops):
    """`log v` of the first accepted proposal of each variate (0 if none: v = 1)."""
    first = accept & (ops.cumsum(ops.cast(accept, "int32"), axis=0) == 1)
    return ops.sum(ops.where(first, log_v, 0.0), axis=0)


def gamma_requests(stream: int, num_variates, *, ops) -> list:
    """The `stream_words` requests of `num_variates` Gamma variates on `stream`: every
    round's proposals at once where the binding compiles or runs on a device, the first
    round only on the host (later rounds are drawn when needed), and the boost words."""
    per_round = WORDS_PER_ROUND * num_variates
    rounds = 1 if ops.host else ROUNDS
    return [(stream, 0, rounds * per_round), (stream, ROUNDS * per_round, num_variates)]


def log_gamma_from_words(seed, stream: int, words: list, num_variates, alpha, *, ops):
    """log(G), G ~ Gamma(alpha, 1), for `num_variates` variates (float32 `[num_variates]`),
    from the words of `gamma_requests` (see `log_gamma`)."""
    boosted = alpha < 1.0
    shape_param = ops.where(boosted, alpha + 1.0, alpha)
    d = shape_param - 1.0 / 3.0
    c = 1.0 / ops.sqrt(9.0 * d)
    proposal_words, boost_words = words
    rounds = ops.reshape(
        unit_uniforms(proposal_words, ops=ops), [-1, WORDS_PER_ROUND * num_variates]
    )
    proposals = [
        _propose(rounds[r], num_variates, d, c, ops=ops) for r in range(1 if ops.host else ROUNDS)
    ]
    accept = ops.concat([a for a, _ in proposals])
    log_v = ops.concat([v for _, v in proposals])
    if ops.host:  # on the host: a further round only while a variate is pending (p < 6.3e-6)
        per_round = WORDS_PER_ROUND * num_variates
        for round_index in range(1, ROUNDS):
            if ops.all(ops.any(accept, axis=0)):
                break
            (more,) = stream_words(seed, [(stream, round_index * per_round, per_round)], ops=ops)
            more_accept, more_log_v = _propose(
                unit_uniforms(more, ops=ops), num_variates, d, c, ops=ops
            )
            accept = ops.concat([accept, more_accept])
            log_v = ops.concat([log_v, more_log_v])
    log_g = ops.log(d) + _first_accepted(accept, log_v, ops=ops)
    boost = ops.log(unit_uniforms(boost_words, ops=ops)) / ops.where(boosted, alpha, 1.0)
    return ops.where(boosted, log_g + boost, log_g)


def log_gamma(seed, stream: int, num_variates, alpha, *, ops):
    """log(G), G ~ Gamma(alpha, 1), for `num_variates` variates (float32 `[num_variates]`).

    Marsaglia & Tsang's rejection method for shape >= 1, with standard normals by
    Box-Muller; for alpha < 1 the draw is boosted: Gamma(alpha) = Gamma(alpha + 1)
    * U**(1 / alpha), taken in log space so that small alphas (where U**(1/alpha)
    underflows float32) stay exact. `alpha` is a scalar or one shape per variate,
    all > 0. Words come from `stream` (see the module constants for the budget).

    References:
        - Marsaglia & Tsang, "A simple method for generating gamma variables",
          ACM TOMS 26(3), 2000.
    """
    words = stream_words(seed, gamma_requests(stream, num_variates, ops=ops), ops=ops)
    return log_gamma_from_words(seed, stream, words, num_variates, alpha, ops=ops)


def as_alpha(alpha, *, ops):
    """A concentration (Python number or tensor) as a float32 scalar of the binding."""
    return ops.cast(ops.convert(alpha), "float32")


def dirichlet_weights(log_gammas, num_mixed: int, alpha, *, ops):
    """Weights `[num_mixed, n]` from `num_mixed * n` log-Gamma draws: the normalized
    Gammas, computed from their logs so that every weight near 0 keeps its
    precision, whichever example it belongs to. For pairs, Beta(alpha, alpha) as
    `sigmoid(log G1 - log G2)` and its complement as `sigmoid(log G2 - log G1)`
    (not `1 - lambda`, which rounds to 0 for lambda within 6e-8 of 1); for k >= 3,
    Dirichlet(alpha, ..., alpha) as a softmax of the log-Gammas. alpha = 0 gives
    (1, 0, ..., 0)."""
    log_gammas = ops.reshape(log_gammas, [num_mixed, -1])
    if num_mixed == 2:
        difference = log_gammas[0] - log_gammas[1]
        weights = ops.stack([ops.sigmoid(difference), ops.sigmoid(-difference)])
    else:
        shifted = ops.exp(log_gammas - ops.max(log_gammas, axis=0))
        weights = shifted / ops.sum(shifted, axis=0)
    first = ops.cast(ops.arange(num_mixed) == 0, "float32")[:, None]
    return ops.where(alpha > 0, weights, first)


def weights_from_words(
    seed, stream: int, words: list, num_mixed: int, num_draws, alpha, *, first_plus=None, ops
):
    """Weights `[num_mixed, num_draws]` ~ Dirichlet(alpha, ..., alpha) (Beta(alpha, alpha)
    for pairs) from the words of `gamma_requests(stream, num_mixed * num_draws)`; alpha
    (a float32 scalar, `as_alpha`) 0 gives (1, 0, ..., 0). `first_plus`: Exp(1) variates
    `[num_draws]` added to the first Gamma of each draw (Gamma(alpha) + Exp(1) is
    Gamma(alpha + 1): a pair's weight then ~ Beta(alpha + 1, alpha))."""
    log_gammas = log_gamma_from_words(
        seed, stream, words, num_mixed * num_draws, ops.where(alpha > 0, alpha, 1.0), ops=ops
    )
    if first_plus is not None:
        log_gammas = ops.reshape(log_gammas, [num_mixed, -1])
        first = ops.log(ops.exp(log_gammas[0]) + first_plus)
        log_gammas = ops.concat([first[None], log_gammas[1:]], axis=0)
    return dirichlet_weights(log_gammas, num_mixed, alpha, ops=ops)


def beta_in_range(seed, stream: int, words: list, num_draws, alpha, bounds, *, ops):
    """`low + (high - low) u` for `bounds = (low, high)`, u ~ Beta(alpha, alpha) (float32
    `[num_draws]`), from the words of `gamma_requests(stream, 2 * num_draws)`: a method's
    setting drawn within a range (SmoothMix's width, ResizeMix's side ratio), uniform for
    alpha 1."""
    low, high = bounds
    u = weights_from_words(seed, stream, words, 2, num_draws, alpha, ops=ops)[0]
    return low + (high - low) * u


def permutation_within_groups(keys_a, keys_b, groups, *, ops):
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


def inverse_cdf(uniforms, thresholds, *, ops):
    """Categorical draws by inversion: for each uniform (float32 `[n]`) on (0, 1], the
    index of the first of its nondecreasing thresholds (`[n, k]` or `[k]`, the
    normalised cumulative weights, the last one 1) that is >= the uniform, int32 `[n]`.
    A category of weight 0 repeats the threshold before it and is never drawn."""
    below = ops.cast(ops.convert(thresholds) < uniforms[:, None], "int32")
    return ops.sum(below, axis=-1)


def kernel_partners(words, targets, bandwidth: float, *, ops):
    """C-Mixup's partners (Yao et al., "C-Mixup: Improving Generalization in
    Regression", NeurIPS 2022, Eq. 6): example `j` of the batch is example `i`'s
    partner with probability proportional to `exp(-||y_i - y_j||^2 / (2 bandwidth^2))`,
    `i` itself included (distance 0, the largest weight), as in the authors' sampler.

    `words`: int32 `[batch_size]`, one per example; `targets`: float32
    `[batch_size, d]` (`labels.regression_targets`). Returns int32 `[batch_size]`,
    drawn by inversion of each row's cumulative weights (memory `batch_size**2 * d`
    floats). The partners are the same on every binding except where a uniform falls
    within the rounding of `exp` and of the running sum (a few float32 ulps) of a
    row's boundary.
    """
    targets = ops.cast(ops.convert(targets), "float32")
    difference = targets[:, None, :] - targets[None, :, :]
    distance = ops.sum(difference * difference, axis=-1)
    scale = min(0.5 / (bandwidth * bandwidth), 3.0e38)  # finite: 0 * scale is 0, never NaN
    cumulative = ops.cumsum(ops.exp(-scale * distance), axis=1)
    return inverse_cdf(unit_uniforms(words, ops=ops), cumulative / cumulative[:, -1:], ops=ops)


def sample_neighbour_choice(seed, batch_size, num_neighbours, *, ops):
    """Which of its `num_neighbours` nearest neighbours each example is mixed with.

    Uniform integers in `[0, num_neighbours)`, shape `[batch_size]`, int32, from
    the seed's neighbour stream: 31 random bits modulo `num_neighbours` (a bias
    below `num_neighbours / 2**31`). Used by `keras_mixup.neighbours.NeighbourMixup`.
    """
    words = random_words(seed, batch_size, STREAMS["neighbour"], ops=ops)
    return ops.bit_and(words, 0x7FFFFFFF) % ops.cast(ops.convert(num_neighbours), "int32")

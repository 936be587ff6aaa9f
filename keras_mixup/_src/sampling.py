"""Drawing mixup's random parameters: weights, partners and CutMix boxes.

This module only *draws*; `mixing.py` only *applies*. It is the one place where
keras_mixup makes randomness, for every front and every backend: everything
here is a pure function of an explicit seed (two 32-bit integers), written
against the ops interface (`ops.py`), so the same code runs as TensorFlow ops in
tf.data and XLA, as `keras.ops` on JAX and PyTorch, and as NumPy on the host.

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
them has no XLA kernel, and each backend's generator differs. The Beta and
Dirichlet draws below are exact (not approximations).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from keras_mixup._src.ops import ops_for
from keras_mixup._src.structures import MixParams
from keras_mixup._src.validation import user_error, validate_mix_family

# Threefry-2x32: rotation constants and the key-schedule parity (Salmon et al. 2011).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA

# Streams: the high word of Threefry's counter; word i of stream s is output i % 2
# of Threefry at counter (i // 2, s). One stream per purpose.
STREAMS = {
    "neighbour": 1,  # which nearest neighbour (keras_mixup.neighbours)
    "fold_in": 2,  # derived seeds (replicas, shards, pipelines)
    "prob": 3,  # is the example (batch) mixed at all
    "switch": 4,  # CutMix or mixup
    "box_centre": 5,  # CutMix box centres (two words per box)
    "mixup_gamma": 6,  # mixup's Gamma variates (Beta / Dirichlet weights)
    "cutmix_gamma": 7,  # CutMix's Gamma variates (its lambda)
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


def random_words(seed, count, stream: int = STREAMS["mixup_gamma"], *, ops):
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


def _propose(round_uniforms, num_variates, d, c, *, ops):
    """One round of Marsaglia-Tsang: `PROPOSALS_PER_ROUND` proposals per variate.

    `round_uniforms`: `WORDS_PER_ROUND * num_variates` uniforms, laid out
    `[WORDS_PER_ROUND, num_variates]`. Returns `accept` and `log v`, each
    `[PROPOSALS_PER_ROUND, num_variates]`, in proposal order.
    """
    u = ops.reshape(round_uniforms, [WORDS_PER_ROUND, -1])
    radius = ops.sqrt(-2.0 * ops.log(u[0:2]))  # Box-Muller: two pairs, four normals
    angle = (2.0 * math.pi) * u[2:4]
    x = ops.concat([radius * ops.cos(angle), radius * ops.sin(angle)], axis=0)
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


def _as_alpha(alpha, *, ops):
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


def sample_log_gamma(seed, shape, alpha, ops=None):
    """Draws log(G) for G ~ Gamma(alpha, 1), exactly, with XLA-compilable ops.

    Args:
        seed: two integers (tensor of shape `[2]`).
        shape: static shape of the output (tuple of ints).
        alpha: float scalar (Python or tensor) > 0.
        ops: the ops binding; None: the one for `seed`'s kind of tensor.

    Returns:
        float32 tensor of `shape`.
    """
    ops = ops or ops_for(seed)
    count = math.prod(shape)
    values = log_gamma(seed, STREAMS["mixup_gamma"], count, _as_alpha(alpha, ops=ops), ops=ops)
    return ops.reshape(values, list(shape))


def sample_beta(
    seed: Any,  # a tensor or array of two integers, of any kind the ops bindings take
    shape: Sequence[int],
    alpha: float | Any,  # or a scalar tensor
    ops: Any = None,  # an ops binding (`ops.py`; private), or None
):
    """Draws lambda ~ Beta(alpha, alpha), exactly, with XLA-compilable ops.

    lambda = G1 / (G1 + G2) with G1, G2 ~ Gamma(alpha, 1), computed from their
    logs so that tiny alphas (lambda near 0 or 1) stay finite. alpha == 0 gives
    lambda = 1 (no mixing: the paper's alpha -> 0 limit is ERM).

    Args:
        seed: two integers (tensor of shape `[2]`).
        shape: static shape of the output (tuple of ints).
        alpha: float scalar >= 0, Python number or tensor.
        ops: the ops binding; None: the one for `seed`'s kind of tensor.

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
    alpha = _as_alpha(alpha, ops=ops)
    log_gammas = log_gamma(
        seed, STREAMS["mixup_gamma"], 2 * count, ops.where(alpha > 0, alpha, 1.0), ops=ops
    )
    return ops.reshape(dirichlet_weights(log_gammas, 2, alpha, ops=ops)[0], list(shape))


def _cutmix_boxes(lam, centre_words, image_size, *, ops):
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


def _permutation_within_groups(keys_a, keys_b, groups, *, ops):
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


def draw_mix_params(
    seed,
    batch_size,
    alpha,
    *,
    per_example: bool,
    num_mixed: int,
    cutmix_alpha,
    switch_prob,
    prob,
    image_size,
    exact_area: bool,
    groups,
    shards: int = 1,
    ops,
) -> MixParams:
    """The sampler behind `sample_mix_params` (see there); every argument explicit.

    `shards` > 1 splits the batch into that many equal, consecutive shards (the
    devices of a data-parallel step): partners come from the example's own shard,
    and each shard draws its own weights, box and decisions (with `per_example`,
    each example does).

    Words per purpose come from their own streams (`STREAMS`) in one Threefry call,
    except the rare extra rejection rounds on the host binding.
    """
    validate_mix_family(num_mixed, cutmix_alpha)
    num_partners = num_mixed - 1
    num_weights = batch_size if per_example else shards
    shard_of_row = None
    if shards > 1:
        if groups is not None:
            raise user_error(
                ValueError,
                "pairing='same_class' and per-shard mixing do not combine; pass "
                "mix_across_devices=True to mix the global batch.",
            )
        if isinstance(batch_size, int) and batch_size % shards:
            raise user_error(
                ValueError,
                f"a batch of {batch_size} does not split into {shards} equal shards; pass "
                "mix_across_devices=True, or a batch size divisible by the device count.",
            )
        shard_of_row = ops.arange(batch_size) // (batch_size // shards)
        groups = shard_of_row
    cutmix = cutmix_alpha is not None
    if cutmix and image_size is None:
        raise user_error(
            ValueError, "sample_mix_params: `image_size` is needed with `cutmix_alpha`."
        )
    keys_per_partner = batch_size if groups is None else 2 * batch_size
    mixup_variates = num_mixed * num_weights
    requests = [(STREAMS["permutation"] + p, 0, keys_per_partner) for p in range(num_partners)]
    requests.append((STREAMS["prob"], 0, num_weights))
    requests += gamma_requests(STREAMS["mixup_gamma"], mixup_variates, ops=ops)
    if cutmix:
        requests += [
            (STREAMS["switch"], 0, num_weights),
            (STREAMS["box_centre"], 0, 2 * num_weights),
        ]
        requests += gamma_requests(STREAMS["cutmix_gamma"], 2 * num_weights, ops=ops)
    words = stream_words(seed, requests, ops=ops)  # every word of the batch in one call
    permutations = []
    for keys in words[:num_partners]:
        if groups is None:
            permutations.append(ops.argsort(keys))
        else:
            permutations.append(
                _permutation_within_groups(keys[:batch_size], keys[batch_size:], groups, ops=ops)
            )
    prob_words, mixup_words = words[num_partners], words[num_partners + 1 : num_partners + 3]
    alpha = _as_alpha(alpha, ops=ops)
    mixup_gammas = log_gamma_from_words(
        seed,
        STREAMS["mixup_gamma"],
        mixup_words,
        mixup_variates,
        ops.where(alpha > 0, alpha, 1.0),
        ops=ops,
    )
    weights = dirichlet_weights(mixup_gammas, num_mixed, alpha, ops=ops)
    applied = unit_uniforms(prob_words, ops=ops) <= prob  # u in (0, 1]: prob 1 always
    applied = applied & (ops.convert(batch_size) > 1)  # a batch of one has no partner
    own = ops.where(applied, weights[0], 1.0)
    partner = ops.where(applied, weights[1], 0.0)
    more_weights = ops.where(applied, weights[2:], 0.0) if num_mixed > 2 else None
    box = cut = None
    if cutmix:
        switch_words, centre_words = words[num_partners + 3], words[num_partners + 4]
        cutmix_alpha = _as_alpha(cutmix_alpha, ops=ops)
        cut_gammas = log_gamma_from_words(
            seed,
            STREAMS["cutmix_gamma"],
            words[num_partners + 5 :],
            2 * num_weights,
            ops.where(cutmix_alpha > 0, cutmix_alpha, 1.0),
            ops=ops,
        )
        cut_lam = dirichlet_weights(cut_gammas, 2, cutmix_alpha, ops=ops)[0]
        box, area = _cutmix_boxes(cut_lam, ops.reshape(centre_words, [2, -1]), image_size, ops=ops)
        switch = unit_uniforms(switch_words, ops=ops) <= switch_prob
        use_cutmix = ops.where((alpha > 0) & (cutmix_alpha > 0), switch, cutmix_alpha > 0)
        cut = applied & use_cutmix
        own = ops.where(cut, 1.0 - area if exact_area else cut_lam, own)
        partner = ops.where(cut, area if exact_area else 1.0 - cut_lam, partner)
    if shard_of_row is not None and not per_example:  # each shard's draw to its rows
        own, partner, cut = (
            None if v is None else ops.take(v, shard_of_row) for v in (own, partner, cut)
        )
        box = None if box is None else ops.take(box, shard_of_row)
        more_weights = (
            None if more_weights is None else ops.take(more_weights, shard_of_row, axis=1)
        )
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
        partner_weight=ops.broadcast_to(partner, shape),
    )


def sample_mix_params(
    # Any: tensors of any kind the ops bindings take (NumPy, TensorFlow, JAX, torch)
    seed: Any,
    batch_size: int | Any,
    alpha: float | Any,
    per_example: bool = False,
    groups: Any = None,
    ops: Any = None,  # an ops binding (`ops.py`; private), or None
    *,
    num_mixed: int = 2,
    cutmix_alpha: float | Any | None = None,
    switch_prob: float | Any = 0.5,
    prob: float | Any = 1.0,
    image_size: tuple[int | Any, int | Any] | None = None,
    exact_area: bool = True,
) -> MixParams:
    """Draws the mixing parameters of one batch: weights, partners and CutMix boxes.

    This is the one place where keras_mixup draws mixing parameters: the fronts
    (`MixupTransform`, `MixupLayer`, `NeighbourMixup`) draw through `MixSpec.draw`,
    which calls the same sampler (`draw_mix_params`).

    Every purpose draws from its own Threefry stream of the seed (the partner
    keys, the Gamma proposals, the uniforms of `prob` and of the switch, the box
    centres), so the draws of one do not depend on the sizes of the others. The
    same seed gives the same permutation, bit for bit, in eager, graph and XLA
    code, on every Keras backend and in NumPy; the weights are the same up to the
    rounding of `log`, `cos` and `sin` (relative differences of about 1e-7). In
    the rare case where a Gamma proposal's acceptance test falls within that
    rounding of its boundary (about one proposal in 10**7), two libraries can
    accept different proposals and draw different, equally distributed weights.

    Args:
        seed: two integers (tensor or array of shape `[2]`, e.g. a stateless seed or
            a `keras.random.SeedGenerator` state).
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
        ops: the ops binding; None (default): the one for `seed`'s kind of tensor
            (TensorFlow for a TensorFlow tensor, NumPy for a NumPy array,
            `keras.ops` for a JAX array or torch tensor).
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
        A `MixParams` (float32 weights, int32 permutations, in the binding's kind
        of tensor). A batch of size 1 has nothing to mix with: its mix weight is
        1, so it is returned unchanged.

    Raises:
        ValueError: `cutmix_alpha` without `image_size`; CutMix with
            `num_mixed > 2`; a seed that is not two integers.

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
        >>> cut = sample_mix_params(np.array([1, 2]), 4, 0.0, cutmix_alpha=1.0, image_size=(8, 6))
        >>> cut.box.shape, bool(cut.cut[0])
        ((4, 4), True)
    """
    ops = ops or ops_for(seed)
    return draw_mix_params(
        seed,
        batch_size,
        alpha,
        per_example=per_example,
        num_mixed=num_mixed,
        cutmix_alpha=cutmix_alpha,
        switch_prob=switch_prob,
        prob=prob,
        image_size=image_size,
        exact_area=exact_area,
        groups=groups,
        ops=ops,
    )


def sample_neighbour_choice(seed, batch_size, num_neighbours, *, ops):
    """Which of its `num_neighbours` nearest neighbours each example is mixed with.

    Uniform integers in `[0, num_neighbours)`, shape `[batch_size]`, int32, from
    the seed's neighbour stream: 31 random bits modulo `num_neighbours` (a bias
    below `num_neighbours / 2**31`). Used by `keras_mixup.neighbours.NeighbourMixup`.
    """
    words = random_words(seed, batch_size, STREAMS["neighbour"], ops=ops)
    return ops.bit_and(words, 0x7FFFFFFF) % ops.cast(ops.convert(num_neighbours), "int32")

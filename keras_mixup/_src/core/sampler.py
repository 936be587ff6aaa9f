"""The sampler: the parameters of one mixed batch (`MixParams`), drawn from a seed.

It draws what every method shares (the partners, whether an example is mixed at
all, `prob`, and which method mixes it, a categorical choice among the enabled
methods) and asks each mixing method of the traced set (`methods/`) for its own
draw; every word of the batch comes from one Threefry call (`sampling.stream_words`).
`draw_mix_params` is what the fronts call (through `MixSpec.draw`),
`sample_mix_params` the public function.
"""

from __future__ import annotations

import warnings
from typing import Any

from keras_mixup._src.bindings.ops import ops_for
from keras_mixup._src.core.composition import compose, removed_keywords
from keras_mixup._src.core.labels import pairing_labels
from keras_mixup._src.core.methods import METHODS, Batch, Build, Method, MixingMethod
from keras_mixup._src.core.options import OPTIONS, RUNTIME
from keras_mixup._src.core.sampling import (
    STREAMS,
    inverse_cdf,
    kernel_partners,
    permutation_within_groups,
    stream_words,
    unit_uniforms,
)
from keras_mixup._src.core.structures import MixParams
from keras_mixup._src.core.validation import (
    static_number,
    user_error,
    validate_mix_family,
    validate_pairing,
)


def choose(uniforms, shares: list, enabled: list, *, ops):
    """Which method mixes each draw: int32 `[n]` indices into the methods, from
    uniforms on (0, 1] (`[n]`), each method's share (float32 scalars >= 0) and
    whether it is enabled (bool scalars, e.g. its alpha > 0).

    The enabled methods are chosen in proportion to their shares; where every
    enabled share is 0, uniformly among the enabled methods; where none is
    enabled, method 0. Method 0 is the default: methods 1, 2, ... take their
    bands from the bottom of (0, 1] (method k where the uniform falls in
    `(c[k-1], c[k]]`, `c` the cumulative shares of methods 1..k over the total)
    and method 0 takes the rest, so that for two methods with shares `1 - p`
    and `p` (both enabled) method 1 is chosen exactly where `u <= p`: the switch
    between mixup and CutMix of `switch_prob`, bit for bit (`p + (1 - p)` is 1
    exactly in float32).
    """
    enabled = [ops.convert(e) for e in enabled]
    weighted = [
        ops.where(on, ops.cast(ops.convert(share), "float32"), 0.0)
        for on, share in zip(enabled, shares, strict=True)
    ]
    total = sum(weighted[1:], weighted[0])
    uniform = [ops.cast(on, "float32") for on in enabled]  # every enabled share is 0
    weighted = [ops.where(total > 0, w, u) for w, u in zip(weighted, uniform, strict=True)]
    total = sum(weighted[1:], weighted[0])
    total = ops.where(total > 0, total, 1.0)
    cumulative, thresholds = weighted[0] * 0.0, []
    for share in weighted[1:]:  # methods 1, 2, ...; method 0 beyond the last threshold
        cumulative = cumulative + share
        thresholds.append(cumulative / total)
    band = inverse_cdf(uniforms, ops.stack(thresholds), ops=ops)
    return ops.where(band == len(thresholds), 0, band + 1)


def method_shares(
    values: dict, methods: tuple[Method, ...], enabled: list, method_probs=None, *, ops
) -> list:
    """Each traced method's share of the choice: its entry of `method_probs` (one per
    registered method, in the registry's order) where given; else mixup `1 - switch_prob`
    and the methods that cut (CutMix, GridMix, ...) `switch_prob`, split equally among
    those enabled (with CutMix alone, exactly `switch_prob`)."""
    if method_probs is not None:
        index = {method.name: i for i, method in enumerate(METHODS)}
        return [method_probs[index[method.name]] for method in methods]
    cutting = [
        ops.cast(on, "float32") for method, on in zip(methods, enabled, strict=True) if method.cuts
    ]
    count = ops.maximum(sum(cutting[1:], cutting[0]), 1.0) if cutting else 1.0
    switch = ops.cast(ops.convert(values["switch_prob"]), "float32")
    return [switch / count if method.cuts else 1.0 - switch for method in methods]


def traced_methods(alphas: dict) -> tuple[Method, ...]:
    """The methods a mixer traces, in the registry's order, from the values of their
    alpha options when built (`{"cutmix_alpha": 1.0, ...}`): the default method
    (mixup) always, since its alpha may be scheduled from 0; another where its alpha
    is a number > 0 or a tensor (a schedule may raise it)."""

    def traced(alpha) -> bool:
        known = static_number(alpha)
        return known is None or known > 0

    return (METHODS[0],) + tuple(
        method for method in METHODS[1:] if traced(alphas.get(method.alpha, 0.0))
    )


def source_count(num_mixed: int, methods: tuple[Method, ...]) -> int:
    """How many images a mixed example may show: `num_mixed`, or more where a traced
    method combines more (`Method.sources`; Mosaic 4): the sampler draws that many
    sources' partners, and a mixed element carries that many sources' boxes."""
    return max([num_mixed] + [method.sources for method in methods])


def method_options(values: dict) -> dict:
    """The build-time options of the methods (their draws read them), by name."""
    return {
        option.name: values[option.name]
        for method in METHODS
        for option in method.options
        if not option.runtime
    }


def partners(words, batch_size, *, groups=None, targets=None, bandwidth=1.0, ops) -> list:
    """The partners (int32 `[batch_size]`) of each partner slot from its words: a random
    permutation of the batch; one within each group (`groups`: int ids `[batch_size]`,
    same-class pairing or shards); or C-Mixup's draw by the kernel of the distance
    between `targets` (float32 `[batch_size, d]`; not a permutation)."""
    if targets is not None:
        return [kernel_partners(keys, targets, bandwidth, ops=ops) for keys in words]
    if groups is None:
        return [ops.argsort(keys) for keys in words]
    return [
        permutation_within_groups(keys[:batch_size], keys[batch_size:], groups, ops=ops)
        for keys in words
    ]


def draw_mix_params(
    seed,
    batch_size,
    values: dict,
    *,
    methods: tuple[Method, ...],
    per_example: bool,
    num_mixed: int,
    options: dict,
    image_size,
    groups,
    targets=None,
    bandwidth: float = 1.0,
    shards: int = 1,
    method_probs=None,
    images=None,
    ops,
) -> MixParams:
    """The sampler behind `sample_mix_params` (see there); every argument explicit.

    `values`: the run-time values by name (alpha, cutmix_alpha, switch_prob, prob;
    tensors or floats); `methods`: the traced methods (`traced_methods`);
    `options`: the build-time options the methods read (`exact_cutmix_weight`).
    `groups` (class ids `[batch_size]`): partners within each group; `targets` (float32
    `[batch_size, d]`): C-Mixup's partners, by a Gaussian kernel of `bandwidth`.
    `images` (channels last `[batch_size, H, W, C]`): the batch's images, read by the
    methods that read the batch (`Method.reads_batch`, as `methods.Batch`).
    `shards` > 1 splits the batch into that many equal, consecutive shards (the
    devices of a data-parallel step): partners come from the example's own shard,
    and each shard draws its own weights, box and decisions (with `per_example`,
    each example does).

    Words per purpose come from their own streams in one Threefry call, except the
    rare extra rejection rounds on the host binding.
    """
    num_sources = source_count(num_mixed, methods)
    num_partners = num_sources - 1
    num_draws = batch_size if per_example else shards
    shard_of_row = None
    if shards > 1:
        if groups is not None or targets is not None:
            pairing = "same_class" if groups is not None else "c_mixup"
            raise user_error(
                ValueError,
                f"pairing={pairing!r} and per-shard mixing do not combine; pass "
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
    build = Build(num_draws=num_draws, num_mixed=num_mixed, image_size=image_size, options=options)
    keys_per_partner = batch_size if groups is None else 2 * batch_size
    requests = [(STREAMS["permutation"] + p, 0, keys_per_partner) for p in range(num_partners)]
    requests.append((STREAMS["prob"], 0, num_draws))
    if len(methods) > 1:
        requests.append((STREAMS["choice"], 0, num_draws))
    method_requests = [method.requests(build, ops=ops) for method in methods]
    for own_requests in method_requests:
        requests += own_requests
    words = stream_words(seed, requests, ops=ops)  # every word of the batch in one call
    permutations = partners(
        words[:num_partners],
        batch_size,
        groups=groups,
        targets=targets,
        bandwidth=bandwidth,
        ops=ops,
    )
    if any(method.reads_batch for method in methods):
        if images is None:
            readers = ", ".join(m.title for m in methods if m.reads_batch)
            raise user_error(
                ValueError,
                f"sample_mix_params: {readers} reads the batch's images to place its box; "
                "pass `images` (channels last, [batch_size, H, W, C]).",
            )
        rows = ops.arange(num_draws) * (batch_size // num_draws)  # each draw's first row
        build = build._replace(batch=Batch(ops.convert(images), permutations[0], rows))
    prob_words = words[num_partners]
    position = num_partners + 1 + (len(methods) > 1)
    draws = []
    for method, own_requests in zip(methods, method_requests, strict=True):
        method_words = words[position : position + len(own_requests)]
        draws.append(method.draw(seed, method_words, values, build, ops=ops))
        position += len(own_requests)

    applied = unit_uniforms(prob_words, ops=ops) <= values["prob"]  # u in (0, 1]: prob 1 always
    applied = applied & (ops.convert(batch_size) > 1)  # a batch of one has no partner
    own = ops.where(applied, draws[0].own, 1.0)
    partner = ops.where(applied, draws[0].partner, 0.0)
    more = None if draws[0].more is None else ops.where(applied, draws[0].more, 0.0)
    if more is None and num_sources > 2:  # pairs beside Mosaic: the further sources weigh 0
        more = ops.stack([own * 0.0] * (num_sources - 2))
    box = cut = holes = mask = resized = tiled = None
    if len(methods) > 1:
        enabled = [ops.convert(values[method.alpha]) > 0 for method in methods]
        choice_words = words[num_partners + 1]
        chosen = choose(
            unit_uniforms(choice_words, ops=ops),
            method_shares(values, methods, enabled, method_probs, ops=ops),
            enabled,
            ops=ops,
        )
        # a grid of holes where a method draws one; elsewhere one cell that is all hole
        # (the whole box), so that rows of every method share one per-pixel rule
        if any(d.holes is not None for d in draws):
            height, width = (ops.cast(ops.convert(size), "int32") for size in image_size)
            whole = (
                ops.stack([height, width, height, width]) + ops.cast(own * 0.0, "int32")[:, None]
            )
            holes = whole
        for index in range(1, len(methods)):
            use = applied & (chosen == index)
            drawn = draws[index]
            own = ops.where(use, drawn.own, own)
            partner = ops.where(use, drawn.partner, partner)
            if more is not None:
                more = ops.where(use, 0.0 if drawn.more is None else drawn.more, more)
            if methods[index].cuts:
                cut = use if cut is None else cut | use
                box = drawn.box if box is None else ops.where(use[:, None], drawn.box, box)
            if drawn.holes is not None:
                holes = ops.where(use[:, None], drawn.holes, holes)
            if drawn.mask is not None:  # rows of other methods: 1 (their box says it)
                mask = ops.where(use[:, None, None], drawn.mask, 1.0 if mask is None else mask)
            if drawn.resized is not None:  # rows of other methods: False
                moved = use & drawn.resized
                resized = moved if resized is None else resized | moved
            if drawn.tiled is not None:  # rows of other methods: False
                tiles = use & drawn.tiled
                tiled = tiles if tiled is None else tiled | tiles
    if shard_of_row is not None and not per_example:  # each shard's draw to its rows
        own, partner, cut, box, holes, mask, resized, tiled = (
            None if v is None else ops.take(v, shard_of_row)
            for v in (own, partner, cut, box, holes, mask, resized, tiled)
        )
        more = None if more is None else ops.take(more, shard_of_row, axis=1)
    shape = [batch_size]
    return MixParams(
        mix_weight=ops.broadcast_to(own, shape),
        permutation=permutations[0],
        more_weights=None
        if more is None
        else ops.broadcast_to(more, [num_sources - 2, batch_size]),
        more_permutations=None if num_sources == 2 else ops.stack(permutations[1:]),
        box=None if box is None else ops.broadcast_to(box, [batch_size, 4]),
        cut=None if cut is None else ops.broadcast_to(cut, shape),
        partner_weight=ops.broadcast_to(partner, shape),
        holes=None if holes is None else ops.broadcast_to(holes, [batch_size, 4]),
        mask=None if mask is None else ops.broadcast_to(mask, [batch_size, *image_size]),
        resized=None if resized is None else ops.broadcast_to(resized, shape),
        tiled=None if tiled is None else ops.broadcast_to(tiled, shape),
    )


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"sample_mix_params: `{old}` is deprecated and will be removed in the next release; "
        f"use {new}.",
        DeprecationWarning,
        stacklevel=3,
    )


def sample_mix_params(
    # Any: tensors of any kind the ops bindings take (NumPy, TensorFlow, JAX, torch)
    seed: Any,
    batch_size: int | Any,
    alpha: float | Any | None = None,
    per_example: bool = False,
    pairing: str = "random",
    ops: Any = None,  # an ops binding (`ops.py`; private), or None
    *,
    methods: list[MixingMethod] | None = None,
    method_probs: list[float] | None = None,
    c_mixup_bandwidth: float = 1.0,
    num_mixed: int | None = None,
    cutmix_alpha: float | Any | None = None,
    switch_prob: float | Any | None = None,
    prob: float | Any = 1.0,
    image_size: tuple[int | Any, int | Any] | None = None,
    exact_cutmix_weight: bool | None = None,
    labels: Any = None,
    images: Any = None,
    groups: Any = None,
    exact_area: bool | None = None,
    **removed: Any,
) -> MixParams:
    """Draws the mixing parameters of one batch: weights, partners, boxes and masks.

    The one sampler of keras_mixup: the fronts draw through it too, with the same names
    and defaults. Each purpose draws from its own Threefry stream of the seed, so the
    same seed gives the same permutation, bit for bit, in eager, graph and XLA code, on
    every Keras backend and in NumPy, and the same weights up to the rounding of `log`,
    `cos` and `sin` (about 1e-7; see the design page for the rare rejection ties).

    Args:
        seed: two integers (a tensor or array `[2]`, e.g. a stateless seed).
        batch_size: an int or a scalar int tensor.
        alpha: mixup's concentration, >= 0 (None: 1.0 without `methods`); shortcut for
            `methods=[Mixup(alpha, num_mixed)]`.
        per_example: one draw per example instead of one per batch (the paper's).
        pairing: "random" (a permutation), "same_class" (a partner of the same class,
            Table 5's "SC") or "c_mixup" (Yao et al., NeurIPS 2022, Eq. 6: partner `j`
            with probability proportional to `exp(-||y_i - y_j||^2 / (2 bandwidth^2))`).
        ops: the ops binding; None: the one for `seed`'s kind of tensor.
        methods: the methods to choose among (`keras_mixup.methods`), each once with its
            options; None: the shortcuts (which cannot be given beside it).
        method_probs: each method's probability of being chosen (None: equal).
        c_mixup_bandwidth: C-Mixup's kernel bandwidth, > 0, in the targets' units.
        num_mixed: shortcut for `Mixup(num_mixed=k)` (None: 2).
        cutmix_alpha: shortcut for `CutMix(cutmix_alpha)` (None: off).
        switch_prob: shortcut: with mixup and CutMix, CutMix's probability (None: 0.5).
        prob: the probability that a batch (an example) is mixed at all.
        image_size: `(H, W)` of the images (ints or scalar tensors; ints for FMix),
            needed by the methods that paste pixels.
        exact_cutmix_weight: shortcut for `CutMix(exact_weight=...)` (None: True).
        labels: the class ids or one-hot labels `[batch_size, ...]` of "same_class",
            the floating targets of "c_mixup".
        images: the batch's images, channels last (`[batch_size, H, W, C]`), read by the
            methods guided by the data (`SaliencyMix`); their `(H, W)` is then the
            default `image_size`.
        groups: deprecated: `pairing="same_class", labels=groups`.
        exact_area: deprecated: `exact_cutmix_weight`.

    Returns:
        A `MixParams` (float32 weights, int32 permutations, in the binding's kind of
        tensor); `box` and `cut` are None without a method that pastes pixels, `holes`
        without GridMix, `mask` without FMix and SmoothMix, `resized` without
        ResizeMix, `tiled` without Mosaic. A batch of one keeps weight 1.

    Raises:
        TypeError: a removed method keyword (the error shows the `methods` form); a
            shortcut beside `methods`.
        ValueError: an option out of range; a method that pastes pixels without
            `image_size`, or with `num_mixed > 2`; SaliencyMix without `images`;
            "same_class" or "c_mixup" without `labels` (or `labels` with "random");
            a seed that is not two integers.

    Examples:
        >>> params = sample_mix_params(tf.constant([0, 42]), batch_size=5, alpha=0.2)
        >>> sorted(params.permutation.numpy().tolist())
        [0, 1, 2, 3, 4]
        >>> cut = sample_mix_params(np.array([1, 2]), 4, 0.0, cutmix_alpha=1.0, image_size=(8, 6))
        >>> cut.box.shape, bool(cut.cut[0])
        ((4, 4), True)
    """
    ops = ops or ops_for(seed)
    if not isinstance(pairing, str):  # the old positional `groups`
        _deprecated("groups", 'pairing="same_class", labels=...')
        pairing, labels = "same_class", pairing
    if groups is not None:
        _deprecated("groups", 'pairing="same_class", labels=...')
        pairing, labels = "same_class", groups
    if exact_area is not None:
        _deprecated("exact_area", "exact_cutmix_weight")
        exact_cutmix_weight = exact_area
    shortcuts = {
        "alpha": alpha,
        "num_mixed": num_mixed,
        "cutmix_alpha": cutmix_alpha,
        "exact_cutmix_weight": exact_cutmix_weight,
        "switch_prob": switch_prob,
    }
    if removed:
        raise removed_keywords("sample_mix_params", removed, shortcuts)
    pairing = validate_pairing(pairing)
    if (pairing != "random") != (labels is not None):
        raise user_error(
            ValueError,
            "sample_mix_params: pairing='same_class' reads the classes from `labels`, "
            "pairing='c_mixup' the regression targets, and `labels` is only read by "
            f"them; got pairing={pairing!r} with "
            f"labels={'None' if labels is None else 'a tensor'}.",
        )
    given = {
        **{name: option.default for name, option in OPTIONS.items()},
        **compose("sample_mix_params", methods, method_probs, shortcuts)[0],
        "prob": prob,
    }
    values = {name: given[name] for name in RUNTIME}  # tensors or numbers, unchecked
    methods = traced_methods(values)
    num_mixed = OPTIONS["num_mixed"].check(given["num_mixed"])
    for method in METHODS:
        if method.pairs_only:
            validate_mix_family(num_mixed, values[method.alpha], method.alpha, method.title)
    if images is not None:
        shape = tuple(ops.size(ops.convert(images), axis) for axis in (1, 2))
        known = all(isinstance(v, int) for v in (*shape, *(image_size or ())))
        if image_size is not None and known and tuple(image_size) != shape:
            raise user_error(
                ValueError,
                "sample_mix_params: `image_size` must be the (H, W) of `images` (channels last, "
                f"[batch_size, H, W, C]); got image_size={tuple(image_size)!r} and images of "
                f"(H, W) = {shape}.",
            )
        image_size = shape
    if any(method.needs_image_size for method in methods) and image_size is None:
        alphas = ", ".join(f"{m.alpha}={values[m.alpha]!r}" for m in methods[1:])
        pasting = ", ".join(m.title for m in METHODS if m.needs_image_size)
        raise user_error(
            ValueError,
            "sample_mix_params: `image_size` (H, W), or the `images` themselves, is needed "
            f"with the methods that paste pixels ({pasting}); got {alphas}.",
        )
    build_options = {
        name: OPTIONS[name].check(given[name])  # the option table's checks
        for method in METHODS
        for name in (option.name for option in method.options if not option.runtime)
    }
    bandwidth = OPTIONS["c_mixup_bandwidth"].check(c_mixup_bandwidth)
    groups, targets = pairing_labels(pairing, labels, "sample_mix_params", ops=ops)
    return draw_mix_params(
        seed,
        batch_size,
        values,
        methods=methods,
        per_example=per_example,
        num_mixed=num_mixed,
        options=method_options(build_options),
        image_size=image_size,
        groups=groups,
        targets=targets,
        bandwidth=bandwidth,
        method_probs=given["method_probs"],
        images=images,
        ops=ops,
    )

"""Applying mixup parameters: pure arithmetic on tensors, no randomness.

`blend` computes `w_own * t_i + w_partner * t_perm(i)` (and the k-way sum, and
CutMix's paste) for one tensor; `mix_parts` applies one `MixParams` (or none:
conversions only) to every part of an element (features of any nesting, labels,
sample weights, per-pixel masks) after turning labels into float targets.
Parameters come from `sampling.py`; injecting them by hand gives exact,
replayable results (that is how the tests check values).

Like `sampling.py`, everything here is written against the ops interface
(`ops.py`), with the binding passed as the keyword argument `ops`.
"""

from __future__ import annotations

from typing import Any

import keras

from keras_mixup._src.bindings.ops import ops_for
from keras_mixup._src.core import labels as label_rules
from keras_mixup._src.core.structures import MixParams, Parts
from keras_mixup._src.core.validation import user_error, validate_image_shape


def map_tensors(fn, structure):
    """`keras.tree.map_structure` that passes a missing component (None) through."""
    return None if structure is None else keras.tree.map_structure(fn, structure)


def box_mask(params: MixParams, tensor, *, channels_first: bool = False, ops):
    """bool `[B, H, W, 1, ...]` (as many trailing 1s as `tensor` has axes after W), or
    `[B, 1, H, W]` for channels-first images: the pixels of each example that come from
    its partner under CutMix (its box) or GridMix (the holes in its box), or that a
    mask may give to the partner (`partner_share`)."""
    validate_image_shape(ops.static_shape(tensor), "CutMix", channels_first=channels_first)
    rank = ops.rank(tensor)
    top, left, bottom, right = (params.box[:, i] for i in range(4))
    first = 2 if channels_first else 1  # the height axis
    rows = ops.arange(ops.size(tensor, first))[None, :]
    cols = ops.arange(ops.size(tensor, first + 1))[None, :]
    in_rows = (rows >= top[:, None]) & (rows < bottom[:, None])
    in_cols = (cols >= left[:, None]) & (cols < right[:, None])
    if params.holes is not None:  # GridMix: the holes of each cell (MixParams.holes)
        cell_h, cell_w, hole_h, hole_w = (params.holes[:, i][:, None] for i in range(4))
        in_rows = in_rows & ((rows - top[:, None]) % cell_h < hole_h)
        in_cols = in_cols & ((cols - left[:, None]) % cell_w < hole_w)
    mask = in_rows[:, :, None] & in_cols[:, None, :] & params.cut[:, None, None]
    if channels_first:
        return mask[:, None]
    for _ in range(rank - 3):  # channels and any further axes
        mask = mask[..., None]
    return mask


def pixel_mask(params: MixParams, like, *, channels_first: bool = False, ops):
    """`params.mask` (`[B, H, W]`) shaped like `box_mask`'s result for `like`."""
    if channels_first:
        return params.mask[:, None]
    mask = params.mask
    for _ in range(ops.rank(like) - 3):
        mask = mask[..., None]
    return mask


def partner_share(params: MixParams, tensor, dtype: str, *, channels_first=False, ops):
    """The per-pixel rule of the methods that paste: the partner's share of each pixel
    of the cut examples (0 elsewhere), shaped like `box_mask`'s result. bool (whole
    pixels) without a mask; with one (FMix, SmoothMix: `MixParams.mask`), `dtype`
    values: the mask inside the box and its holes."""
    inside = box_mask(params, tensor, channels_first=channels_first, ops=ops)
    if params.mask is None:
        return inside
    mask = pixel_mask(params, inside, channels_first=channels_first, ops=ops)
    return ops.where(inside, ops.cast(mask, dtype), ops.cast(0.0, dtype))


def weights_of(params: MixParams, dtype: str, *, ops) -> tuple:
    """`(own, first partner, [further partners])` weights `[B]` in `dtype` (the
    partner's from `partner_weight`, or by difference where the sampler left it out)."""
    own = ops.cast(params.mix_weight, dtype)
    count = 0 if params.more_weights is None else ops.static_shape(params.more_weights)[0]
    more = [ops.cast(params.more_weights[j], dtype) for j in range(count)]
    if params.partner_weight is not None:
        partner = ops.cast(params.partner_weight, dtype)
    else:
        partner = 1.0 - own - sum(more)
    return own, partner, more


def _row_weights(
    params: MixParams, tensor, dtype: str, per_pixel: bool, *, channels_first=False, ops
) -> tuple:
    """The weights of `weights_of`, shaped to broadcast against `tensor`; with a method
    that pastes and `per_pixel`, the cut examples' weights per pixel (`partner_share`)."""
    own, partner, more = weights_of(params, dtype, ops=ops)
    own, partner = ops.rows_like(own, tensor), ops.rows_like(partner, tensor)
    more = [ops.rows_like(w, tensor) for w in more]
    if params.box is not None and per_pixel:
        share = partner_share(params, tensor, dtype, channels_first=channels_first, ops=ops)
        cut = ops.rows_like(params.cut, tensor)
        one, zero = ops.cast(1.0, dtype), ops.cast(0.0, dtype)
        if params.mask is None:  # whole pixels: selections, no arithmetic
            own = ops.where(share, zero, ops.where(cut, one, own))
            partner = ops.where(share, one, ops.where(cut, zero, partner))
        else:
            own = ops.where(cut, one - share, own)
            partner = ops.where(cut, share, partner)
        if params.tiled is not None:  # Mosaic rows: every pixel from the moved view
            tiled = ops.rows_like(params.tiled, tensor)
            own, partner = ops.where(tiled, zero, own), ops.where(tiled, one, partner)
            more = [ops.where(tiled, zero, w) for w in more]
    return own, partner, more


def partner_rows(tensor, permutation, *, shards: int = 1, ops):
    """`tensor[permutation]`. With `shards` > 1 the permutation maps every row into its
    own shard (a device's part of the batch), and the gather is done shard by shard
    (`[shards, n, ...]` rows, a batched gather along the second axis), so that a
    data-parallel step moves no rows between devices."""
    if shards == 1:
        return ops.take(tensor, permutation)
    shape = ops.static_shape(tensor)
    rows = shape[0] // shards
    local = ops.reshape(permutation % rows, [shards, rows] + [1] * (len(shape) - 1))
    by_shard = ops.reshape(tensor, [shards, rows, *shape[1:]])
    # `local` has size-1 trailing axes: whole rows are gathered (one slice per row), not
    # element by element through a full-size index tensor
    gathered = ops.take_along_axis(by_shard, local, 1)
    return ops.reshape(gathered, shape)


def moved_pixels(
    tensor, params: MixParams, *, partner=None, shards: int = 1, channels_first=False, ops
):
    """What the per-pixel rule reads from the partner where a method moves pixels, in one
    gather of whole pixels (their channels) from the batch: in ResizeMix's rows
    (`MixParams.resized`) the partner's whole image resized into the box by nearest
    neighbour (box row `r` reads the partner's row `floor((r - top) H / (bottom - top))`,
    columns alike); in Mosaic's rows (`MixParams.tiled`) the four tiles around the centre
    `(cy, cx)`, pixel `(r, c)` read from its tile's source at `((r - cy) mod H, (c - cx)
    mod W)`; elsewhere the partner's pixel at the same position. `partner` (rows given,
    not from the batch): ResizeMix reads them; Mosaic raises. `shards` > 1: each shard
    gathers from its own rows (partners are drawn within shards), as `partner_rows`."""
    if channels_first:  # whole pixels are the trailing channels
        tensor = ops.transpose(tensor, [0, 2, 3, 1])
        partner = None if partner is None else ops.transpose(partner, [0, 2, 3, 1])
    batch, height, width = (ops.size(tensor, axis) for axis in range(3))
    rows = ops.arange(height)[None, :, None]
    cols = ops.arange(width)[None, None, :]
    source = params.permutation if partner is None else ops.arange(batch)
    source = source[:, None, None] + rows * 0 + cols * 0  # [B, H, W]
    row, col = rows + source * 0, cols + source * 0
    if params.resized is not None:
        top, left, bottom, right = (params.box[:, i][:, None, None] for i in range(4))
        inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
        inside = inside & params.resized[:, None, None]
        row = ops.where(inside, (rows - top) * height // ops.maximum(bottom - top, 1), row)
        col = ops.where(inside, (cols - left) * width // ops.maximum(right - left, 1), col)
    if params.tiled is not None:
        if partner is not None:
            raise user_error(
                ValueError, "Mosaic tiles partners from the batch; it takes no `partner` rows."
            )
        cy, cx = params.box[:, 2][:, None, None], params.box[:, 3][:, None, None]
        first, second, third = (
            p[:, None, None]
            for p in (params.permutation, params.more_permutations[0], params.more_permutations[1])
        )
        own = ops.arange(batch)[:, None, None]
        lower, right = rows >= cy, cols >= cx  # the tile of each output pixel
        tile = ops.where(lower, ops.where(right, third, second), ops.where(right, first, own))
        on = params.tiled[:, None, None]
        source = ops.where(on, tile, source)
        row = ops.where(on, (rows - cy + height) % height, row)
        col = ops.where(on, (cols - cx + width) % width, col)
    rest = [ops.size(tensor, axis) for axis in range(3, ops.rank(tensor))]  # the channels
    source_rows = tensor if partner is None else partner
    if shards == 1:  # one gather of whole pixels from the flattened batch
        pixels = ops.reshape(source_rows, [-1, *rest])
        index = ops.reshape((source * height + row) * width + col, [-1])
        moved = ops.take(pixels, index)
    else:  # shard by shard, so that a data-parallel step moves no pixels between devices
        local = (source % (batch // shards) * height + row) * width + col
        pixels = ops.reshape(source_rows, [shards, -1, *rest])
        moved = ops.take_along_axis(pixels, ops.reshape(local, [shards, -1] + [1] * len(rest)), 1)
    moved = ops.reshape(moved, [batch, height, width, *rest])
    return ops.transpose(moved, [0, 3, 1, 2]) if channels_first else moved


def pixel_partner(
    tensor, params: MixParams, *, partner=None, per_pixel=True, shards=1, channels_first=False, ops
):
    """The first partner's rows of `tensor` (`partner_rows`, or `partner` where given) as
    the per-pixel rule reads them, with `per_pixel`: moved where a method moves pixels
    (`moved_pixels`)."""
    moves = params.resized is not None or params.tiled is not None
    if per_pixel and moves:
        return moved_pixels(
            tensor, params, partner=partner, shards=shards, channels_first=channels_first, ops=ops
        )
    if partner is None:
        partner = partner_rows(tensor, params.permutation, shards=shards, ops=ops)
    return partner


def _more_partners(params: MixParams, tensor, shards: int, *, ops) -> list:
    count = 0 if params.more_permutations is None else ops.static_shape(params.more_permutations)[0]
    return [
        partner_rows(tensor, params.more_permutations[j], shards=shards, ops=ops)
        for j in range(count)
    ]


def mixed_mask(mask, params: MixParams, *, shards: int = 1, ops):
    """The Keras mask (bool `[B, T]`, True at real steps) of a mixed batch of masked
    sequences: a step is real where any source that has weight in the example has
    a token there (the union; an unmixed example keeps its own mask). The steps a
    source pads are mixed as zeros (`zero_padding`)."""
    own, partner, more = weights_of(params, "float32", ops=ops)
    sources = [
        (mask, own),
        (partner_rows(mask, params.permutation, shards=shards, ops=ops), partner),
        *zip(_more_partners(params, mask, shards, ops=ops), more, strict=True),
    ]
    union = None
    for rows, weight in sources:
        real = rows & ops.rows_like(weight > 0, rows)
        union = real if union is None else union | real
    return union


def zero_padding(tensor, mask, *, ops):
    """`tensor` `[B, T, ...]` with the steps where the Keras `mask` `[B, T]` is False
    set to zero, so that what a padded step holds (the embedding of the padding id)
    neither enters a mixed example nor gets a gradient."""
    real = mask
    for _ in range(ops.rank(tensor) - ops.rank(mask)):
        real = real[..., None]
    return ops.where(real, tensor, ops.cast(0, ops.dtype(tensor)))


def is_floating_tensor(tensor, *, ops) -> bool:
    return label_rules.is_floating(ops.dtype(tensor))


def blend_tensor(
    tensor,
    params: MixParams,
    *,
    dtype=None,
    partner=None,
    per_pixel=True,
    shards=1,
    channels_first=False,
    ops,
):
    """`blend` with every argument explicit (see there); `shards`: see `partner_rows`;
    `channels_first`: images `[B, C, H, W]` for CutMix's box."""
    tensor = ops.convert(tensor)
    input_dtype = ops.dtype(tensor)
    if dtype is None:
        dtype = input_dtype if label_rules.is_floating(input_dtype) else "float32"
    dtype = keras.backend.standardize_dtype(dtype)
    compute_dtype = "float64" if dtype == "float64" else "float32"
    partner = pixel_partner(
        tensor,
        params,
        partner=partner,
        per_pixel=per_pixel and params.box is not None,
        shards=shards,
        channels_first=channels_first,
        ops=ops,
    )
    own, partner_weight, more = _row_weights(
        params, tensor, compute_dtype, per_pixel, channels_first=channels_first, ops=ops
    )
    mixed = ops.weighted_pair(tensor, own, partner, partner_weight)
    if not (per_pixel and params.tiled is not None):  # Mosaic: the moved view holds all
        for weight, rows in zip(more, _more_partners(params, tensor, shards, ops=ops), strict=True):
            mixed = mixed + weight * ops.cast(rows, compute_dtype)
    return ops.cast(mixed, dtype)


def blend(
    tensor: Any,  # a tensor of any kind the ops bindings take (NumPy, TensorFlow, JAX, torch)
    params: MixParams,
    dtype: str | None = None,
    partner: Any = None,  # a tensor like `tensor`, or None
    ops: Any = None,  # an ops binding (`ops.py`; private), or None
    per_pixel: bool | None = None,
):
    """Mixes each row of `tensor` with its partner rows: `lam * t + (1 - lam) * t[perm]`.

    With k-way parameters (`more_weights`) the row is the weighted sum of the k
    rows; with CutMix parameters (`box`) the pixels inside an example's box are
    its partner's (`per_pixel`, the default for features, which must then be
    images `[B, H, W(, C)]`).

    The arithmetic runs in float32 (float64 for float64 output) whatever the
    input and output dtypes, so uint8 images and float16 / bfloat16 outputs are
    mixed with exactly the weights their labels get; the result is cast to
    `dtype` once. The partner rows are gathered in the input dtype (under XLA the
    cast, gather and blend fuse into one pass over memory).

    Args:
        tensor: batched tensor, shape `[batch_size, ...]`, integer or floating.
        params: `MixParams` for this batch.
        dtype: output dtype (floating); defaults to the input dtype when it is
            floating, float32 otherwise.
        partner: optional tensor of partner rows, same shape as `tensor` (for
            partners that do not come from the same batch, e.g. nearest neighbours
            from the whole data set); `params.permutation` is then not used.
        ops: the ops binding; None (default): the one for `tensor`'s kind.
        per_pixel: with CutMix parameters, whether to cut the box out of `tensor`
            (default True) or weight whole rows by `mix_weight` (per-example
            targets).

    Returns:
        The mixed tensor, same shape as `tensor`, dtype `dtype`.

    Raises:
        ValueError: CutMix parameters with a tensor that is not an image (rank < 3).

    Examples:
        >>> x = tf.constant([[0.0, 0.0], [10.0, 20.0]])
        >>> params = MixParams(mix_weight=tf.constant([0.75, 0.75]), permutation=tf.constant([1, 0]))
        >>> blend(x, params).numpy().tolist()
        [[2.5, 5.0], [7.5, 15.0]]
    """
    ops = ops or ops_for(tensor)
    return blend_tensor(
        tensor, params, dtype=dtype, partner=partner, per_pixel=per_pixel is not False, ops=ops
    )


def select_dominant(tensor, params: MixParams, *, partner=None, per_pixel=False, shards=1, ops):
    """Row `i` of `tensor` where its own weight is the largest, else the row of the
    partner with the largest weight (ties: the first).

    The target of the paper's "mix inputs only" ablation (Table 5): the one-hot
    label of the sample that weighs more in the mixed input, not a mixture.
    """
    partner = pixel_partner(
        tensor, params, partner=partner, per_pixel=per_pixel, shards=shards, ops=ops
    )
    own, partner_weight, more = _row_weights(params, tensor, "float32", per_pixel, ops=ops)
    candidates = [(own, tensor), (partner_weight, partner)]
    if not (per_pixel and params.tiled is not None):  # Mosaic: the moved view holds all
        candidates += list(zip(more, _more_partners(params, tensor, shards, ops=ops), strict=True))
    best_weight, best = candidates[0]
    for weight, rows in candidates[1:]:
        better = weight > best_weight
        best_weight, best = ops.where(better, weight, best_weight), ops.where(better, rows, best)
    return best


def mix_targets(
    tensor,
    params: MixParams,
    mode: str = "mixed",
    *,
    partner=None,
    shards=1,
    per_pixel_rank: int = 4,
    ops,
):
    """Targets of a mixed batch: blended (mode "mixed", the paper's mixup) or the
    dominant example's (mode "dominant", the "mix inputs only" ablation), float32.

    With CutMix, targets of rank >= `per_pixel_rank` (4: `[B, H, W, C]`, per-pixel
    targets such as one-hot segmentation masks; 3 for per-pixel sample weights
    `[B, H, W]`) are cut with the box pixel by pixel; targets of lower rank get the
    example's weight, the share of its pixels it keeps.
    """
    per_pixel = params.box is not None and (ops.rank(tensor) or 0) >= per_pixel_rank
    if mode == "dominant":
        return select_dominant(
            tensor, params, partner=partner, per_pixel=per_pixel, shards=shards, ops=ops
        )
    return blend_tensor(
        tensor,
        params,
        dtype="float32",
        partner=partner,
        per_pixel=per_pixel,
        shards=shards,
        ops=ops,
    )


def paste_masks(masks, params: MixParams | None, *, shards: int = 1, ops):
    """Segmentation masks `[B, H, W(, 1)]` of any dtype, as they are (integer ids, an
    ignore label such as 255 included): each pixel taken whole from the source that
    has it, under a configuration that pastes one source per pixel (CutMix alone, or
    `targets="dominant"`; `MixSpec.pastes_whole_pixels`)."""
    if params is None:
        return masks
    squeeze = ops.rank(masks) == 3
    masks = masks[..., None] if squeeze else masks
    pasted = select_dominant(
        masks, params, per_pixel=params.box is not None, shards=shards, ops=ops
    )
    return ops.squeeze(pasted, axis=-1) if squeeze else pasted


def targets_of(
    labels,
    num_classes,
    *,
    label_smoothing: float = 0.0,
    role: str = "labels",
    ignore_class: int | None = None,
    ops,
):
    """Float32 targets for every label of a nest (`labels.to_float_targets`, then
    label smoothing), with `num_classes` resolved per label; `ignore_class` applies
    to segmentation masks (`role`)."""
    if labels is None:
        return None
    per_pixel = role == "segmentation_masks"
    per_label = iter(
        label_rules.num_classes_per_label(labels, num_classes, per_pixel=per_pixel, ops=ops)
    )
    names = iter(name for name, _ in label_rules.leaves_with_names(role, labels))
    lone = len(keras.tree.flatten(labels)) == 1

    def convert(tensor):
        classes, name = next(per_label), next(names)
        targets = label_rules.to_float_targets(
            tensor,
            classes,
            name=name,
            per_pixel=per_pixel,
            ignore_class=ignore_class if per_pixel else None,
            ops=ops,
        )
        if not label_rules.is_class_distribution(tensor, classes, lone=lone, ops=ops):
            return targets  # binary, regression: label smoothing is for class targets
        return label_rules.smooth_labels(targets, label_smoothing, ops=ops)

    return keras.tree.map_structure(convert, labels)


def _channels_last(masks, channels_first: bool, *, ops):
    """Segmentation masks `[B, 1, H, W]` (channels first) as `[B, H, W, 1]`."""
    return ops.transpose(masks, [0, 2, 3, 1]) if channels_first else masks


def mix_parts(
    parts: Parts,
    params: MixParams | None,
    *,
    num_classes,
    feature_dtype: str,
    floating_dtype: str | None = None,
    targets: str = "mixed",
    label_smoothing: float = 0.0,
    mask_classes=None,
    keep_masks: bool = False,
    ignore_class: int | None = None,
    partners: Parts | None = None,
    shards: int = 1,
    channels_first: bool = False,
    ops,
) -> Parts:
    """Applies `params` to every part of an element; `params=None` only converts.

    Features: each integer or floating tensor is blended (in float32, or float64
    for float64 output) and written once in its output dtype: integer tensors
    become `feature_dtype`, floating tensors `floating_dtype` (None: their own
    dtype). Labels: converted to
    float32 targets (`targets_of`), then mixed by `mix_targets`. Sample weights
    follow the labels (blended, or the dominant sample's). Segmentation masks are
    per-pixel labels with `mask_classes` classes: float32 one-hot `[B, H, W, K]`
    (`[B, K, H, W]` for channels-first masks `[B, 1, H, W]`), cut pixel by pixel
    under CutMix and mixed with the image's weights under mixup; with `keep_masks`
    (one source per pixel, no `mask_classes`) they keep their dtype and values
    (`paste_masks`). Per-pixel sample weights `[B, H, W]` are cut like the masks.
    With `params=None`
    (alpha = 0, inference) the same conversions happen without mixing, so the
    output has the same dtypes and shapes either way. Bounding boxes are not
    handled here (`boxes.py`).

    `partners`, if given, holds the partner rows (of the same structure) instead
    of the rows of `parts` under `params.permutation`.
    """
    partners = partners or Parts(None)

    def feature_dtype_of(tensor):
        if is_floating_tensor(tensor, ops=ops):
            return floating_dtype or ops.dtype(tensor)
        return feature_dtype

    def to_float32(tensor):
        return ops.cast(tensor, "float32")

    labels = targets_of(parts.labels, num_classes, label_smoothing=label_smoothing, ops=ops)
    masks = None
    keep_masks = keep_masks and mask_classes is None
    if parts.segmentation_masks is not None and keep_masks:
        masks = _channels_last(ops.convert(parts.segmentation_masks), channels_first, ops=ops)
    elif parts.segmentation_masks is not None:
        masks = targets_of(
            _channels_last(ops.convert(parts.segmentation_masks), channels_first, ops=ops),
            mask_classes,
            role="segmentation_masks",
            ignore_class=ignore_class,
            ops=ops,
        )
    weights = map_tensors(to_float32, parts.sample_weight)

    def masks_out(values):
        if values is None or not channels_first:
            return values
        return ops.transpose(values, [0, 3, 1, 2])

    if params is None:
        features = map_tensors(lambda t: ops.cast(t, feature_dtype_of(t)), parts.features)
        return parts._replace(
            features=features,
            labels=labels,
            sample_weight=weights,
            segmentation_masks=masks_out(masks),
        )

    def mix_each(fn, structure, partner_structure):
        """`fn(tensor, partner)` over a structure; partner None: taken from the batch."""
        if structure is None:
            return None
        if partner_structure is None:
            return keras.tree.map_structure(lambda t: fn(t, None), structure)
        return keras.tree.map_structure(fn, structure, partner_structure)

    def mix_target(tensor, partner):
        return mix_targets(tensor, params, targets, partner=partner, shards=shards, ops=ops)

    def mix_weight(tensor, partner):
        return mix_targets(
            tensor, params, targets, partner=partner, shards=shards, per_pixel_rank=3, ops=ops
        )

    def blend_feature(tensor, partner):
        return blend_tensor(
            tensor,
            params,
            dtype=feature_dtype_of(tensor),
            partner=partner,
            shards=shards,
            channels_first=channels_first,
            ops=ops,
        )

    partner_labels = targets_of(
        partners.labels, num_classes, label_smoothing=label_smoothing, ops=ops
    )
    return parts._replace(
        features=mix_each(blend_feature, parts.features, partners.features),
        labels=mix_each(mix_target, labels, partner_labels),
        sample_weight=mix_each(
            mix_weight, weights, map_tensors(to_float32, partners.sample_weight)
        ),
        segmentation_masks=masks_out(
            paste_masks(masks, params, shards=shards, ops=ops)
            if keep_masks and masks is not None
            else mix_each(mix_target, masks, None)
        ),
    )

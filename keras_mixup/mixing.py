"""Applying mixup parameters: pure arithmetic on tensors, no randomness.

`blend` computes `lam_i * t_i + (1 - lam_i) * t_perm(i)` for one tensor;
`mix_batch` applies one `MixParams` (or none: conversions only) to a whole batch
(features of any nesting, labels, sample weights) after converting labels to
float targets. Parameters come from `keras_mixup.sampling`; injecting them by
hand gives exact, replayable results (that is how the tests check values).

Like `sampling`, everything here is written against the ops interface of
`keras_mixup.ops`: the tf.data fronts run it as TensorFlow ops, the layer and
its loss as `keras.ops` on every backend. The `ops` argument selects the
binding; by default it follows the kind of tensor given.
"""

from __future__ import annotations

import keras

from keras_mixup.ops import ops_for
from keras_mixup.structures import Batch, MixParams
from keras_mixup.validation import check_label_width, user_error

__all__ = [
    "Batch",
    "blend",
    "map_tensors",
    "mix_batch",
    "mix_targets",
    "select_dominant",
    "smooth_labels",
    "to_float_targets",
]


def map_tensors(fn, structure):
    """`keras.tree.map_structure` that passes a missing component (None) through."""
    return None if structure is None else keras.tree.map_structure(fn, structure)


def is_floating(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


def is_integer(dtype: str) -> bool:
    return dtype.startswith(("int", "uint"))


def box_mask(params: MixParams, tensor, ops):
    """bool `[B, H, W, 1, ...]` (as many trailing 1s as `tensor` has axes after W):
    the pixels of each example that come from its partner under CutMix."""
    rank = ops.rank(tensor)
    if rank is None or rank < 3:
        raise user_error(
            ValueError,
            f"CutMix cuts boxes out of images, but a tensor of this batch has shape "
            f"{ops.static_shape(tensor)} (rank {rank}); CutMix needs every feature to be an "
            "image [batch, height, width(, channels)]. Mix other features with mixup only "
            "(cutmix_alpha=0), or drop them.",
        )
    top, left, bottom, right = (params.box[:, i] for i in range(4))
    rows = ops.arange(ops.size(tensor, 1))[None, :]
    cols = ops.arange(ops.size(tensor, 2))[None, :]
    in_rows = (rows >= top[:, None]) & (rows < bottom[:, None])
    in_cols = (cols >= left[:, None]) & (cols < right[:, None])
    mask = in_rows[:, :, None] & in_cols[:, None, :] & params.cut[:, None, None]
    for _ in range(rank - 3):  # channels and any further axes
        mask = mask[..., None]
    return mask


def own_weights(params: MixParams, tensor, dtype: str, per_pixel: bool, ops):
    """The weight of each example's own values in `tensor`, broadcastable to it:
    `mix_weight` per row, or with CutMix and `per_pixel`, 0 inside the box and 1
    outside for cut examples (blended examples keep `mix_weight`)."""
    weight = ops.cast(params.mix_weight, dtype)
    if params.box is None or not per_pixel:
        return ops.rows_like(weight, tensor)
    blended = ops.rows_like(ops.where(params.cut, 1.0, weight), tensor)
    return ops.where(box_mask(params, tensor, ops), ops.cast(0.0, dtype), blended)


def _more_partners(params: MixParams, tensor, dtype: str, ops) -> list:
    """`(weight broadcastable to tensor, partner rows)` for the partners after the first."""
    count = ops.static_shape(params.more_weights)[0]
    return [
        (
            ops.rows_like(ops.cast(params.more_weights[j], dtype), tensor),
            ops.take(tensor, params.more_permutations[j]),
        )
        for j in range(count)
    ]


def blend(tensor, params: MixParams, dtype=None, partner=None, ops=None, per_pixel=None):
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
        ops: the ops binding (`keras_mixup.ops`); by default the one for `tensor`.
        per_pixel: with CutMix parameters, whether to cut the box out of `tensor`
            (default True) or weight whole rows by `mix_weight` (per-example
            targets).

    Returns:
        The mixed tensor, same shape as `tensor`, dtype `dtype`.

    Examples:
        >>> x = tf.constant([[0.0, 0.0], [10.0, 20.0]])
        >>> params = MixParams(mix_weight=tf.constant([0.75, 0.75]), permutation=tf.constant([1, 0]))
        >>> blend(x, params).numpy().tolist()
        [[2.5, 5.0], [7.5, 15.0]]
    """
    ops = ops or ops_for(tensor)
    tensor = ops.convert(tensor)
    input_dtype = ops.dtype(tensor)
    if dtype is None:
        dtype = input_dtype if is_floating(input_dtype) else "float32"
    dtype = keras.backend.standardize_dtype(dtype)
    compute_dtype = "float64" if dtype == "float64" else "float32"
    if partner is None:
        partner = ops.take(tensor, params.permutation)
    own = own_weights(params, tensor, compute_dtype, per_pixel is not False, ops)
    values = ops.cast(tensor, compute_dtype)
    if params.more_weights is None:
        mixed = own * values + (1.0 - own) * ops.cast(partner, compute_dtype)
    else:
        more = _more_partners(params, tensor, compute_dtype, ops)
        mixed = own * values + (1.0 - own - sum(w for w, _ in more)) * ops.cast(
            partner, compute_dtype
        )
        for weight, rows in more:
            mixed = mixed + weight * ops.cast(rows, compute_dtype)
    return ops.cast(mixed, dtype)


def select_dominant(tensor, params: MixParams, partner=None, ops=None, per_pixel=False):
    """Row `i` of `tensor` where `lam_i >= 0.5`, else its partner's row; with k-way
    parameters, the row of the example with the largest weight (ties: the first).

    The target of the paper's "mix inputs only" ablation (Table 5): the one-hot
    label of the sample that weighs more in the mixed input, not a mixture.

    Examples:
        >>> y = tf.constant([[1.0, 0.0], [0.0, 1.0]])
        >>> params = MixParams(mix_weight=tf.constant([0.3, 0.3]), permutation=tf.constant([1, 0]))
        >>> select_dominant(y, params).numpy().tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    ops = ops or ops_for(tensor)
    if partner is None:
        partner = ops.take(tensor, params.permutation)
    own = own_weights(params, tensor, "float32", per_pixel, ops)
    if params.more_weights is None:
        return ops.where(own >= 0.5, tensor, partner)
    more = _more_partners(params, tensor, "float32", ops)
    candidates = [(own, tensor), (1.0 - own - sum(w for w, _ in more), partner), *more]
    best_weight, best = candidates[0]
    for weight, rows in candidates[1:]:
        better = weight > best_weight
        best_weight, best = ops.where(better, weight, best_weight), ops.where(better, rows, best)
    return best


def mix_targets(tensor, params: MixParams, mode: str = "mixed", partner=None, ops=None):
    """Targets of a mixed batch: `blend` (mode "mixed", the paper's mixup) or
    `select_dominant` (mode "dominant", the "mix inputs only" ablation), float32.

    With CutMix, targets of rank >= 4 (`[B, H, W, C]`: per-pixel targets, such as
    one-hot segmentation masks) are cut with the box pixel by pixel; targets of
    lower rank get the example's weight, the share of its pixels it keeps.
    """
    ops = ops or ops_for(tensor)
    per_pixel = params.box is not None and (ops.rank(tensor) or 0) >= 4
    if mode == "dominant":
        return select_dominant(tensor, params, partner, ops, per_pixel)
    return blend(tensor, params, "float32", partner, ops, per_pixel)


def smooth_labels(targets, label_smoothing: float, ops=None):
    """Szegedy et al.'s label smoothing over the last (class) axis:
    `(1 - eps) * y + eps / num_classes` (eps / K for wrong classes, 1 - eps (K - 1) / K
    for the right one, as in the paper's Table 5). Commutes with mixing."""
    if not label_smoothing:
        return targets
    ops = ops or ops_for(targets)
    num_classes = ops.cast(ops.size(targets, -1), "float32")
    return targets * (1.0 - label_smoothing) + label_smoothing / num_classes


def to_float_targets(labels, num_classes: int | None, name: str = "labels", ops=None):
    """Converts labels to float32 targets that can be mixed.

    Integer class ids become one-hot rows (`num_classes` required): shape
    `[B]` or `[B, 1]` gives `[B, num_classes]`; dense per-pixel ids `[B, H, W]` or
    `[B, H, W, 1]` give `[B, H, W, num_classes]`. An id outside
    `[0, num_classes)` gives a row of NaN, never a silent all-zero row (the
    fronts raise an error for it wherever values can be checked; inside XLA or
    `jax.jit` the NaN makes the loss NaN). Boolean labels (multi-hot) and
    floating labels (one-hot, soft, multi-hot, regression targets of any rank)
    are cast to float32 unchanged in shape.

    Raises:
        ValueError: integer labels without `num_classes`; floating labels whose
            class axis has another static width than `num_classes`.
        TypeError: labels that are neither numeric nor boolean.
    """
    ops = ops or ops_for(labels)
    labels = ops.convert(labels)
    dtype = ops.dtype(labels)
    if is_integer(dtype):
        if num_classes is None:
            raise user_error(
                ValueError,
                f"`{name}` are integer class ids (dtype {dtype}, shape "
                f"{ops.static_shape(labels)}), so mixup needs `num_classes` to one-hot encode "
                "them before mixing; pass num_classes=<number of classes>, or give one-hot "
                "float labels.",
            )
        shape = ops.static_shape(labels)
        if shape is not None and len(shape) >= 2 and shape[-1] == 1:
            labels = ops.squeeze(labels, axis=-1)
        in_range = (labels >= 0) & (labels < num_classes)
        one_hot = ops.one_hot(labels, num_classes)
        return ops.where(in_range[..., None], one_hot, float("nan"))
    if is_floating(dtype) or dtype == "bool":
        check_label_width(labels, num_classes, ops, name)
        return ops.cast(labels, "float32")
    raise user_error(
        TypeError,
        f"`{name}` must be integer class ids, or boolean / floating targets; got dtype {dtype}.",
    )


def _feature_output_dtype(tensor, feature_dtype: str, ops) -> str:
    """Floating features keep their dtype; integer features become `feature_dtype`."""
    dtype = ops.dtype(tensor)
    return dtype if is_floating(dtype) else feature_dtype


def mix_batch(
    batch: Batch,
    params: MixParams | None,
    *,
    num_classes: int | None,
    feature_dtype: str,
    targets: str = "mixed",
    label_smoothing: float = 0.0,
    partners: Batch | None = None,
    ops=None,
) -> Batch:
    """Applies `params` to every tensor of a batch; `params=None` only converts.

    Features: each integer or floating tensor is blended; floating tensors keep
    their dtype, integer tensors become `feature_dtype`. Labels: converted by
    `to_float_targets`, label-smoothed if asked, then mixed by `mix_targets`
    (float32). Sample weights follow the labels (blended, or the dominant
    sample's). With `params=None` (alpha = 0, inference) the same conversions
    happen without mixing, so the output has the same dtypes and shapes either way.

    `partners`, if given, is a batch of the same structure whose rows are the
    partners (instead of the rows of `batch` under `params.permutation`).
    """
    ops = ops or ops_for(keras.tree.flatten(batch.labels)[0])

    def labels_of(part):
        return map_tensors(
            lambda t: smooth_labels(
                to_float_targets(t, num_classes, ops=ops), label_smoothing, ops
            ),
            part,
        )

    def to_float32(t):
        return None if t is None else ops.cast(t, "float32")

    features, labels = batch.features, labels_of(batch.labels)
    if params is None:
        return Batch(
            map_tensors(
                lambda t: ops.cast(t, _feature_output_dtype(t, feature_dtype, ops)), features
            ),
            labels,
            map_tensors(to_float32, batch.sample_weight),
        )
    if partners is None:
        partners = Batch(None, None, None)

    def mix_each(fn, structure, partner_structure):
        """`fn(tensor, partner)` over a structure; partner None: taken from the batch."""
        if structure is None:
            return None
        if partner_structure is None:
            return keras.tree.map_structure(lambda t: fn(t, None), structure)
        return keras.tree.map_structure(fn, structure, partner_structure)

    return Batch(
        mix_each(
            lambda t, p: blend(t, params, _feature_output_dtype(t, feature_dtype, ops), p, ops),
            features,
            partners.features,
        ),
        mix_each(
            lambda t, p: mix_targets(t, params, targets, p, ops), labels, labels_of(partners.labels)
        ),
        mix_each(
            lambda t, p: mix_targets(to_float32(t), params, targets, to_float32(p), ops),
            batch.sample_weight,
            partners.sample_weight,
        ),
    )

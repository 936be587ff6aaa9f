"""Applying mixup parameters: pure arithmetic on tensors, no randomness.

`blend` computes `lam_i * t_i + (1 - lam_i) * t_perm(i)` for one tensor;
`mix_batch` applies one `MixParams` (or none: conversions only) to a whole batch (features of any nesting,
labels, sample weights) after converting labels to float targets. Parameters
come from `keras_mixup.sampling`; injecting them by hand gives exact,
replayable results (that is how the tests check values).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf

from keras_mixup.sampling import MixParams


class Batch(NamedTuple):
    """A supervised batch: `features` may be a tensor or any nest of tensors;
    `labels` a tensor or nest; `sample_weight` a tensor, nest or None."""

    features: Any
    labels: Any
    sample_weight: Any = None


def map_tensors(fn, structure):
    """`tf.nest.map_structure` that passes a missing component (None) through."""
    return None if structure is None else tf.nest.map_structure(fn, structure)


TARGET_MODES = ("mixed", "dominant")


def blend(
    tensor: tf.Tensor,
    params: MixParams,
    dtype: tf.DType | None = None,
    partner: tf.Tensor | None = None,
) -> tf.Tensor:
    """Mixes each row of `tensor` with its partner row: `lam * t + (1 - lam) * t[perm]`.

    The arithmetic runs in float32 (float64 for float64 output) whatever the
    input and output dtypes, so uint8 images and float16 / bfloat16 outputs are
    mixed with exactly the lambda the labels get; the result is cast to `dtype`
    once. The partner rows are gathered in the input dtype (under XLA the cast,
    gather and blend fuse into one pass over memory).

    Args:
        tensor: batched tensor, shape `[batch_size, ...]`, integer or floating.
        params: `MixParams` for this batch.
        dtype: output dtype (floating); defaults to the input dtype when it is
            floating, float32 otherwise.
        partner: optional tensor of partner rows, same shape as `tensor` (for
            partners that do not come from the same batch, e.g. nearest neighbours
            from the whole data set); `params.permutation` is then not used.

    Returns:
        The mixed tensor, same shape as `tensor`, dtype `dtype`.

    Example:
    >>> x = tf.constant([[0.0, 0.0], [10.0, 20.0]])
    >>> params = MixParams(mix_weight=tf.constant([0.75, 0.75]), permutation=tf.constant([1, 0]))
    >>> blend(x, params).numpy().tolist()
    [[2.5, 5.0], [7.5, 15.0]]
    """
    dtype = (
        tf.as_dtype(dtype)
        if dtype is not None
        else (tensor.dtype if tensor.dtype.is_floating else tf.float32)
    )
    compute_dtype = tf.float64 if dtype == tf.float64 else tf.float32
    if partner is None:
        partner = tf.gather(tensor, params.permutation, axis=0)
    weight = _row_weights(params, tensor, compute_dtype)
    mixed = weight * tf.cast(tensor, compute_dtype) + (1.0 - weight) * tf.cast(
        partner, compute_dtype
    )
    return tf.cast(mixed, dtype)


def _row_weights(params: MixParams, tensor: tf.Tensor, dtype) -> tf.Tensor:
    weight = tf.cast(params.mix_weight, dtype)
    return tf.reshape(weight, tf.concat([[-1], tf.ones([tf.rank(tensor) - 1], tf.int32)], 0))


def select_dominant(
    tensor: tf.Tensor, params: MixParams, partner: tf.Tensor | None = None
) -> tf.Tensor:
    """Row `i` of `tensor` where `lam_i >= 0.5`, else its partner's row.

    The target of the paper's "mix inputs only" ablation (Table 5): the one-hot
    label of the sample that weighs more in the mixed input, not a mixture.

    Example:
    >>> y = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    >>> params = MixParams(mix_weight=tf.constant([0.3, 0.3]), permutation=tf.constant([1, 0]))
    >>> select_dominant(y, params).numpy().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    if partner is None:
        partner = tf.gather(tensor, params.permutation, axis=0)
    keep_own = _row_weights(params, tensor, tf.float32) >= 0.5
    return tf.where(keep_own, tensor, partner)


def mix_targets(
    tensor: tf.Tensor, params: MixParams, mode: str = "mixed", partner: tf.Tensor | None = None
) -> tf.Tensor:
    """Targets of a mixed batch: `blend` (mode "mixed", the paper's mixup) or
    `select_dominant` (mode "dominant", the "mix inputs only" ablation)."""
    if mode == "dominant":
        return select_dominant(tensor, params, partner)
    return blend(tensor, params, tf.float32, partner)


def validate_target_mode(targets) -> str:
    if targets not in TARGET_MODES:
        raise ValueError(
            f"`targets` must be one of {TARGET_MODES} ('mixed': lam * y_i + (1 - lam) * y_j, "
            "the paper's mixup; 'dominant': the label of the sample with the larger weight, "
            f"the 'mix inputs only' ablation); got targets={targets!r}."
        )
    return targets


def validate_label_smoothing(label_smoothing) -> float:
    value = float(label_smoothing) if isinstance(label_smoothing, (int, float)) else None
    if value is None or isinstance(label_smoothing, bool) or not 0.0 <= value < 1.0:
        raise ValueError(
            f"`label_smoothing` must be a number in [0, 1) (the paper's Table 5 uses 0.05 to "
            f"0.4); got label_smoothing={label_smoothing!r}."
        )
    return value


def smooth_labels(targets: tf.Tensor, label_smoothing: float) -> tf.Tensor:
    """Szegedy et al.'s label smoothing over the last (class) axis:
    `(1 - eps) * y + eps / num_classes` (eps / K for wrong classes, 1 - eps (K - 1) / K
    for the right one, as in the paper's Table 5). Commutes with mixing."""
    if not label_smoothing:
        return targets
    num_classes = tf.cast(tf.shape(targets)[-1], targets.dtype)
    return targets * (1.0 - label_smoothing) + label_smoothing / num_classes


def to_float_targets(labels: tf.Tensor, num_classes: int | None, name: str = "labels") -> tf.Tensor:
    """Converts labels to float32 targets that can be mixed.

    Integer class ids become one-hot rows (`num_classes` required): shape
    `[B]` or `[B, 1]` gives `[B, num_classes]`; dense per-pixel ids `[B, H, W]` or
    `[B, H, W, 1]` give `[B, H, W, num_classes]`. Boolean labels (multi-hot) and
    floating labels (one-hot, soft, multi-hot, regression targets of any rank)
    are cast to float32 unchanged in shape.

    Raises:
        ValueError: integer labels without `num_classes`.
        TypeError: labels that are neither numeric nor boolean.
    """
    if labels.dtype.is_integer:
        if num_classes is None:
            raise ValueError(
                f"`{name}` are integer class ids (dtype {labels.dtype.name}, shape "
                f"{labels.shape}), so mixup needs `num_classes` to one-hot encode them "
                "before mixing; pass num_classes=<number of classes>, or give one-hot "
                "float labels."
            )
        if labels.shape.rank is not None and labels.shape.rank >= 2 and labels.shape[-1] == 1:
            labels = tf.squeeze(labels, axis=-1)
        return tf.one_hot(labels, num_classes, dtype=tf.float32)
    if labels.dtype.is_floating or labels.dtype == tf.bool:
        return tf.cast(labels, tf.float32)
    raise TypeError(
        f"`{name}` must be integer class ids, or boolean / floating targets; got dtype "
        f"{labels.dtype.name}."
    )


def check_class_ids(labels: tf.Tensor, num_classes: int, name: str = "labels") -> list:
    """Run-time check that integer labels lie in [0, num_classes).

    `tf.one_hot` silently turns out-of-range ids into all-zero rows; this assertion
    makes that an error instead. Returns the assert op (nothing in eager mode,
    where it has already run). XLA drops assertions, so callers run it outside
    compiled code. A bare `tf.debugging.Assert` with a constant message keeps it
    to a few cheap ops per batch.
    """
    if not labels.dtype.is_integer:
        return []
    in_range = tf.reduce_all((labels >= 0) & (labels < tf.cast(num_classes, labels.dtype)))
    message = f"`{name}` must be class ids in [0, num_classes={num_classes})"
    return [tf.debugging.Assert(in_range, [message])]


def _feature_output_dtype(tensor: tf.Tensor, feature_dtype: tf.DType) -> tf.DType:
    """Floating features keep their dtype; integer features become `feature_dtype`."""
    return tensor.dtype if tensor.dtype.is_floating else feature_dtype


def mix_batch(
    batch: Batch,
    params: MixParams | None,
    *,
    num_classes: int | None,
    feature_dtype: tf.DType,
    targets: str = "mixed",
    label_smoothing: float = 0.0,
    partners: Batch | None = None,
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

    def labels_of(part):
        return map_tensors(
            lambda t: smooth_labels(to_float_targets(t, num_classes), label_smoothing), part
        )

    features, labels = batch.features, labels_of(batch.labels)
    if params is None:
        return Batch(
            map_tensors(lambda t: tf.cast(t, _feature_output_dtype(t, feature_dtype)), features),
            labels,
            map_tensors(lambda t: tf.cast(t, tf.float32), batch.sample_weight),
        )
    if partners is None:
        partners = Batch(None, None, None)

    def mix_each(fn, structure, partner_structure):
        """`fn(tensor, partner)` over a structure; partner None: taken from the batch."""
        if structure is None:
            return None
        if partner_structure is None:
            return tf.nest.map_structure(lambda t: fn(t, None), structure)
        return tf.nest.map_structure(fn, structure, partner_structure)

    def to_float32(t):
        return None if t is None else tf.cast(t, tf.float32)

    return Batch(
        mix_each(
            lambda t, p: blend(t, params, _feature_output_dtype(t, feature_dtype), p),
            features,
            partners.features,
        ),
        mix_each(
            lambda t, p: mix_targets(t, params, targets, p), labels, labels_of(partners.labels)
        ),
        mix_each(
            lambda t, p: mix_targets(to_float32(t), params, targets, to_float32(p)),
            batch.sample_weight,
            partners.sample_weight,
        ),
    )

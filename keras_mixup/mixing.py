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


def blend(tensor: tf.Tensor, params: MixParams, dtype: tf.DType | None = None) -> tf.Tensor:
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
    partner = tf.gather(tensor, params.permutation, axis=0)
    weight = tf.cast(params.mix_weight, compute_dtype)
    weight = tf.reshape(weight, tf.concat([[-1], tf.ones([tf.rank(tensor) - 1], tf.int32)], 0))
    mixed = weight * tf.cast(tensor, compute_dtype) + (1.0 - weight) * tf.cast(
        partner, compute_dtype
    )
    return tf.cast(mixed, dtype)


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
    batch: Batch, params: MixParams | None, *, num_classes: int | None, feature_dtype: tf.DType
) -> Batch:
    """Applies `params` to every tensor of a batch; `params=None` only converts.

    Features: each integer or floating tensor is blended; floating tensors keep
    their dtype, integer tensors become `feature_dtype`. Labels: converted by
    `to_float_targets`, then blended (float32). Sample weights: blended as
    float32, like the labels. With `params=None` (alpha = 0, inference) the same
    conversions happen without mixing, so the output has the same dtypes and
    shapes either way.
    """

    def apply(tensor, dtype):
        return tf.cast(tensor, dtype) if params is None else blend(tensor, params, dtype)

    return Batch(
        map_tensors(lambda t: apply(t, _feature_output_dtype(t, feature_dtype)), batch.features),
        map_tensors(lambda t: apply(to_float_targets(t, num_classes), tf.float32), batch.labels),
        map_tensors(lambda t: apply(t, tf.float32), batch.sample_weight),
    )

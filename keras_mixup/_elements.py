"""Reading and checking the batches handed to MixupTransform and MixupLayer.

Shared by both front ends so that they accept the same element forms and fail
with the same messages.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_mixup.mixing import Batch, check_class_ids, map_tensors

ELEMENT_FORMS = "(features, labels) or (features, labels, sample_weight)"


def parse_element(args: tuple, owner: str) -> tuple[Batch, bool]:
    """Splits a tf.data element into a `Batch`.

    Returns the batch and whether the element carried sample weights (so the
    output can be packed in the same form).
    """
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    if len(args) in (2, 3):
        return Batch(*args), len(args) == 3
    if len(args) == 1 and isinstance(args[0], dict):
        raise ValueError(
            f"{owner} expects elements of the form {ELEMENT_FORMS}; got a single dict with "
            f"keys {sorted(args[0])}. Map it to a tuple first, e.g. "
            "dataset.map(lambda d: (d['image'], d['label']))."
        )
    raise ValueError(
        f"{owner} expects elements of the form {ELEMENT_FORMS}; got {len(args)} component(s)."
    )


def pack_element(batch: Batch, with_sample_weight: bool) -> tuple:
    if with_sample_weight:
        return batch.features, batch.labels, batch.sample_weight
    return batch.features, batch.labels


def _leaves_with_paths(role: str, structure) -> list[tuple[str, tf.Tensor]]:
    if structure is None:
        return []
    named = []
    for path, tensor in keras.tree.flatten_with_path(structure):
        key = "".join(f"[{part!r}]" for part in path)
        named.append((role + key, tf.convert_to_tensor(tensor)))
    return named


def validate_batch(batch: Batch, owner: str, num_classes: int | None) -> list:
    """Checks ranks, dtypes and batch sizes; returns run-time assert ops.

    Static problems (a scalar where a batch was expected, a string feature,
    batch sizes that differ in their static shapes) raise here. Batch sizes known
    only at run time and integer label ranges are checked by the returned
    assertions, which the caller must run outside XLA-compiled code.

    Raises:
        ValueError: unbatched element, mismatched batch sizes.
        TypeError: a feature that cannot be mixed (string, bool).
    """
    leaves = (
        _leaves_with_paths("features", batch.features)
        + _leaves_with_paths("labels", batch.labels)
        + _leaves_with_paths("sample_weight", batch.sample_weight)
    )
    for name, tensor in leaves:
        if tensor.shape.rank == 0:
            raise ValueError(
                f"{owner} mixes whole batches, but `{name}` is a scalar (shape ()): this "
                "element is not batched. Call dataset.batch(batch_size) before mapping "
                f"{owner}."
            )
        if name.startswith("features") and not (
            tensor.dtype.is_floating or tensor.dtype.is_integer
        ):
            raise TypeError(
                f"{owner} can only mix numeric features; `{name}` has dtype "
                f"{tensor.dtype.name}. Drop or encode it before mixing."
            )
    checks = []
    reference_name, reference = leaves[0]
    reference_size = reference.shape[0] if reference.shape.rank else None
    for name, tensor in leaves[1:]:
        size = tensor.shape[0] if tensor.shape.rank else None
        message = (
            f"{owner}: all tensors of a batch must share the batch (first) dimension, but "
            f"`{reference_name}` has shape {reference.shape} and `{name}` has shape "
            f"{tensor.shape}. If the dataset is not batched yet, call "
            "dataset.batch(batch_size) first."
        )
        if reference_size is not None and size is not None:
            if reference_size != size:
                raise ValueError(message)
        else:
            same_size = tf.equal(tf.shape(tensor)[0], tf.shape(reference)[0])
            checks.append(tf.debugging.Assert(same_size, [message]))
    if num_classes is not None:
        for name, tensor in _leaves_with_paths("labels", batch.labels):
            checks += check_class_ids(tensor, num_classes, name)
    return checks


def validated(batch: Batch, owner: str, num_classes: int | None) -> Batch:
    """`batch` after `validate_batch`, its tensors made to depend on the run-time checks."""
    checks = [check for check in validate_batch(batch, owner, num_classes) if check is not None]
    if not checks:
        return batch
    with tf.control_dependencies(checks):
        return Batch(*(map_tensors(tf.identity, part) for part in batch))


def batch_size(batch: Batch) -> tf.Tensor:
    """The batch size (scalar int32 tensor), read from the first label tensor."""
    return tf.shape(tf.nest.flatten(batch.labels)[0])[0]


def class_ids(batch: Batch, owner: str) -> tf.Tensor:
    """Class ids `[batch_size]` of a classification batch, for same-class pairing.

    Integer labels `[B]` or `[B, 1]` are the ids; one-hot / soft labels `[B, C]`
    give their argmax.

    Raises:
        ValueError: labels that are not one class per example (nested labels,
            regression targets of other ranks).
    """
    flat = tf.nest.flatten(batch.labels)
    labels = tf.convert_to_tensor(flat[0])
    rank = labels.shape.rank
    if (
        len(flat) == 1
        and labels.dtype.is_integer
        and (rank == 1 or (rank == 2 and labels.shape[-1] == 1))
    ):
        return tf.reshape(tf.cast(labels, tf.int32), [-1])
    if len(flat) == 1 and (labels.dtype.is_floating or labels.dtype == tf.bool) and rank == 2:
        return tf.argmax(labels, axis=-1, output_type=tf.int32)
    raise ValueError(
        f"{owner}(pairing='same_class') needs one class per example: integer labels of shape "
        "[batch] or [batch, 1], or one-hot labels of shape [batch, num_classes]; got labels "
        f"{tf.nest.map_structure(lambda t: tf.convert_to_tensor(t).shape, batch.labels)}."
    )

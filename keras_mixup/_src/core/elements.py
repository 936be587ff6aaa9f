"""The one element parser: every front turns the element it is given into
`Parts` (features, labels, sample weights, bounding boxes, segmentation masks)
with `parse_element`, checks them with `check_parts`, and packs the mixed parts
back into the element's own structure with the function `parse_element` returns.

Element forms:
- `(features, labels)` and `(features, labels, sample_weight)`, as `model.fit`
  takes them; features and labels may be any nest of tensors.
- Keras's preprocessing dict, as `keras.layers.MixUp` takes it:
  `{"images", "labels", "bounding_boxes": {"boxes", "labels"},
  "segmentation_masks"}` (any subset with "images").
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from keras_mixup._src.core import labels as label_rules
from keras_mixup._src.core.structures import Parts
from keras_mixup._src.core.validation import user_error, validate_image_shape

TUPLE_FORMS = "(features, labels) or (features, labels, sample_weight)"
KERAS_KEYS = ("images", "labels", "bounding_boxes", "segmentation_masks")
ELEMENT_FORMS = f"{TUPLE_FORMS}, or Keras's dict with keys {list(KERAS_KEYS)}"
_LABEL_NAMES = ("label", "labels", "target", "targets", "y", "class", "classes")


def _dict_advice(keys: list) -> str:
    """A map function that turns a dict element with these keys into a tuple."""
    label_like = [k for k in keys if str(k).lower() in _LABEL_NAMES]
    if len(label_like) == 1 and len(keys) >= 2:
        label = label_like[0]
        rest = [k for k in keys if k != label]
        features = (
            f"d[{rest[0]!r}]"
            if len(rest) == 1
            else "{" + ", ".join(f"{k!r}: d[{k!r}]" for k in rest) + "}"
        )
        return f"dataset.map(lambda d: ({features}, d[{label!r}]))"
    return (
        "dataset.map(lambda d: (d[<features key>], d[<labels key>])) with your keys "
        f"({', '.join(repr(k) for k in keys)})"
    )


def _keras_dict(element: dict, owner: str) -> tuple[Parts, Callable]:
    keys = sorted(str(k) for k in element)
    if "images" not in element:
        raise user_error(
            ValueError,
            f"{owner} expects elements of the form {ELEMENT_FORMS}; got a single dict with "
            f"keys {keys}, whose labels it cannot tell from its features. Map it to a tuple "
            f"first, e.g. {_dict_advice(keys)}, or rename its keys to Keras's.",
        )
    unknown = sorted(str(k) for k in element if k not in KERAS_KEYS)
    if unknown:
        raise user_error(
            ValueError,
            f"{owner} takes Keras's element dict with the keys {list(KERAS_KEYS)}; got the "
            f"unknown key(s) {unknown} beside them. Drop them before mixing, or map the element "
            "to a tuple (features, labels), where features may be a dict of any keys.",
        )
    for key in ("images", "labels", "segmentation_masks"):
        check_dense(element.get(key), f"element[{key!r}]", owner)
    boxes = element.get("bounding_boxes")
    if boxes is not None:
        boxes = _dense_boxes(boxes, owner)
    if len(element) == 1:
        raise user_error(
            ValueError,
            f"{owner} got a dict with 'images' alone, so there are no labels to mix with the "
            "images; keep 'labels' (and 'bounding_boxes' or 'segmentation_masks') in the element.",
        )
    parts = Parts(
        features=element["images"],
        labels=element.get("labels"),
        bounding_boxes=boxes,
        segmentation_masks=element.get("segmentation_masks"),
    )
    order = list(element)

    def pack(mixed: Parts) -> dict:
        values = {
            "images": mixed.features,
            "labels": mixed.labels,
            "bounding_boxes": mixed.bounding_boxes,
            "segmentation_masks": mixed.segmentation_masks,
        }
        return {key: values[key] for key in order}

    return parts, pack


def _dense_boxes(boxes, owner: str) -> dict:
    """Keras's boxes dict with ragged boxes and labels padded as Keras pads them (-1)."""
    if not isinstance(boxes, dict) or not {"boxes", "labels"} <= set(boxes):
        raise user_error(
            ValueError,
            f"{owner}: element['bounding_boxes'] must be Keras's dict {{'boxes': [B, N, 4], "
            f"'labels': [B, N]}}; got {type(boxes).__name__}"
            + (f" with keys {sorted(boxes)}" if isinstance(boxes, dict) else "")
            + ".",
        )
    unknown = sorted(str(k) for k in boxes if k not in ("boxes", "labels", "mix_weights"))
    if unknown:
        raise user_error(
            ValueError,
            f"{owner}: element['bounding_boxes'] has the key(s) {unknown} beside 'boxes' and "
            "'labels'; mixing would not keep them aligned with the boxes. Drop them before "
            "mixing, or carry per-box values as extra box labels.",
        )
    return {
        key: value.to_tensor(default_value=-1) if _not_dense(value) == "ragged" else value
        for key, value in boxes.items()
        if key != "mix_weights"  # an earlier mixing's weights: recomputed
    }


def parse_element(args: tuple, owner: str) -> tuple[Parts, Callable[[Parts], object]]:
    """Splits a batched element into `Parts`, and returns the function that packs
    mixed `Parts` back into the element's structure.

    `args` are the positional arguments a front was called with: `(x, y)`,
    `(x, y, w)` (tf.data unpacks tuples), or one tuple or dict (Grain, NumPy,
    `dataset.apply`).

    Raises:
        ValueError: an element of another form (a dict whose labels cannot be told
            from its features, features alone, a dict with keys Keras's format does
            not have), with advice naming its keys.
        TypeError: a ragged or sparse component (`check_dense`).
    """
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    if len(args) in (2, 3):
        for role, part in zip(("features", "labels", "sample_weight"), args, strict=False):
            check_dense(part, role, owner)
        with_weights = len(args) == 3
        parts = Parts(*args) if with_weights else Parts(args[0], args[1])

        def pack(mixed: Parts) -> tuple:
            if with_weights:
                return mixed.features, mixed.labels, mixed.sample_weight
            return mixed.features, mixed.labels

        return parts, pack
    if len(args) == 1 and isinstance(args[0], dict):
        return _keras_dict(args[0], owner)
    if len(args) == 1:
        raise user_error(
            ValueError,
            f"{owner} expects elements of the form {ELEMENT_FORMS}; got features alone "
            "(one tensor), so there are no labels to mix with the inputs. Keep the labels in "
            "the element: dataset.map(lambda x, y: ...) over (x, y) batches.",
        )
    raise user_error(
        ValueError,
        f"{owner} expects elements of the form {ELEMENT_FORMS}; got {len(args)} components.",
    )


def is_whole_element(args: tuple) -> bool:
    """Whether a layer's call arguments are a whole element (labels included), as
    in a data pipeline, rather than a model's inputs: `(x, y[, w])` as separate
    arguments (tf.data unpacks tuples), Keras's dict with 'labels',
    'bounding_boxes' or 'segmentation_masks', or one tuple of NumPy arrays
    (Grain, Python generators). A list, or a tuple of backend tensors, is a
    model's several inputs."""
    if len(args) in (2, 3):
        return True
    if len(args) != 1:
        return False
    first = args[0]
    if isinstance(first, dict):
        return "images" in first and bool(set(first) & set(KERAS_KEYS[1:]))
    if isinstance(first, tuple) and len(first) in (2, 3):
        return all(isinstance(leaf, np.ndarray) for leaf in keras.tree.flatten(first))
    return False


def _not_dense(tensor) -> str | None:
    kind = type(tensor).__name__
    if kind in ("RaggedTensor", "RaggedTensorValue"):
        return "ragged"
    if kind in ("SparseTensor", "SparseTensorValue"):
        return "sparse"
    return None


def check_dense(structure, role: str, owner: str) -> None:
    """Ragged and sparse tensors have no sound mixup: rows of different lengths
    cannot be combined entry by entry.

    Raises:
        TypeError: naming the component, what it is and what to do.
    """
    if structure is None:
        return
    for path, tensor in keras.tree.flatten_with_path(structure):
        kind = _not_dense(tensor)
        if kind is None:
            continue
        name = label_rules.path_name(role, path)
        advice = (
            "batch it with dataset.padded_batch(...) instead of ragged_batch, or call "
            "`.to_tensor()` on it before mixing"
            if kind == "ragged"
            else "densify it with tf.sparse.to_dense(...) before mixing (for a VarLenFeature, "
            "or pad it to a fixed length)"
        )
        raise user_error(
            TypeError,
            f"{owner} cannot mix `{name}`: it is a {kind} tensor, and mixup combines examples "
            f"entry by entry, which has no meaning for rows of different lengths. To mix it, "
            f"{advice}.",
        )


def check_parts(
    parts: Parts, owner: str, num_classes, mask_classes, *, ignore_class=None, ops
) -> list:
    """Checks ranks, dtypes and batch sizes of an element's parts (`ignore_class`: the
    id that segmentation masks may hold beside their classes).

    Static problems (a scalar where a batch was expected, a string feature,
    integer labels without `num_classes`, batch sizes that differ in their static
    shapes, one-hot labels of another width than `num_classes`, ragged or sparse
    tensors) raise here. Batch sizes known only at run time and class-id ranges
    are checked by `ops.check`: now where values are known, else by the returned
    assert ops (TensorFlow graphs), which the caller runs outside compiled code.

    Raises:
        ValueError: unbatched element, mismatched batch sizes, labels as in
            `labels.check_label`.
        TypeError: a feature that cannot be mixed (string, bool), ragged or
            sparse tensors.
    """
    roles = [
        ("features", parts.features, None),
        ("labels", parts.labels, num_classes),
        ("sample_weight", parts.sample_weight, None),
        ("segmentation_masks", parts.segmentation_masks, mask_classes),
    ]
    leaves, checks = [], []
    for role, structure, classes in roles:
        if structure is None:
            continue
        named = label_rules.leaves_with_names(role, structure)
        per_pixel = role == "segmentation_masks"
        per_label = (
            label_rules.num_classes_per_label(structure, classes, per_pixel=per_pixel, ops=ops)
            if role in ("labels", "segmentation_masks")
            else [None] * len(named)
        )
        for (name, tensor), label_classes in zip(named, per_label, strict=True):
            tensor = ops.convert(tensor)
            leaves.append((name, tensor))
            if ops.rank(tensor) == 0:
                raise user_error(
                    ValueError,
                    f"{owner} mixes whole batches, but `{name}` is a scalar (shape ()): this "
                    "element is not batched. Call dataset.batch(batch_size) before mapping "
                    f"{owner}.",
                )
            dtype = ops.dtype(tensor)
            if role == "features" and not label_rules.is_numeric(dtype):
                raise user_error(
                    TypeError,
                    f"{owner} can only mix numeric features; `{name}` has dtype {dtype}. Drop "
                    "or encode it before mixing.",
                )
            if role in ("labels", "segmentation_masks"):
                kind = {"name": name, "per_pixel": per_pixel, "ops": ops}
                label_rules.check_label(tensor, label_classes, **kind)
                void = ignore_class if per_pixel else None
                checks += label_rules.check_ids(tensor, label_classes, ignore_class=void, **kind)
    reference_name, reference = leaves[0]
    reference_size = (ops.static_shape(reference) or (None,))[0]
    for name, tensor in leaves[1:]:
        size = (ops.static_shape(tensor) or (None,))[0]
        message = (
            f"{owner}: all tensors of a batch must share the batch (first) dimension, but "
            f"`{reference_name}` has shape {ops.static_shape(reference)} and `{name}` has shape "
            f"{ops.static_shape(tensor)}. If the dataset is not batched yet, call "
            "dataset.batch(batch_size) first."
        )
        if reference_size is not None and size is not None:
            if reference_size != size:
                raise user_error(ValueError, message)
        else:
            same = ops.size(tensor, 0) == ops.size(reference, 0)
            checks += ops.check(same, message)
    return checks


def batch_size_of(parts: Parts, *, ops):
    """The batch size (int, or scalar tensor when unknown) of an element's parts."""
    first = keras.tree.flatten(parts.features)[0]
    return ops.size(ops.convert(first), 0)


def image_size_of(
    features, owner: str, *, channels_first: bool = False, alphas=("cutmix_alpha",), ops
) -> tuple:
    """`(H, W)` of the images of a CutMix batch (ints, or scalar tensors when unknown);
    `channels_first`: images `[B, C, H, W]`.

    Raises:
        ValueError: a feature of rank < 3 (CutMix needs every feature to be an
            image), or images of different heights or widths.
    """
    leaves = [ops.convert(t) for t in keras.tree.flatten(features)]
    sizes = []
    for tensor in leaves:
        shape = ops.static_shape(tensor)
        validate_image_shape(shape, owner, channels_first=channels_first, alphas=alphas)
        sizes.append(shape[2:4] if channels_first else shape[1:3])
    known = {size for size in sizes if None not in size}
    if len(known) > 1:
        raise user_error(
            ValueError,
            f"{owner}: CutMix cuts the same box out of every image of an example, but the "
            f"features have different heights and widths {sorted(known)}.",
        )
    first = 2 if channels_first else 1
    return ops.size(leaves[0], first), ops.size(leaves[0], first + 1)

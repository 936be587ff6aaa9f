"""The label rules, in one place: which labels are class ids and which are
targets, how they become float targets that can be mixed, and their checks.

- Integer labels are class ids. They need `num_classes` (an int, or a nest
  matching the labels, `{"cls": 8, "box": None}`), and become one-hot rows:
  `[B]` or `[B, 1]` gives `[B, num_classes]`, per-pixel ids `[B, H, W(, 1)]`
  give `[B, H, W, num_classes]`.
- A floating label with no class axis (`[B]`, `[B, 1]`; segmentation masks
  `[B, H, W]`, `[B, H, W, 1]`) that is given a `num_classes` of 2 or more is class
  ids too, whatever its dtype: Keras 3's preprocessing layers pass labels on as
  float32 (`RandomFlip` turns the ids `[0, 1, 2]` into `[0., 1., 2.]`). Whole
  numbers in `[0, num_classes)` are one-hot encoded like integers; any other value
  is an error (`check_ids`), NaN targets in compiled code.
- Other floating and boolean labels are targets (one-hot, soft, multi-hot, binary
  probabilities, regression values of any rank), mixed as they are.
- Binary heads (one sigmoid unit, or a binary loss): integer 0/1 labels are
  probabilities, cast to float32, not one-hot encoded; on a one-unit head with
  any other loss integer labels are regression values (`integer_labels`: the
  one rule for `MixupLoss` and `MixupAccuracy`).
- Strings and other dtypes are errors; so are ragged and sparse labels
  (`elements.py` names them).

A single int `num_classes` applies to every integer label, and to a lone
floating label (whose class axis must then be that wide, or which is class ids
when it has none); with several labels it does not constrain the floating ones
that have a class axis (a box regression target beside class ids), and a
floating label without one is an error: it may be ids that a Keras layer made
floats or a regression target, which only a nest (`{"cls": 8, "reg": None}`) can
tell.
"""

from __future__ import annotations

import keras

from keras_mixup._src.core.validation import user_error


def is_integer(dtype: str) -> bool:
    return dtype.startswith(("int", "uint"))


def is_floating(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


def is_numeric(dtype: str) -> bool:
    return is_integer(dtype) or is_floating(dtype)


def path_name(role: str, path) -> str:
    """`labels['cls']`, `features[0]`: how errors name a component of a nest."""
    return role + "".join(f"[{part!r}]" for part in path)


def leaves_with_names(role: str, structure) -> list:
    """`(name, leaf)` for every leaf of `structure` (None: no leaves)."""
    if structure is None:
        return []
    return [(path_name(role, path), leaf) for path, leaf in keras.tree.flatten_with_path(structure)]


def has_class_axis(shape, *, per_pixel: bool = False) -> bool:
    """Whether a label of static `shape` has a class (last) axis wider than 1: rank
    >= 2 (>= 4 for per-pixel segmentation masks `[B, H, W, K]`) and a last axis
    that is not 1. Unknown ranks count as having one."""
    if shape is None:
        return True
    return len(shape) >= (4 if per_pixel else 2) and shape[-1] != 1


def is_class_ids(labels, num_classes, *, per_pixel: bool = False, ops) -> bool:
    """Whether `labels` are class ids (see the module docstring): integer labels, or
    floating labels with no class axis given a `num_classes` of 2 or more."""
    dtype = ops.dtype(labels)
    if is_integer(dtype):
        return True
    if not is_floating(dtype) or num_classes is None or num_classes < 2:
        return False
    return not has_class_axis(ops.static_shape(labels), per_pixel=per_pixel)


def num_classes_per_label(labels, num_classes, *, per_pixel: bool = False, ops) -> list:
    """`num_classes` for each leaf of `labels`, in `keras.tree.flatten` order.

    Raises:
        ValueError: a nest of `num_classes` whose structure does not match the labels;
            a single int `num_classes` for several labels, one of which is floating
            with no class axis (ids made floats, or a regression target: only a nest
            can tell).
    """
    leaves = keras.tree.flatten(labels)
    if num_classes is None:
        return [None] * len(leaves)
    if isinstance(num_classes, int):
        if len(leaves) == 1:
            return [num_classes]
        named = leaves_with_names("segmentation_masks" if per_pixel else "labels", labels)
        for name, leaf in named:
            leaf = ops.convert(leaf)
            if not is_integer(ops.dtype(leaf)) and is_class_ids(
                leaf, num_classes, per_pixel=per_pixel, ops=ops
            ):
                names = [n for n, _ in named]
                raise user_error(
                    ValueError,
                    f"num_classes={num_classes} is one int for the labels {names}, and "
                    f"`{name}` is floating ({ops.dtype(leaf)}, shape "
                    f"{ops.static_shape(leaf)}) with no class axis: it may be class ids that "
                    "a Keras preprocessing layer turned into floats, or a regression target, "
                    "and keras_mixup will not guess. Give num_classes as a nest with one "
                    "entry per label, None for labels that are not class ids, e.g. "
                    "{'cls': 8, 'reg': None}.",
                )
        return [
            num_classes if is_integer(ops.dtype(ops.convert(leaf))) else None for leaf in leaves
        ]
    # Paths, not `keras.tree.assert_same_structure`: in Keras 3.7 that also compares
    # the leaves' types, so an int and a None entry (`{"cls": 8, "reg": None}`) differ.
    label_paths = [path for path, _ in keras.tree.flatten_with_path(labels)]
    if label_paths != [path for path, _ in keras.tree.flatten_with_path(num_classes)]:
        raise user_error(
            ValueError,
            f"`num_classes` is a nest ({num_classes!r}), so it must have the structure of the "
            f"labels, one entry per label (None for labels that are not class ids); the labels "
            f"are {[name for name, _ in leaves_with_names('labels', labels)]}.",
        )
    return keras.tree.flatten(num_classes)


def check_label(labels, num_classes, *, name: str, per_pixel: bool = False, ops) -> None:
    """The static checks of one label tensor (dtype, `num_classes`, class-axis width).

    Raises:
        ValueError: integer labels without `num_classes`; floating labels whose
            class axis has another static width than `num_classes`.
        TypeError: labels that are neither numeric nor boolean.
    """
    dtype = ops.dtype(labels)
    if num_classes is not None and is_class_ids(labels, num_classes, per_pixel=per_pixel, ops=ops):
        return
    if is_integer(dtype):
        if num_classes is None:
            raise user_error(
                ValueError,
                f"`{name}` are integer class ids (dtype {dtype}, shape "
                f"{ops.static_shape(labels)}), so mixup needs `num_classes` to one-hot encode "
                "them before mixing; pass num_classes=<number of classes> (a nest such as "
                "{'cls': 8, 'box': None} for several labels), or give float targets (for a "
                "binary head with one sigmoid unit, float 0/1 labels)."
                + (
                    " Segmentation masks are kept as they are, integer ids and an ignore "
                    "label such as 255 included, where each pixel comes from one source: "
                    "CutMix, GridMix or FMix without soft edges, alone (alpha=0, e.g. "
                    "cutmix_alpha > 0), or targets='dominant'."
                    if per_pixel
                    else ""
                ),
            )
        return
    if not (is_floating(dtype) or dtype == "bool"):
        raise user_error(
            TypeError,
            f"`{name}` must be integer class ids, or boolean / floating targets; got dtype {dtype}.",
        )
    shape = ops.static_shape(labels)
    if num_classes is None or not shape or len(shape) < 2 or shape[-1] is None:
        return
    if shape[-1] != num_classes:
        raise user_error(
            ValueError,
            f"`{name}` are floating targets with {shape[-1]} entries on their class (last) "
            f"axis (shape {shape}), but num_classes={num_classes}. Pass num_classes={shape[-1]}, "
            "give one-hot labels of width num_classes, or leave num_classes=None for float "
            "targets (it is only needed to one-hot encode integer class ids).",
        )


def valid_class_ids(labels, num_classes: int, *, ops):
    """bool, shaped like `labels`: the entries that are class ids in `[0, num_classes)`
    (for floating ids: whole numbers in that range; NaN is not)."""
    valid = (labels >= 0) & (labels < num_classes)
    if not is_integer(ops.dtype(labels)):
        valid = valid & (ops.floor(labels) == labels)
    return valid


def ignored(labels, ignore_class: int, *, ops):
    """bool, shaped like `labels`: the pixels labelled `ignore_class`."""
    return labels == ops.cast(ignore_class, ops.dtype(labels))


def first_invalid(labels, valid, *, ops):
    """The first entry of `labels` where `valid` is False (scalar), for error messages."""
    flat = ops.reshape(labels, [-1])
    index = ops.argmax(ops.cast(~ops.reshape(valid, [-1]), "int32"), axis=0)
    return ops.take(flat, index)


def class_id_message(name: str, num_classes: int, dtype: str = "int32") -> str:
    if is_integer(dtype):
        return (
            f"`{name}` must be class ids in [0, num_classes={num_classes}), the width of the "
            "targets; got an id outside that range."
        )
    return (
        f"`{name}` are floating labels ({dtype}) with no class axis, and num_classes="
        f"{num_classes} is given, so they are class ids (Keras preprocessing layers pass "
        f"integer ids on as float32): they must be whole numbers in [0, {num_classes}); got "
        "another value. For regression or binary targets, leave num_classes=None (or None "
        "for this label in a nest, such as num_classes=dict(cls=8, reg=None)); for one-hot "
        f"or soft targets, give them a class axis of width {num_classes}."
    )


INTEGER_LABELS = ("class_ids", "probabilities", "values")


def integer_labels(width, *, binary_loss: bool) -> str:
    """What integer labels are for predictions `width` wide (one of
    `INTEGER_LABELS`): 0/1 "probabilities" for a binary loss, regression "values"
    for any other loss of a one-unit head, "class_ids" otherwise. The one rule of
    `MixupLoss` and `MixupAccuracy` (which, on a one-unit head, thresholds the
    targets this gives)."""
    if binary_loss:
        return "probabilities"
    return "values" if width == 1 else "class_ids"


def check_ids(
    labels,
    num_classes,
    *,
    name: str,
    integers: str = "class_ids",
    per_pixel: bool = False,
    ignore_class: int | None = None,
    ops,
) -> list:
    """Class ids (integer, or floating ones, see `is_class_ids`) that are not whole
    numbers in `[0, num_classes)`, and integer binary labels outside {0, 1}, raise
    where values are known (eager code), naming the first offending value, and by
    an assert op in a TensorFlow graph (returned, for control dependencies);
    XLA-compiled code (`jit_compile=True`, `jax.jit`) gets NaN targets instead
    (`to_float_targets`), because XLA drops assertions.

    Raises:
        ValueError: a label out of range.
    """
    dtype = ops.dtype(labels)
    if integers == "values":
        return []
    if is_integer(dtype) and integers == "probabilities":
        valid = (labels >= 0) & (labels <= 1)
        return ops.check(
            ops.all(valid),
            f"`{name}` must be binary labels (0 or 1) for this binary / multi-label target; "
            "got another value.",
            lambda: first_invalid(labels, valid, ops=ops),
        )
    if (
        integers != "class_ids"
        or num_classes is None
        or not is_class_ids(labels, num_classes, per_pixel=per_pixel, ops=ops)
    ):
        return []
    valid = valid_class_ids(labels, num_classes, ops=ops)
    if ignore_class is not None:
        valid = valid | ignored(labels, ignore_class, ops=ops)
    return ops.check(
        ops.all(valid),
        class_id_message(name, num_classes, dtype),
        lambda: first_invalid(labels, valid, ops=ops),
    )


def targets_for(labels, width, *, name: str, integers: str = "class_ids", ops):
    """float32 targets for predictions `width` wide (a loss's or metric's `y_true`):
    integer labels checked (`check_ids`) and converted as `integers` says (class
    ids one-hot encoded to `width`), floating labels as they are (`to_float_targets`).

    Raises:
        ValueError: as `check_ids` and `check_label`.
    """
    labels = ops.convert(labels)
    check_ids(labels, width, name=name, integers=integers, ops=ops)
    classes = width if is_class_ids(labels, width, ops=ops) else None
    return to_float_targets(labels, classes, name=name, integers=integers, ops=ops)


def to_float_targets(
    labels,
    num_classes,
    *,
    name: str = "labels",
    integers: str = "class_ids",
    per_pixel: bool = False,
    ignore_class: int | None = None,
    ops,
):
    """Converts labels to float32 targets that can be mixed (see the module docstring).

    `integers` says what integer labels are: "class_ids" (one-hot encoded to
    `num_classes`), "probabilities" (binary / multi-label 0/1 labels, cast) or
    "values" (regression values, cast). An id outside `[0, num_classes)`, or a
    binary label outside {0, 1}, gives NaN targets, never a silent all-zero row:
    the fronts raise an error for it wherever values can be checked; inside XLA
    or `jax.jit` the NaN makes the loss NaN. Ids equal to `ignore_class` (the void
    pixels of segmentation masks) become all-zero rows: no class mass, so a mixed
    pixel's targets sum to the weight of its labelled sources.

    Raises:
        as `check_label`.
    """
    if integers not in INTEGER_LABELS:
        raise ValueError(f"`integers` must be one of {INTEGER_LABELS}; got {integers!r}.")
    labels = ops.convert(labels)
    dtype = ops.dtype(labels)
    if is_integer(dtype) and integers == "values":
        return ops.cast(labels, "float32")
    if is_integer(dtype) and integers == "probabilities":
        valid = (labels >= 0) & (labels <= 1)
        return ops.where(valid, ops.cast(labels, "float32"), float("nan"))
    check_label(labels, num_classes, name=name, per_pixel=per_pixel, ops=ops)
    if not is_class_ids(labels, num_classes, per_pixel=per_pixel, ops=ops):
        return ops.cast(labels, "float32")
    shape = ops.static_shape(labels)
    if shape is not None and len(shape) >= 2 and shape[-1] == 1:
        labels = ops.squeeze(labels, axis=-1)
    valid = valid_class_ids(labels, num_classes, ops=ops)
    ids = labels if is_integer(dtype) else ops.cast(ops.where(valid, labels, 0), "int32")
    one_hot = ops.one_hot(ids, num_classes)
    if ignore_class is not None:
        void = ignored(labels, ignore_class, ops=ops)
        # one_hot of an id outside [0, K) is a zero row already; an ignored id inside
        # the range is made one
        one_hot = ops.where(void[..., None], 0.0, one_hot)
        valid = valid | void
    return ops.where(valid[..., None], one_hot, float("nan"))


def is_class_distribution(labels, num_classes, *, lone: bool, ops) -> bool:
    """Whether labels are (or become) a distribution over classes that label
    smoothing applies to: class ids, or floating targets with a class axis wider than
    1 that is `num_classes` wide (any width for a lone label without `num_classes`).
    Binary probabilities `[B]` / `[B, 1]` and regression targets beside class ids are not."""
    labels = ops.convert(labels)
    if is_class_ids(labels, num_classes, ops=ops):
        return True
    shape = ops.static_shape(labels) or ()
    if len(shape) < 2 or shape[-1] is None or shape[-1] < 2:
        return False
    return shape[-1] == num_classes if num_classes is not None else lone


def smooth_labels(targets, label_smoothing: float, *, ops):
    """Szegedy et al.'s label smoothing over the last (class) axis:
    `(1 - eps) * y + eps / num_classes` (eps / K for wrong classes, 1 - eps (K - 1) / K
    for the right one, as in the paper's Table 5). Commutes with mixing."""
    if not label_smoothing:
        return targets
    num_classes = ops.cast(ops.size(targets, -1), "float32")
    return targets * (1.0 - label_smoothing) + label_smoothing / num_classes


def same_class_groups(labels, owner: str, *, ops):
    """Class ids `[batch_size]` of a classification batch, for same-class pairing.

    Integer labels `[B]` or `[B, 1]` are the ids; one-hot / soft labels `[B, C]`
    give their argmax.

    Raises:
        ValueError: labels that are not one class per example (nested labels,
            regression targets of other ranks).
    """
    flat = keras.tree.flatten(labels)
    tensor = ops.convert(flat[0])
    rank, dtype = ops.rank(tensor), ops.dtype(tensor)
    if len(flat) == 1 and is_integer(dtype):
        if rank == 1 or (rank == 2 and ops.static_shape(tensor)[-1] == 1):
            return ops.reshape(ops.cast(tensor, "int32"), [-1])
    if len(flat) == 1 and rank == 2 and (is_floating(dtype) or dtype == "bool"):
        return ops.argmax(ops.cast(tensor, "float32"), axis=-1)
    shapes = [ops.static_shape(ops.convert(t)) for t in flat]
    raise user_error(
        ValueError,
        f"{owner}(pairing='same_class') needs one class per example: integer labels of shape "
        "[batch] or [batch, 1], or one-hot labels of shape [batch, num_classes]; got labels "
        f"of shape(s) {shapes}.",
    )


def pairing_labels(pairing: str, labels, owner: str, *, ops) -> tuple:
    """What a `pairing` reads from the labels, as `(groups, targets)` for the sampler:
    class ids for "same_class" (`same_class_groups`), regression targets for "c_mixup"
    (`regression_targets`), neither for "random"."""
    groups = same_class_groups(labels, owner, ops=ops) if pairing == "same_class" else None
    targets = regression_targets(labels, owner, ops=ops) if pairing == "c_mixup" else None
    return groups, targets


def regression_targets(labels, owner: str, *, ops):
    """The targets `[batch_size, d]` (float32) whose distances C-Mixup's kernel reads:
    one floating label `[B]` or `[B, ...]`, flattened per example.

    Raises:
        ValueError: several labels (the distance between which is undefined; pass
            the one target), or integer labels (class ids: their differences are
            not distances; `pairing="same_class"` pairs within classes).
    """
    flat = keras.tree.flatten(labels)
    tensor = ops.convert(flat[0]) if len(flat) == 1 else None
    if tensor is None or not is_floating(ops.dtype(tensor)) or ops.rank(tensor) < 1:
        if tensor is None:
            described = f"{len(flat)} labels"
        else:
            kind = "integer labels (class ids)" if is_integer(ops.dtype(tensor)) else "labels"
            described = f"{kind} of dtype {ops.dtype(tensor)} and shape {ops.static_shape(tensor)}"
        raise user_error(
            ValueError,
            f"{owner}(pairing='c_mixup') draws partners by the distance between regression "
            "targets, and needs one floating label of shape [batch] or [batch, ...]; got "
            f"{described}. For partners of the same class use pairing='same_class'.",
        )
    return ops.reshape(ops.cast(tensor, "float32"), [ops.size(tensor, 0), -1])

"""Every check of user input in keras_mixup: arguments, elements and batches.

Errors name the argument, the value received and what was expected. Checks that
need shapes and dtypes run when the function is traced (where the user sees the
library's own message at the top of the traceback); checks that need values
(batch sizes known only at run time, class-id ranges) are run-time assertions
built through the ops interface (`keras_mixup.ops`), which callers keep outside
XLA-compiled code where they can.
"""

from __future__ import annotations

import math
import numbers

import keras
import tensorflow as tf

from keras_mixup.ops import TENSORFLOW
from keras_mixup.structures import Batch

TARGET_MODES = ("mixed", "dominant")
PAIRINGS = ("random", "same_class")
ELEMENT_FORMS = "(features, labels) or (features, labels, sample_weight)"


# ---------------------------------------------------------------------- arguments


def user_error(kind: type[Exception], message: str) -> Exception:
    """An exception of `kind` (ValueError, TypeError) about the user's input.

    Marked to pass through TensorFlow's autograph unchanged: raised while
    `dataset.map` traces a transform, it reaches the user as this message on the
    last line of the traceback instead of being rewritten into an
    "in user code:" summary.
    """
    error = kind(message)
    error.ag_pass_through = True
    return error


def validate_alpha(alpha, name: str = "alpha") -> float:
    """Returns `alpha` as a float after checking it is a finite number >= 0.

    Raises:
        ValueError: if `alpha` is negative, NaN or infinite.
        TypeError: if `alpha` is not a real number.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise user_error(
            TypeError,
            f"`{name}` must be a real number >= 0 (the Beta(alpha, alpha) "
            f"concentration); got {alpha!r} of type {type(alpha).__name__}.",
        )
    value = float(alpha)
    if not math.isfinite(value) or value < 0:
        raise user_error(
            ValueError,
            f"`{name}` must be a finite number >= 0 (0 disables mixing, the paper "
            f"uses 0.1 to 32); got {name}={alpha!r}.",
        )
    return value


def validate_probability(value, name: str) -> float:
    """Returns `value` as a float after checking it is a probability in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise user_error(
            TypeError,
            f"`{name}` must be a probability, a real number in [0, 1]; got {value!r} of type "
            f"{type(value).__name__}.",
        )
    if not 0.0 <= float(value) <= 1.0:  # NaN fails too
        raise user_error(
            ValueError, f"`{name}` must be a probability in [0, 1]; got {name}={value!r}."
        )
    return float(value)


def validate_num_mixed(num_mixed) -> int:
    if isinstance(num_mixed, bool) or not isinstance(num_mixed, numbers.Integral):
        raise user_error(
            TypeError,
            f"`num_mixed` must be an integer >= 2 (how many examples mixup combines); got "
            f"{num_mixed!r} of type {type(num_mixed).__name__}.",
        )
    if num_mixed < 2:
        raise user_error(
            ValueError,
            f"`num_mixed` must be an integer >= 2 (2: the paper's pairs; 3 or more: Dirichlet "
            f"weights, the paper's Section 2); got num_mixed={num_mixed}.",
        )
    return int(num_mixed)


def validate_mix_family(num_mixed: int, cutmix_alpha: float) -> None:
    if num_mixed > 2 and cutmix_alpha > 0:
        raise user_error(
            ValueError,
            f"CutMix pastes one partner's box into each example, so it combines pairs; got "
            f"num_mixed={num_mixed} with cutmix_alpha={cutmix_alpha}. Use num_mixed=2 with "
            "CutMix, or cutmix_alpha=0 for k-way mixup.",
        )


def validate_num_classes(num_classes) -> int | None:
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise user_error(
            TypeError,
            f"`num_classes` must be a positive integer or None; got {num_classes!r} of type "
            f"{type(num_classes).__name__}.",
        )
    if num_classes < 1:
        raise user_error(
            ValueError, f"`num_classes` must be a positive integer or None; got {num_classes}."
        )
    return int(num_classes)


def validate_seed(seed) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise user_error(
            TypeError, f"`seed` must be an int or None; got {seed!r} of type {type(seed).__name__}."
        )
    return int(seed)


def validate_target_mode(targets) -> str:
    if targets not in TARGET_MODES:
        raise user_error(
            ValueError,
            f"`targets` must be one of {TARGET_MODES} ('mixed': lam * y_i + (1 - lam) * y_j, "
            "the paper's mixup; 'dominant': the label of the sample with the larger weight, "
            f"the 'mix inputs only' ablation); got targets={targets!r}.",
        )
    return targets


def validate_label_smoothing(label_smoothing) -> float:
    value = float(label_smoothing) if isinstance(label_smoothing, (int, float)) else None
    if value is None or isinstance(label_smoothing, bool) or not 0.0 <= value < 1.0:
        raise user_error(
            ValueError,
            f"`label_smoothing` must be a number in [0, 1) (the paper's Table 5 uses 0.05 to "
            f"0.4); got label_smoothing={label_smoothing!r}.",
        )
    return value


def validate_pairing(pairing) -> str:
    if pairing not in PAIRINGS:
        raise user_error(
            ValueError,
            f"`pairing` must be one of {PAIRINGS} ('random': a random permutation of the "
            "batch, the paper's mixup; 'same_class': a random partner of the same class, the "
            "'SC' rows of Table 5; for nearest-neighbour partners see "
            f"keras_mixup.neighbours); got pairing={pairing!r}.",
        )
    return pairing


def floating_dtype(dtype) -> str:
    """The name of a floating dtype; None means the Keras compute dtype now."""
    if dtype is None:
        dtype = keras.config.dtype_policy().compute_dtype
    try:
        resolved = tf.as_dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or not resolved.is_floating:
        raise user_error(
            ValueError,
            f"`dtype` must be a floating dtype (e.g. 'float32', 'bfloat16') or None for the "
            f"Keras compute dtype; got {dtype!r}.",
        )
    return resolved.name


# ---------------------------------------------------------------------- elements


def _dict_advice(keys: list) -> str:
    """A map function that turns a dict element with these keys into a tuple."""
    label_like = [
        k for k in keys if str(k).lower() in ("label", "labels", "target", "targets", "y")
    ]
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


def parse_element(args: tuple, owner: str) -> tuple[Batch, bool]:
    """Splits a tf.data element into a `Batch`; also says whether it carried
    sample weights (so that the output keeps the input's form).

    Raises:
        ValueError: an element that is not `(features, labels[, sample_weight])`,
            e.g. a single dict or features alone, with advice naming its keys.
    """
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    if len(args) in (2, 3):
        return Batch(*args), len(args) == 3
    if len(args) == 1 and isinstance(args[0], dict):
        keys = sorted(args[0])
        raise user_error(
            ValueError,
            f"{owner} expects elements of the form {ELEMENT_FORMS}; got a single dict with "
            f"keys {keys}, whose labels it cannot tell from its features. Map it to a tuple "
            f"first, e.g. {_dict_advice(keys)}.",
        )
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


def _leaves_with_paths(role: str, structure) -> list[tuple[str, tf.Tensor]]:
    if structure is None:
        return []
    named = []
    for path, tensor in keras.tree.flatten_with_path(structure):
        key = "".join(f"[{part!r}]" for part in path)
        named.append((role + key, tf.convert_to_tensor(tensor)))
    return named


def check_class_ids(labels, num_classes: int, ops=TENSORFLOW, name: str = "labels") -> list:
    """Run-time check that integer labels lie in [0, num_classes).

    `one_hot` silently turns out-of-range ids into all-zero rows; this makes it an
    error wherever values can be checked (see `ops.check`); inside XLA and
    `jax.jit`, `mixing.to_float_targets` makes such rows NaN instead.
    """
    if not ops.dtype(labels).startswith(("int", "uint")):
        return []
    in_range = ops.all((labels >= 0) & (labels < num_classes))
    return ops.check(
        in_range,
        f"`{name}` must be class ids in [0, num_classes={num_classes}), the width of the "
        "targets; got an id outside that range.",
    )


def check_label_width(labels, num_classes: int | None, ops=TENSORFLOW, name: str = "labels"):
    """Floating (one-hot, soft) labels must have `num_classes` entries on their last axis.

    Raises:
        ValueError: the class axis has another static width.
    """
    if num_classes is None or ops.dtype(labels).startswith(("int", "uint")):
        return
    shape = ops.static_shape(labels)
    if shape and len(shape) >= 2 and shape[-1] is not None and shape[-1] != num_classes:
        raise user_error(
            ValueError,
            f"`{name}` are floating targets with {shape[-1]} entries on their class (last) "
            f"axis (shape {shape}), but num_classes={num_classes}. Pass num_classes={shape[-1]}, "
            "give one-hot labels of width num_classes, or leave num_classes=None for float "
            "targets (it is only needed to one-hot encode integer class ids).",
        )


def validate_batch(batch: Batch, owner: str, num_classes: int | None) -> list:
    """Checks ranks, dtypes and batch sizes; returns run-time assert ops (TensorFlow).

    Static problems (a scalar where a batch was expected, a string feature,
    batch sizes that differ in their static shapes, one-hot labels of another
    width than `num_classes`) raise here. Batch sizes known only at run time and
    integer label ranges are checked by the returned assertions, which the
    caller must run outside XLA-compiled code.

    Raises:
        ValueError: unbatched element, mismatched batch sizes, label width.
        TypeError: a feature that cannot be mixed (string, bool).
    """
    leaves = (
        _leaves_with_paths("features", batch.features)
        + _leaves_with_paths("labels", batch.labels)
        + _leaves_with_paths("sample_weight", batch.sample_weight)
    )
    for name, tensor in leaves:
        if tensor.shape.rank == 0:
            raise user_error(
                ValueError,
                f"{owner} mixes whole batches, but `{name}` is a scalar (shape ()): this "
                "element is not batched. Call dataset.batch(batch_size) before mapping "
                f"{owner}.",
            )
        if name.startswith("features") and not (
            tensor.dtype.is_floating or tensor.dtype.is_integer
        ):
            raise user_error(
                TypeError,
                f"{owner} can only mix numeric features; `{name}` has dtype "
                f"{tensor.dtype.name}. Drop or encode it before mixing.",
            )
        if name.startswith("labels"):
            if tensor.dtype.is_integer and num_classes is None:
                raise user_error(
                    ValueError,
                    f"`{name}` are integer class ids (dtype {tensor.dtype.name}, shape "
                    f"{tensor.shape}), so mixup needs `num_classes` to one-hot encode them "
                    "before mixing; pass num_classes=<number of classes>, or give one-hot "
                    "float labels.",
                )
            if not (tensor.dtype.is_integer or tensor.dtype.is_floating or tensor.dtype == tf.bool):
                raise user_error(
                    TypeError,
                    f"`{name}` must be integer class ids, or boolean / floating targets; got "
                    f"dtype {tensor.dtype.name}.",
                )
            check_label_width(tensor, num_classes, name=name)
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
                raise user_error(ValueError, message)
        else:
            same_size = tf.equal(tf.shape(tensor)[0], tf.shape(reference)[0])
            checks += TENSORFLOW.check(same_size, message)
    if num_classes is not None:
        for name, tensor in _leaves_with_paths("labels", batch.labels):
            checks += check_class_ids(tensor, num_classes, name=name)
    return checks


def validated(batch: Batch, owner: str, num_classes: int | None) -> Batch:
    """`batch` after `validate_batch`, its tensors made to depend on the run-time checks."""
    checks = validate_batch(batch, owner, num_classes)
    if not checks:
        return batch
    with tf.control_dependencies(checks):
        return Batch(
            *(None if part is None else tf.nest.map_structure(tf.identity, part) for part in batch)
        )


def cutmix_image_size(features, owner: str, ops=TENSORFLOW) -> tuple:
    """`(H, W)` of the images of a CutMix batch (ints, or scalar tensors when unknown).

    Raises:
        ValueError: a feature of rank < 3 (CutMix needs every feature to be an
            image), or images of different heights or widths.
    """
    leaves = keras.tree.flatten(features)
    sizes = []
    for tensor in leaves:
        tensor = ops.convert(tensor)
        shape = ops.static_shape(tensor)
        if shape is None or len(shape) < 3:
            raise user_error(
                ValueError,
                f"{owner} has cutmix_alpha > 0, which cuts boxes out of images, but a feature "
                f"has shape {shape}; CutMix needs every feature to be an image [batch, height, "
                "width(, channels)] (rank >= 3). Mix other features with mixup only "
                "(cutmix_alpha=0), or drop them.",
            )
        sizes.append(shape[1:3])
    known = {size for size in sizes if None not in size}
    if len(known) > 1:
        raise user_error(
            ValueError,
            f"{owner}: CutMix cuts the same box out of every image of an example, but the "
            f"features have different heights and widths {sorted(known)}.",
        )
    first = ops.convert(leaves[0])
    return ops.size(first, 1), ops.size(first, 2)


def same_class_groups(labels, owner: str, ops=TENSORFLOW):
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
    if len(flat) == 1 and dtype.startswith(("int", "uint")):
        if rank == 1 or (rank == 2 and ops.static_shape(tensor)[-1] == 1):
            return ops.reshape(ops.cast(tensor, "int32"), [-1])
    if len(flat) == 1 and rank == 2 and (dtype.startswith(("float", "bfloat")) or dtype == "bool"):
        return ops.cast(ops.argmax(tensor, axis=-1), "int32")
    shapes = [ops.static_shape(ops.convert(t)) for t in flat]
    raise user_error(
        ValueError,
        f"{owner}(pairing='same_class') needs one class per example: integer labels of shape "
        "[batch] or [batch, 1], or one-hot labels of shape [batch, num_classes]; got labels "
        f"of shape(s) {shapes}.",
    )


# ---------------------------------------------------------------------- other components


def validate_attack(epsilon, clip, steps=1) -> None:
    """FGSM / I-FGSM arguments (keras_mixup.adversarial)."""
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, numbers.Real)
        or not math.isfinite(epsilon)
        or epsilon < 0
    ):
        raise user_error(
            ValueError, f"`epsilon` must be a finite number >= 0; got epsilon={epsilon!r}."
        )
    if clip is not None and not (len(clip) == 2 and clip[0] < clip[1]):
        raise user_error(
            ValueError, f"`clip` must be (low, high) with low < high, or None; got clip={clip!r}."
        )
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise user_error(ValueError, f"`steps` must be a positive integer; got steps={steps!r}.")


def validate_choice(value, name: str, choices) -> None:
    if value not in choices:
        raise user_error(
            ValueError, f"`{name}` must be one of {tuple(choices)}; got {name}={value!r}."
        )


def validate_pairs_pool(x) -> None:
    """`keras_mixup.diagnostics.in_between` draws pairs of distinct examples."""
    if len(x) < 2:
        raise user_error(ValueError, f"`x` needs at least 2 examples to form pairs; got {len(x)}.")


def validate_probabilities(probabilities, labels, num_bins: int) -> None:
    """Calibration inputs: probabilities `[N, classes]`, labels `[N]`, bins >= 1."""
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise user_error(
            ValueError,
            f"`probabilities` must have shape [N, classes] matching `labels` [N]; got "
            f"{probabilities.shape} and {labels.shape}.",
        )
    if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) or num_bins < 1:
        raise user_error(ValueError, f"`num_bins` must be an integer >= 1; got {num_bins!r}.")


def validate_neighbour_count(k, candidates: int, where: str) -> None:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= candidates:
        raise user_error(
            ValueError, f"`k` must be an integer between 1 and {candidates} ({where}); got k={k!r}."
        )


def validate_same_length(what: str, **arrays) -> None:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        names = ", ".join(f"`{name}`" for name in lengths)
        raise user_error(
            ValueError,
            f"{names} must have one row per {what}; got "
            + ", ".join(f"{n} for {name}" for name, n in lengths.items())
            + ".",
        )


def validate_neighbour_table(neighbours, num_examples: int) -> None:
    import numpy as np

    if neighbours.ndim != 2 or not np.issubdtype(neighbours.dtype, np.integer):
        raise user_error(
            ValueError,
            f"`neighbours` must be an integer array [n, k]; got shape {neighbours.shape} and "
            f"dtype {neighbours.dtype}.",
        )
    if neighbours.size and (neighbours.min() < 0 or neighbours.max() >= num_examples):
        raise user_error(
            ValueError,
            f"`neighbours` must hold example indices in [0, {num_examples}); got values in "
            f"[{neighbours.min()}, {neighbours.max()}].",
        )


def validate_class_ids_have_num_classes(labels, num_classes, owner: str) -> None:
    import numpy as np

    if np.issubdtype(np.asarray(labels).dtype, np.integer) and num_classes is None:
        raise user_error(
            ValueError,
            f"`labels` are integer class ids, so {owner} needs `num_classes` to one-hot encode "
            "them before mixing.",
        )


def validate_epoch_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise user_error(ValueError, f"`{name}` must be an integer >= 0; got {name}={value!r}.")
    return int(value)


def validate_schedule_end(off_for_last: int, epochs) -> None:
    if off_for_last and epochs is None:
        raise user_error(
            ValueError,
            f"`off_for_last={off_for_last}` needs `epochs`, the total number of training "
            "epochs, to know where the end is.",
        )


def validate_scheduler(mixers, attribute: str, attributes) -> None:
    """`AlphaScheduler(schedule, *mixers, attribute=...)`."""
    validate_choice(attribute, "attribute", attributes)
    if not mixers:
        raise user_error(
            ValueError, "AlphaScheduler needs at least one MixupTransform or MixupLayer."
        )
    for mixer in mixers:
        if not isinstance(getattr(type(mixer), attribute, None), property):
            raise user_error(
                TypeError,
                f"AlphaScheduler drives the `{attribute}` of MixupTransform and MixupLayer "
                f"objects; got {type(mixer).__name__}.",
            )


def validate_mixable_loss(config: dict) -> None:
    """A sparse cross-entropy that `MixupLoss` turns into a dense one (its config)."""
    if config.get("ignore_class") is not None:
        raise user_error(
            ValueError,
            "MixupLoss cannot mix targets for a SparseCategoricalCrossentropy with "
            f"ignore_class={config['ignore_class']}: mixed targets have no ignored class.",
        )


def validate_layer_reference(layer, is_layer: bool) -> None:
    """`MixupLoss(layer=...)` / `MixupAccuracy(layer=...)`: a MixupLayer or its name."""
    if not (is_layer or isinstance(layer, str)):
        raise user_error(
            TypeError,
            "`layer` must be the MixupLayer whose mixing the targets follow (or its name); "
            f"got {layer!r}.",
        )


def validate_loss_arguments(loss, loss_kwargs: dict) -> None:
    """Extra keyword arguments go with a loss given by name."""
    if loss_kwargs and not isinstance(loss, str):
        raise user_error(
            TypeError,
            f"Extra loss arguments {sorted(loss_kwargs)} can only be given with a loss name.",
        )


def unknown_loss(loss) -> Exception:
    return user_error(
        TypeError, f"`loss` must be a loss name, a keras.losses.Loss or a function; got {loss!r}."
    )

"""Checks of user arguments (Python values): each names the argument, the value
received and what was expected.

Checks of tensors (elements, labels, batch sizes) live with the code that reads
them: `elements.py` (the element parser) and `labels.py` (the label rules).
"""

from __future__ import annotations

import math
import numbers

import keras
import numpy as np

TARGET_MODES = ("mixed", "dominant")
PAIRINGS = ("random", "same_class", "c_mixup")


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


def _is_real(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def _is_integer(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def validate_alpha(alpha, name: str = "alpha") -> float:
    """Returns `alpha` as a float after checking it is a finite number >= 0.

    Raises:
        ValueError: if `alpha` is negative, NaN or infinite.
        TypeError: if `alpha` is not a real number.
    """
    if not _is_real(alpha):
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
    if not _is_real(value):
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


def validate_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise user_error(TypeError, f"`{name}` must be True or False; got {value!r}.")
    return bool(value)


def validate_num_mixed(num_mixed) -> int:
    if not _is_integer(num_mixed):
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


def validate_image_shape(
    shape, owner: str, *, channels_first: bool = False, alphas: tuple = ("cutmix_alpha",)
) -> None:
    """A feature that a per-pixel rule (the methods turned on by `alphas`, e.g.
    CutMix's box) or bounding boxes need to be an image: `shape` (a tuple with None
    where unknown, or None) of rank >= 3, or exactly 4 channels first (`[B, C, H, W]`)."""
    if shape is not None and len(shape) >= 3 and (not channels_first or len(shape) == 4):
        return
    layout = (
        "[batch, channels, height, width]"
        if channels_first
        else "[batch, height, width(, channels)] (rank >= 3)"
    )
    raise user_error(
        ValueError,
        f"{owner} needs images here (the per-pixel rule of the methods of "
        f"{', '.join(alphas)} > 0, or bounding boxes), but a feature has shape {shape}; "
        f"every feature must then be an image {layout}. Mix other features with mixup "
        f"only ({' = '.join(alphas)} = 0), or drop them.",
    )


def validate_int_range(value, name: str, *, minimum: int) -> tuple[int, int]:
    """`(low, high)`: two integers with `minimum <= low <= high` (an inclusive range)."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(_is_integer(v) for v in value)
    ):
        raise user_error(
            TypeError,
            f"`{name}` must be a pair of integers (low, high), an inclusive range; got {value!r}.",
        )
    low, high = int(value[0]), int(value[1])
    if not minimum <= low <= high:
        raise user_error(
            ValueError,
            f"`{name}` must be (low, high) with {minimum} <= low <= high; got {name}={value!r}.",
        )
    return (low, high)


def _interval(low: float, high: float, open_low: bool) -> str:
    return f"{'(' if open_low else '['}{low}, {high}]"


def validate_real_in(value, name: str, low: float, high: float, *, open_low=False) -> float:
    """`value` as a float after checking it is a real number in `[low, high]` (or
    `(low, high]` with `open_low`; `high` may be infinite)."""
    interval = _interval(low, high, open_low)
    if not _is_real(value):
        raise user_error(
            TypeError,
            f"`{name}` must be a real number in {interval}; got {value!r} of type "
            f"{type(value).__name__}.",
        )
    value = float(value)
    if not (low < value if open_low else low <= value) or not value <= high:  # NaN fails
        raise user_error(ValueError, f"`{name}` must be in {interval}; got {name}={value!r}.")
    return value


def validate_real_range(value, name: str, low: float, high: float) -> tuple[float, float]:
    """`(a, b)`: two real numbers with `low < a <= b <= high` (a range of values)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(map(_is_real, value)):
        raise user_error(
            TypeError, f"`{name}` must be a pair of real numbers (low, high); got {value!r}."
        )
    a, b = float(value[0]), float(value[1])
    if not low < a <= b <= high:
        raise user_error(
            ValueError,
            f"`{name}` must be (a, b) with {low} < a <= b <= {high}; got {name}={value!r}.",
        )
    return (a, b)


def static_number(value) -> float | None:
    """`value` as a Python float where it is known now (a Python or NumPy number, a 0-d
    NumPy array), None where it is a tensor (known only when the computation runs)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return float(value) if _is_real(value) else None


def validate_mix_family(num_mixed: int, alpha, name: str, method: str) -> None:
    """k-way mixing (`num_mixed > 2`) and a method that mixes pairs only (`method`,
    e.g. "CutMix", turned on by the option `name`, e.g. "cutmix_alpha") do not
    combine. `alpha`: None (not used), a number (0: not used) or a tensor (traced)."""
    known = None if alpha is None else static_number(alpha)
    pastes = alpha is not None and (known is None or known > 0)
    if num_mixed > 2 and pastes:
        raise user_error(
            ValueError,
            f"{method} mixes one partner's pixels into each example, so it combines pairs; "
            f"got num_mixed={num_mixed} with {name}={alpha} ({method} on). Use num_mixed=2 "
            f"with {method}, or leave {method} out for k-way mixup.",
        )


def validate_num_classes(num_classes):
    """`num_classes`: None, a positive int, or a nest (dict, list, tuple) of those
    matching the labels' structure (`{"cls": 8, "box": None}`)."""
    if num_classes is None:
        return None
    if isinstance(num_classes, dict):
        return {key: validate_num_classes(value) for key, value in num_classes.items()}
    if isinstance(num_classes, (list, tuple)):
        return type(num_classes)(validate_num_classes(value) for value in num_classes)
    if not _is_integer(num_classes):
        raise user_error(
            TypeError,
            f"`num_classes` must be a positive integer, None, or a nest of those matching the "
            f"labels (e.g. {{'cls': 8, 'box': None}}); got {num_classes!r} of type "
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
    if not _is_integer(seed):
        raise user_error(
            TypeError, f"`seed` must be an int or None; got {seed!r} of type {type(seed).__name__}."
        )
    return int(seed)


def validate_choice(value, name: str, choices, meaning: str = "") -> str:
    if value not in choices:
        raise user_error(
            ValueError,
            f"`{name}` must be one of {tuple(choices)}{meaning}; got {name}={value!r}.",
        )
    return value


def validate_target_mode(targets) -> str:
    return validate_choice(
        targets,
        "targets",
        TARGET_MODES,
        " ('mixed': lam * y_i + (1 - lam) * y_j, the paper's mixup; 'dominant': the label "
        "of the sample with the larger weight, the 'mix inputs only' ablation)",
    )


def validate_pairing(pairing) -> str:
    return validate_choice(
        pairing,
        "pairing",
        PAIRINGS,
        " ('random': a random permutation of the batch, the paper's mixup; 'same_class': a "
        "random partner of the same class, the 'SC' rows of Table 5; 'c_mixup': a partner "
        "drawn by a Gaussian kernel of the distance between regression targets, Yao et al. "
        "2022; for nearest-neighbour partners see keras_mixup.neighbours)",
    )


def validate_ignore_class(ignore_class) -> int | None:
    """None, or the id (an int >= 0, e.g. 255) of the pixels that segmentation masks
    leave unlabelled."""
    if ignore_class is None:
        return None
    if isinstance(ignore_class, bool) or not isinstance(ignore_class, (int, np.integer)):
        raise user_error(
            TypeError,
            f"`ignore_class` must be None or an integer class id (e.g. 255, the 'void' label "
            f"of VOC-style masks); got {ignore_class!r}.",
        )
    if ignore_class < 0:
        raise user_error(
            ValueError, f"`ignore_class` must be a class id >= 0; got ignore_class={ignore_class}."
        )
    return int(ignore_class)


def validate_label_smoothing(label_smoothing) -> float:
    if not _is_real(label_smoothing) or not 0.0 <= float(label_smoothing) < 1.0:
        raise user_error(
            ValueError,
            f"`label_smoothing` must be a number in [0, 1) (the paper's Table 5 uses 0.05 to "
            f"0.4); got label_smoothing={label_smoothing!r}.",
        )
    return float(label_smoothing)


def validate_data_format(data_format) -> str:
    """Keras's `data_format`; None means `keras.config.image_data_format()`."""
    if data_format is None:
        data_format = keras.config.image_data_format()
    return validate_choice(
        data_format,
        "data_format",
        ("channels_last", "channels_first"),
        " (images [B, H, W, C] or [B, C, H, W])",
    )


def floating_dtype(dtype) -> str:
    """The name of a floating dtype; None means the Keras compute dtype now."""
    if dtype is None:
        dtype = keras.config.dtype_policy().compute_dtype
    try:
        name = keras.backend.standardize_dtype(dtype)
    except (TypeError, ValueError):
        name = None
    if name is None or not name.startswith(("float", "bfloat")):
        raise user_error(
            ValueError,
            f"`dtype` must be a floating dtype (e.g. 'float32', 'bfloat16') or None for the "
            f"Keras compute dtype; got {dtype!r}.",
        )
    return name


# ---------------------------------------------------------------------- other components


def validate_attack(epsilon, clip, steps=1) -> None:
    """FGSM / I-FGSM arguments (keras_mixup.adversarial)."""
    if not _is_real(epsilon) or not math.isfinite(epsilon) or epsilon < 0:
        raise user_error(
            ValueError, f"`epsilon` must be a finite number >= 0; got epsilon={epsilon!r}."
        )
    if clip is not None and not (len(clip) == 2 and clip[0] < clip[1]):
        raise user_error(
            ValueError, f"`clip` must be (low, high) with low < high, or None; got clip={clip!r}."
        )
    if not _is_integer(steps) or steps < 1:
        raise user_error(ValueError, f"`steps` must be a positive integer; got steps={steps!r}.")


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
    if not _is_integer(num_bins) or num_bins < 1:
        raise user_error(ValueError, f"`num_bins` must be an integer >= 1; got {num_bins!r}.")


def validate_neighbour_count(k, candidates: int, where: str) -> None:
    if not _is_integer(k) or not 1 <= k <= candidates:
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


def validate_epoch_count(value, name: str) -> int:
    if not _is_integer(value) or value < 0:
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


def validate_loss_arguments(loss, loss_kwargs: dict) -> None:
    """Extra keyword arguments go with a loss given by name."""
    if loss_kwargs and not isinstance(loss, str):
        raise user_error(
            TypeError,
            f"Extra loss arguments {sorted(loss_kwargs)} can only be given with a loss name.",
        )


def validate_layer_reference(layer, is_layer: bool) -> None:
    """`MixupLoss(layer=...)` / `MixupAccuracy(layer=...)`: a MixupLayer or its name."""
    if not (is_layer or isinstance(layer, str)):
        raise user_error(
            TypeError,
            "`layer` must be the MixupLayer whose mixing the targets follow (or its name); "
            f"got {layer!r}.",
        )


def validate_shares(value, count: int, name: str, items: str, owner: str) -> list:
    """`value` as `count` floats, each item's share of a random choice (`method_probs`,
    `point_probs`): finite numbers >= 0, not all 0 (they are normalised); None: equal."""
    if value is None:
        return [1.0 / count] * count
    values = list(value) if hasattr(value, "__iter__") else None
    if (
        values is None
        or len(values) != count
        or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
        or not all(math.isfinite(v) and v >= 0 for v in values)
        or sum(values) <= 0
    ):
        raise user_error(
            ValueError,
            f"{owner}: `{name}` must give each of the {count} {items} a finite number >= 0, "
            f"not all 0 (they are normalised); got {name}={value!r}.",
        )
    return [float(v) for v in values]

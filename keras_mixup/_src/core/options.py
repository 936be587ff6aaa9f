"""The option table: every option of a mixer, once, for both fronts.

`OPTIONS` holds each option's name, default, whether it is a run-time value (kept
in a variable that traced code reads, so a schedule may change it without a
retrace) or fixed at build time, its check, and one line of documentation: the
mixing methods' own options (`methods/<method>.py`) and the core's
(`CORE_OPTIONS`). `MixSpec` validates with it; the fronts keep explicit
signatures and docstrings (IDE help), and `tests/core/test_options.py` checks them
against it.
"""

from __future__ import annotations

import sys

from keras_mixup._src.core import boxes
from keras_mixup._src.core.methods import METHODS, Option
from keras_mixup._src.core.validation import (
    validate_bool,
    validate_data_format,
    validate_ignore_class,
    validate_label_smoothing,
    validate_num_classes,
    validate_pairing,
    validate_probability,
    validate_real_in,
    validate_target_mode,
)


def _unnamed(check):
    """A check that names its option itself, as an `Option.validate`."""
    return lambda value, name: check(value)


def _validate_method_probs(value, name):
    """None (the `switch_prob` rule) or each registered method's probability, in the
    registry's order (`composition.compose` builds it from the methods listed)."""
    if value is None:
        return None
    shares = tuple(float(v) for v in value)
    if len(shares) != len(METHODS) or not all(0 <= v < float("inf") for v in shares):
        raise ValueError(f"`{name}` must give {len(METHODS)} numbers >= 0; got {value!r}.")
    return shares


CORE_OPTIONS: tuple[Option, ...] = (
    Option(
        "switch_prob",
        0.5,
        runtime=True,
        validate=validate_probability,
        doc="the probability of a method that pastes pixels (CutMix, GridMix, FMix, SmoothMix, "
        "ResizeMix; "
        "split equally among those on) instead of mixup, when mixup is on too",
    ),
    Option(
        "method_probs",
        None,
        runtime=False,
        validate=_validate_method_probs,
        doc="each method's probability of being chosen, normalised over the methods on "
        "(None: switch_prob's rule)",
    ),
    Option(
        "prob",
        1.0,
        runtime=True,
        validate=validate_probability,
        doc="the probability that a batch (an example, with per_example) is mixed at all",
    ),
    Option(
        "per_example",
        False,
        runtime=False,
        validate=validate_bool,
        doc="one draw per example instead of one per batch",
    ),
    Option(
        "num_classes",
        None,
        runtime=False,
        validate=_unnamed(validate_num_classes),
        doc="the number of classes of integer labels (one-hot encoded before mixing)",
    ),
    Option(
        "targets",
        "mixed",
        runtime=False,
        validate=_unnamed(validate_target_mode),
        doc="'mixed' targets (the paper) or the 'dominant' source's label",
    ),
    Option(
        "pairing",
        "random",
        runtime=False,
        validate=_unnamed(validate_pairing),
        doc="partners from a random permutation ('random'), of the same class, or by "
        "C-Mixup's kernel of the label distance ('c_mixup')",
    ),
    Option(
        "c_mixup_bandwidth",
        1.0,
        runtime=False,
        validate=lambda value, name: validate_real_in(
            value, name, 0.0, sys.float_info.max, open_low=True
        ),
        doc="the bandwidth (in the targets' units) of C-Mixup's Gaussian kernel",
    ),
    Option(
        "label_smoothing",
        0.0,
        runtime=False,
        validate=_unnamed(validate_label_smoothing),
        doc="label smoothing of one-hot encoded targets before mixing",
    ),
    Option(
        "ignore_class",
        None,
        runtime=False,
        validate=_unnamed(validate_ignore_class),
        doc="the id of unlabelled pixels of segmentation masks (e.g. 255)",
    ),
    Option(
        "mix_across_devices",
        False,
        runtime=False,
        validate=validate_bool,
        doc="partners from the global batch instead of each device's shard",
    ),
    Option(
        "bounding_box_format",
        None,
        runtime=False,
        validate=_unnamed(boxes.validate_format),
        doc="the format of the element's bounding boxes (Keras's names)",
    ),
    Option(
        "min_box_visibility",
        0.1,
        runtime=False,
        validate=validate_probability,
        doc="the share of a box's area that must still show its own source",
    ),
    Option(
        "data_format",
        None,
        runtime=False,
        validate=_unnamed(validate_data_format),
        doc="'channels_last' or 'channels_first' images (None: Keras's setting)",
    ),
)

OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (*[o for method in METHODS for o in method.options], *CORE_OPTIONS)
}

# The run-time options, in the order their variables are saved (a layer's weights): those
# of 0.2.0 first, then the others in the table's order (a new method's alpha after the
# rest), so that saved models keep loading.
_RUNTIME_020 = ("alpha", "cutmix_alpha", "switch_prob", "prob")
RUNTIME: tuple[str, ...] = _RUNTIME_020 + tuple(
    name for name, option in OPTIONS.items() if option.runtime and name not in _RUNTIME_020
)
assert set(RUNTIME) == {name for name, o in OPTIONS.items() if o.runtime}
RUNTIME_DOCS = {name: OPTIONS[name].doc for name in RUNTIME}


# What a front does not take: the transform mixes whole batches where they are made
# (no devices to mix across); the layer's targets are mixed by MixupLoss, which has
# its own label smoothing, and pairing by the labels (same class, C-Mixup) needs
# the labels in the data.
_NOT_TAKEN = {
    "transform": ("mix_across_devices",),
    "layer": ("pairing", "c_mixup_bandwidth", "label_smoothing"),
}


def options_of(front: str) -> tuple[str, ...]:
    """The core's options that a front ("transform" or "layer") takes as keywords of its
    own; the methods' options and the choice among them (`method_probs`, `switch_prob`)
    come through `composition.py` (`methods=[...]`, or the shortcuts)."""
    composed = ("switch_prob", "method_probs")
    return tuple(
        name
        for name, option in OPTIONS.items()
        if option.owner == "core" and name not in composed and name not in _NOT_TAKEN[front]
    )

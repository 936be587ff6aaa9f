"""`MixSpec`: the one description of a mixer, and the variables its fronts read.

Every front (`MixupTransform`, `MixupLayer` and, through the layer, `MixupLoss`
and `MixupAccuracy`; `NeighbourMixup`) holds a `MixSpec`: one frozen value with
every option and the current run-time values, validated once, that gives its
part of `get_config` and offers the three operations a front needs:

- `draw(seed, parts, values)`: the parameters of a batch (`sampler.py`);
- `apply(parts, params)`: those parameters applied to an element (`mixing.py`);
- `mix_targets(params, y_true, ...)`: the targets of a loss or metric mixed the
  way the layer mixed the inputs.

Run-time values (`options.RUNTIME`: alpha, switch_prob, prob, each method's alpha) are also
kept in variables that traced code reads (the fronts' `runtime.RuntimeVariables`), so that
changing them needs no retrace: assigning `front.alpha` replaces the front's spec with a
validated copy and assigns the variables. A spec itself holds no state and makes no
variables; drawing on the host and mixing eagerly is the fronts' too (`fronts/eager.py`).

Adding an option: a method's option is its row in the method's `options` (the field
here follows); a core option is its row in the option table (`options.py`), a field here
with the table's default, its use in `draw` / `apply` or the core, and the fronts'
signatures and docstrings (`tests/core/test_options.py` checks them against the table).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from keras_mixup._src.core import boxes, mixing
from keras_mixup._src.core import labels as label_rules
from keras_mixup._src.core.elements import batch_size_of, check_parts, image_size_of
from keras_mixup._src.core.methods import METHODS
from keras_mixup._src.core.options import OPTIONS, RUNTIME
from keras_mixup._src.core.sampler import (
    draw_mix_params,
    method_options,
    source_count,
    traced_methods,
)
from keras_mixup._src.core.structures import MixParams, Parts
from keras_mixup._src.core.validation import user_error, validate_mix_family


def _with_method_options(cls):
    """`cls` with a field per option of the methods (`Method.options`: `alpha`,
    `cutmix_alpha`, `gridmix_holes`, ...), defaulting to the option's default, ahead of
    its own fields: a method's options are declared once, in its module."""
    own = dict(cls.__annotations__)
    cls.__annotations__ = {}
    for option in (option for method in METHODS for option in method.options):
        cls.__annotations__[option.name] = "Any"
        setattr(cls, option.name, option.default)
    cls.__annotations__.update(own)
    return cls


@dataclasses.dataclass(frozen=True)
@_with_method_options
class MixSpec:
    """Every option of a mixer (see `MixupTransform` for their meaning): a field per
    option of the methods (`alpha`, `cutmix_alpha`, ...; `_with_method_options`) and the
    core's below.

    `built_alpha` and `built_alphas` are not options: `built_alpha` is mixup's alpha when
    built (what `config` and `AlphaScheduler` turn mixup back on with); `built_alphas`
    records which methods' code is part of the traced computation (CutMix, GridMix, ...),
    which is decided by their alphas at construction (`cutmix_alpha > 0`, ...). `replace`
    keeps both, so that a schedule can take an alpha to 0 and back without retracing.
    """

    switch_prob: float = OPTIONS["switch_prob"].default
    method_probs: tuple | None = OPTIONS["method_probs"].default
    prob: float = OPTIONS["prob"].default
    per_example: bool = OPTIONS["per_example"].default
    num_classes: Any = OPTIONS["num_classes"].default
    targets: str = OPTIONS["targets"].default
    pairing: str = OPTIONS["pairing"].default
    c_mixup_bandwidth: float = OPTIONS["c_mixup_bandwidth"].default
    label_smoothing: float = OPTIONS["label_smoothing"].default
    ignore_class: int | None = OPTIONS["ignore_class"].default
    mix_across_devices: bool = OPTIONS["mix_across_devices"].default
    bounding_box_format: str | None = OPTIONS["bounding_box_format"].default
    min_box_visibility: float = OPTIONS["min_box_visibility"].default
    data_format: str | None = OPTIONS["data_format"].default
    # set once: ((alpha option, its value when first built), ...) of the methods after mixup
    built_alphas: tuple | None = None
    # set once: mixup's alpha when first built (a schedule may take it to 0 and back)
    built_alpha: float | None = None

    def __post_init__(self):
        def set_(name, value):
            object.__setattr__(self, name, value)

        for name, option in OPTIONS.items():  # the table's checks (options.py)
            set_(name, option.check(getattr(self, name)))
        if self.built_alpha is None:
            set_("built_alpha", self.alpha)
        if self.built_alphas is None:
            alphas = tuple((m.alpha, getattr(self, m.alpha)) for m in METHODS[1:])
            for method in METHODS:
                if method.pairs_only:
                    validate_mix_family(
                        self.num_mixed, getattr(self, method.alpha), method.alpha, method.title
                    )
            set_("built_alphas", alphas)
        if self.method_probs is not None and self.switch_prob != OPTIONS["switch_prob"].default:
            raise user_error(
                ValueError,
                f"`switch_prob` chooses between mixup and CutMix of the shortcuts; this mixer "
                f"was built with methods=[...] and chooses by `method_probs` "
                f"({self.method_probs!r} in the registry's order); got "
                f"switch_prob={self.switch_prob!r}. Build it with the method_probs you want.",
            )
        for name, at_build in self.built_alphas:
            if getattr(self, name) > 0 and not at_build > 0:
                raise user_error(
                    ValueError,
                    f"`{name}` can only be scheduled on a mixer built with {name} > 0 (the "
                    f"method's code is traced only then); got {name}={getattr(self, name)!r} "
                    f"for a mixer built with {name}=0. Build it with the schedule's first "
                    "positive value and start the schedule at 0 if needed.",
                )

    def traces(self, alpha: str) -> bool:
        """Whether the method turned on by the option `alpha` (e.g. "cutmix_alpha") is
        traced: fixed by the value built with (a schedule may later set it to 0, not
        raise it from 0)."""
        return dict(self.built_alphas).get(alpha, 1.0) > 0

    @property
    def cutting_methods(self) -> tuple:
        """The traced methods that mix by a per-pixel rule (CutMix, GridMix, FMix,
        SmoothMix, ResizeMix, Mosaic), in the registry's order."""
        return tuple(m for m in METHODS if m.cuts and self.traces(m.alpha))

    @property
    def num_sources(self) -> int:
        """How many images a mixed example may show (`num_mixed`; 4 with Mosaic traced):
        the number of sources whose boxes a mixed element carries (`[B, k N, 4]`)."""
        return source_count(self.num_mixed, traced_methods(dict(self.built_alphas)))

    @property
    def cuts(self) -> bool:
        """Whether a method that mixes by a per-pixel rule is traced: the images' size
        is then needed, and masked sequences are refused."""
        return bool(self.cutting_methods)

    @property
    def reads_batch(self) -> bool:
        """Whether a traced method's draw reads the batch's images (SaliencyMix): a
        front drawing on the host then reads them there."""
        return any(m.reads_batch for m in self.cutting_methods)

    @property
    def soft(self) -> bool:
        """Whether a traced method may mix two sources in one pixel (SmoothMix; FMix
        with `fmix_max_soft > 0`)."""
        options = method_options(vars(self))
        return any(m.soft(options) for m in self.cutting_methods)

    def replace(self, **changes) -> MixSpec:
        """A validated copy with `changes` (CutMix stays traced or not, as built)."""
        return dataclasses.replace(self, **changes)

    def config(self, *names: str) -> dict:
        """The options `names` (default: all) as `get_config` entries."""
        fields = [f.name for f in dataclasses.fields(self) if not f.name.startswith("built_")]
        config = {name: getattr(self, name) for name in names or fields}
        for name, at_build in (("alpha", self.built_alpha), *self.built_alphas):
            if name in config and at_build > 0 and config[name] == 0:
                # scheduled to 0: the value it was built with, so that a mixer built from
                # this config traces the method too and a schedule can turn it back on (a
                # layer's variables then restore the 0)
                config[name] = at_build
        return config

    def runtime_values(self) -> dict:
        """The run-time values as Python floats (where no variable is needed)."""
        return {name: getattr(self, name) for name in RUNTIME}

    # ---------------------------------------------------------------- the operations

    @property
    def pastes_whole_pixels(self) -> bool:
        """Whether every pixel of a mixed example comes whole from one source, as
        built: methods that paste whole pixels (CutMix, GridMix, FMix without soft
        edges) without mixup (`alpha=0`), or `targets="dominant"`. Segmentation masks
        then keep their dtype and values (no `num_classes` for them needed; an ignore
        label such as 255 stays 255)."""
        whole = self.cuts and self.alpha == 0 and not self.soft
        return self.targets == "dominant" or whole

    @property
    def channels_first(self) -> bool:
        return self.data_format == "channels_first"

    def classes_for(self, parts: Parts) -> tuple:
        """`num_classes` for the labels and for the segmentation masks of an element:
        `{"labels": K, "segmentation_masks": M}` gives each its own with Keras's dict; a
        single int applies to both (to integer ones among several labels)."""
        classes = self.num_classes
        if (
            isinstance(classes, dict)
            and set(classes) <= {"labels", "segmentation_masks"}
            and not isinstance(parts.labels, dict)
        ):
            return classes.get("labels"), classes.get("segmentation_masks")
        return classes, classes if isinstance(classes, int) else None

    def image_size(self, parts: Parts, owner: str, *, ops) -> tuple:
        alphas = tuple(m.alpha for m in self.cutting_methods) or ("cutmix_alpha",)
        return image_size_of(
            parts.features, owner, channels_first=self.channels_first, alphas=alphas, ops=ops
        )

    def check(self, parts: Parts, owner: str, *, ops) -> list:
        """`elements.check_parts` with this spec's classes, and the boxes' format."""
        if parts.bounding_boxes is not None and self.bounding_box_format is None:
            raise user_error(
                ValueError,
                f"{owner} got an element with 'bounding_boxes' but no `bounding_box_format`; "
                f"pass the format of its boxes, one of {boxes.FORMATS} (e.g. "
                "bounding_box_format='xyxy'), as for Keras's preprocessing layers.",
            )
        label_classes, mask_classes = self.classes_for(parts)
        if self.pastes_whole_pixels and mask_classes is None:
            parts = parts._replace(segmentation_masks=None)  # kept as they are
        return check_parts(
            parts, owner, label_classes, mask_classes, ignore_class=self.ignore_class, ops=ops
        )

    def active(self, values):
        """Whether anything can be mixed with these run-time values (bool tensor)."""
        active = values["alpha"] > 0
        for method in METHODS[1:]:
            if self.traces(method.alpha):
                active = active | (values[method.alpha] > 0)
        return active & (values["prob"] > 0)

    def draw(
        self, seed, parts: Parts, values: dict, *, owner: str, ops, data_ops=None, shards=1
    ) -> MixParams:
        """The parameters for a batch of these `parts`, drawn from `seed` (two
        integers) with the run-time `values` (tensors or floats by name).

        `ops` draws; `data_ops` (default `ops`) reads the parts' shapes and class
        ids: a model running eagerly draws with the NumPy binding on the host from
        the shapes of its backend tensors, and moves the few parameters once.
        `shards` > 1: partners and parameters per shard of the batch
        (`sampling.draw_mix_params`).
        """
        data_ops = data_ops or ops
        groups, targets = label_rules.pairing_labels(
            self.pairing, parts.labels, owner, ops=data_ops
        )
        image_size = self.image_size(parts, owner, ops=data_ops) if self.cuts else None
        images = None
        if self.reads_batch:  # the first feature (all are images of one size), channels last
            images = ops.convert(keras.tree.flatten(parts.features)[0])
            if ops.rank(images) == 3:  # [B, H, W]: one channel
                images = images[..., None]
            elif self.channels_first:
                images = ops.transpose(images, [0, 2, 3, 1])
        return draw_mix_params(
            seed,
            batch_size_of(parts, ops=data_ops),
            values,
            methods=traced_methods(dict(self.built_alphas)),
            per_example=self.per_example,
            num_mixed=self.num_mixed,
            options=method_options(vars(self)),
            image_size=image_size,
            groups=groups,
            targets=targets,
            bandwidth=self.c_mixup_bandwidth,
            shards=shards,
            method_probs=self.method_probs,
            images=images,
            ops=ops,
        )

    def apply(
        self,
        parts: Parts,
        params: MixParams | None,
        *,
        feature_dtype: str,
        floating_dtype: str | None = None,
        partners=None,
        shards: int = 1,
        boxes_as_mixed: bool = True,
        ops,
    ) -> Parts:
        """`parts` mixed with `params` (None: converted only, not mixed). Features come
        out as `mixing.mix_parts` says (`feature_dtype`, `floating_dtype`). Bounding boxes
        come out in the mixed shape `[B, k N, 4]` also when not mixed, unless
        `boxes_as_mixed=False` (inference: the boxes as they are)."""
        label_classes, mask_classes = self.classes_for(parts)
        mixed = mixing.mix_parts(
            parts,
            params,
            num_classes=label_classes,
            mask_classes=mask_classes,
            keep_masks=self.pastes_whole_pixels,
            ignore_class=self.ignore_class,
            feature_dtype=feature_dtype,
            floating_dtype=floating_dtype,
            targets=self.targets,
            label_smoothing=self.label_smoothing,
            partners=partners,
            shards=shards,
            channels_first=self.channels_first,
            ops=ops,
        )
        if parts.bounding_boxes is None or (params is None and not boxes_as_mixed):
            return mixed
        if params is None:
            mixed_boxes = boxes.unmixed_boxes(parts.bounding_boxes, self.num_sources, ops=ops)
        else:
            mixed_boxes = boxes.mix_boxes(
                parts.bounding_boxes,
                params,
                bounding_box_format=self.bounding_box_format,
                image_size=self.image_size(parts, "Mixing bounding boxes", ops=ops),
                min_box_visibility=self.min_box_visibility,
                partner_rows=lambda t, p: mixing.partner_rows(t, p, shards=shards, ops=ops),
                ops=ops,
            )
        return mixed._replace(bounding_boxes=mixed_boxes)

    def mix(
        self,
        parts: Parts,
        seed,
        values: dict,
        *,
        owner: str,
        feature_dtype: str,
        floating_dtype: str | None = None,
        ops,
    ):
        """Draw and apply in one: `parts` mixed with parameters from `seed`, or only
        converted when nothing can be mixed with these `values` (alpha 0, ...)."""
        dtypes = {"feature_dtype": feature_dtype, "floating_dtype": floating_dtype}

        def mixed():
            params = self.draw(seed, parts, values, owner=owner, ops=ops)
            return self.apply(parts, params, **dtypes, ops=ops)

        def converted():
            return self.apply(parts, None, **dtypes, ops=ops)

        return ops.cond(self.active(values), mixed, converted)

    def mix_targets(
        self,
        params: MixParams | None,
        y_true,
        *,
        width,
        integers: str,
        sample_weight,
        name,
        shards=1,
        ops,
    ):
        """`y_true` (and `sample_weight`) as float32 targets mixed like the inputs.

        Integer labels are checked, then converted as `integers` says
        (`labels.targets_for`): class ids one-hot encoded to `width` (the width of the
        predictions), binary probabilities or values cast. Floating targets are used as they are.
        `params=None`: not mixed (inference).
        """
        y_true = ops.convert(y_true)
        # per-pixel targets of channels-first images: mixed channels last, given back as given
        channels_first = self.channels_first and (ops.rank(y_true) or 0) == 4
        if channels_first:
            y_true = ops.transpose(y_true, [0, 2, 3, 1])
        targets = label_rules.targets_for(y_true, width, name=name, integers=integers, ops=ops)
        weights = None if sample_weight is None else ops.cast(ops.convert(sample_weight), "float32")
        if params is not None:
            targets = mixing.mix_targets(targets, params, self.targets, shards=shards, ops=ops)
            if weights is not None:
                weights = mixing.mix_targets(
                    weights, params, self.targets, shards=shards, per_pixel_rank=3, ops=ops
                )
        if channels_first:
            targets = ops.transpose(targets, [0, 3, 1, 2])
        return targets, weights

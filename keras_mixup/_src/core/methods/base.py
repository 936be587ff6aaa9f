"""The interface every mixing method answers (`Method`), and its parts.

A mixing method (mixup, CutMix, ...) is one module of this package that defines one
`Method`: the options it adds to a mixer, the random streams it draws from, how many
words it needs and how it turns them into a `Draw`. The sampler (`_src/core/sampler.py`)
draws the partners, `prob` and the choice among the methods once, for all of them,
and asks each method that is part of the traced computation for its draw; the
registry (`methods/__init__.py`) lists the methods in the order the choice numbers
them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

from keras_mixup._src.core.validation import user_error, validate_alpha, validate_real_range


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a mixer, as both fronts (`MixupTransform`, `MixupLayer`) and
    `MixSpec` take it.

    Attributes:
        name: the field of `MixSpec` (and the fronts' keyword, for the core's options
            and the shortcuts).
        default: its value where the mixer does not set it (a method's alpha: 0, off).
        runtime: True: a run-time value, kept in a variable that traced code reads
            (assigning it needs no retrace, `AlphaScheduler` may schedule it);
            False: fixed when the mixer is built.
        validate: `(value, name) -> value`, the validated (normalised) value; raises
            the library's error naming the option as `name`.
        doc: one line for the docs and the run-time properties.
        owner: the method that adds it, or "core".
        argument: a method's option: its keyword in the method's public class
            (`MixingMethod`), e.g. "holes" for "gridmix_holes".
    """

    name: str
    default: Any
    runtime: bool
    validate: Callable[[Any, str], Any]
    doc: str
    owner: str = "core"
    argument: str | None = None

    def check(self, value, name: str | None = None):
        """`value` validated, an error naming it `name` (default: the option's name)."""
        return self.validate(value, name or self.name)


class Draw(NamedTuple):
    """What one method drew for every draw of a batch (one per batch, per shard or per
    example): float32 `[n]` weights of the example itself and of its first partner
    (its target weights: for a method that pastes pixels, the realised shares of the
    sources' pixels), the further partners' weights (`[k - 2, n]`, k-way mixup only)
    and, for a method that pastes pixels, its per-pixel rule: the int32 box `[n, 4]`
    (top, left, bottom, right) whose pixels come from the partner, for a grid of holes
    in it the int32 `holes` `[n, 4]` (see `MixParams.holes`), and for a mask of any
    shape the float32 `mask` `[n, H, W]`: the partner's share of each pixel (0 or 1
    for a binary mask, between for a soft one), with the whole image as its box; for a
    method that moves pixels, bool `[n]` `resized` (`MixParams.resized`) or `tiled`
    (`MixParams.tiled`; `more` then holds the third and fourth sources' weights)."""

    own: Any
    partner: Any
    more: Any = None
    box: Any = None
    holes: Any = None
    mask: Any = None
    resized: Any = None
    tiled: Any = None


@dataclasses.dataclass(frozen=True)
class Method:
    """A mixing method, declared once (see the module docstring).

    Attributes:
        name: the method's name ("mixup", "cutmix").
        alpha: the option that turns it on: the method can be chosen only while
            that option's value is > 0 (its lambda's Beta concentration).
        options: the options it adds to a mixer (`Option`, owner = `name`).
        streams: `{purpose: stream number}`: the Threefry streams it draws from,
            numbers unique across the methods and the core (`_src/core/sampling.STREAMS`).
        requests: `(build, ops) -> [(stream, start, count), ...]`: the words it
            needs for `build.num_draws` draws (see `sampling.stream_words`).
        draw: `(seed, words, values, build, ops) -> Draw`: its parameters from
            those words; `values` holds the run-time values (tensors or floats),
            `build` the build-time facts of the batch (`Build`).
        needs_image_size: whether `draw` reads `build.image_size`.
        pairs_only: whether it mixes pairs only (no `num_mixed > 2`).
        sources: how many images one of its draws combines (2; Mosaic 4): a mixer that
            traces it draws that many sources' partners and carries that many sources'
            boxes.
        cuts: whether it mixes by a per-pixel rule (`Draw.box`, `holes`, `mask`):
            the features must be images, and its bounding boxes and segmentation
            masks follow the rule (`boxes.py`, `mixing.py`).
        soft: `options -> bool` (the build-time options by name): whether a pixel
            may mix two sources (a soft mask) rather than come whole from one;
            integer segmentation masks can then not be pasted as they are.
        reads_batch: whether its draw reads the batch (`Build.batch`, a `Batch`: the
            images and the partners), as a method guided by the data does (SaliencyMix).
        title: its name in messages and docs ("CutMix").
        test_time: what the test-time transformation of mixup (`theta_bar`,
            `mixup_aware_predictor`; Carratino et al. 2020) says of it.
    """

    name: str
    alpha: str
    options: tuple[Option, ...]
    streams: dict
    requests: Callable
    draw: Callable
    needs_image_size: bool = False
    pairs_only: bool = False
    sources: int = 2
    cuts: bool = False
    soft: Callable = lambda options: False
    reads_batch: bool = False
    title: str = ""
    test_time: str = (
        "not a shrink of the inputs towards their mean: theta_bar raises, and the "
        "mixup-aware predictor does not apply"
    )


class Batch(NamedTuple):
    """What a method that reads the batch (`Method.reads_batch`) sees of it: the
    `images` (channels last, `[B, H, W, C]`, any numeric dtype), the int32 `partners`
    `[B]` (each example's first partner) and the int32 `rows` `[num_draws]`: the row
    each draw is made for (0 for a draw per batch, each shard's first row for a draw
    per shard, every row with `per_example`)."""

    images: Any
    partners: Any
    rows: Any


class Build(NamedTuple):
    """The facts a method's draw reads besides its words: how many draws (`num_draws`),
    examples mixed (`num_mixed`), the images' `(H, W)` (`image_size`, None where no
    traced method needs it), the build-time options by name (`options`) and, for a
    method that reads the batch, the batch (`batch`, a `Batch`; else None)."""

    num_draws: Any
    num_mixed: int
    image_size: Any
    options: dict
    batch: Batch | None = None


def alpha_option(method: str, title: str, doc: str | None = None) -> Option:
    """The run-time option that turns a method on, `<method>_alpha` (default 0: off), a
    Beta concentration checked by `validate_alpha`; the class's `alpha`."""
    return Option(
        f"{method}_alpha",
        0.0,
        runtime=True,
        validate=validate_alpha,
        doc=doc or f"{title}'s alpha (0: no {title})",
        owner=method,
        argument="alpha",
    )


def range_option(
    method: str, argument: str, default: tuple, doc: str, upper: float = 1.0
) -> Option:
    """A build-time option `(low, high)` of a method, `<method>_<argument>`: the range its
    setting is drawn in (`sampling.beta_in_range`), checked by `validate_real_range`
    (`0 < low <= high <= upper`)."""
    return Option(
        f"{method}_{argument}",
        default,
        runtime=False,
        validate=lambda value, name: validate_real_range(value, name, 0.0, upper),
        doc=doc,
        owner=method,
        argument=argument,
    )


def box_around(lam, centre_y, centre_x, image_size, *, ops):
    """Boxes `[n, 4]` (top, left, bottom, right) around int32 centres `[n]`, and their
    clipped area fractions `[n]`.

    The box has the image's aspect ratio and, before clipping, an area of
    `(1 - lam) H W` (sides rounded to whole pixels); it is clipped to the image, so its
    area may be smaller.
    """
    height, width = (ops.cast(ops.convert(size), "int32") for size in image_size)
    side = ops.sqrt(ops.maximum(1.0 - lam, 0.0))
    box_height = ops.cast(ops.floor(side * ops.cast(height, "float32") + 0.5), "int32")
    box_width = ops.cast(ops.floor(side * ops.cast(width, "float32") + 0.5), "int32")
    top = ops.maximum(centre_y - box_height // 2, 0)
    left = ops.maximum(centre_x - box_width // 2, 0)
    bottom = ops.minimum(centre_y - box_height // 2 + box_height, height)
    right = ops.minimum(centre_x - box_width // 2 + box_width, width)
    area = ops.cast(ops.maximum(bottom - top, 0) * ops.maximum(right - left, 0), "float32")
    return ops.stack([top, left, bottom, right], axis=1), area / ops.cast(height * width, "float32")


def mask_draw(mask, image_size, *, ops) -> Draw:
    """The `Draw` of a method whose per-pixel rule is a mask (float32 `[n, H, W]`, the
    partner's share of each pixel): the whole image as its box, and as target weights
    the mask's means, exactly (the partner's, and the rest)."""
    height, width = (ops.cast(ops.convert(size), "int32") for size in image_size)
    flat = ops.reshape(mask, [ops.size(mask, 0), -1])
    pixels = ops.cast(height * width, "float32")
    partner = ops.sum(flat, axis=1) / pixels
    zeros = ops.cast(partner * 0.0, "int32")
    return Draw(
        own=ops.sum(1.0 - flat, axis=1) / pixels,
        partner=partner,
        box=ops.stack([zeros, zeros, zeros + height, zeros + width], axis=1),
        mask=mask,
    )


class MixingMethod:
    """The base of keras_mixup's public mixing methods (`keras_mixup.methods`): an
    immutable value holding one method's options, checked, that the fronts
    (`MixupTransform`, `MixupLayer`, `sample_mix_params`) compose with `methods=[...]`.

    A subclass sets `method` (its registry entry, `Method`) and passes its keywords to
    `__init__`; each keyword is an option of `method` (`Option.argument`), checked by the
    option's check. The options read as attributes (`CutMix(alpha=0.5).alpha`).

    Raises:
        TypeError, ValueError: an option of the wrong type or out of range (the error
            names the class, the option and the value).
    """

    method: Method

    def __init__(self, **arguments: Any):
        options = {option.argument: option for option in self.method.options}
        values = {}
        for argument, value in arguments.items():
            try:
                values[argument] = options[argument].check(value, argument)
            except (TypeError, ValueError) as error:
                raise user_error(type(error), f"{type(self).__name__}: {error}") from None
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name):
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no option {name!r}")

    def __setattr__(self, name, value):
        raise AttributeError(
            f"{type(self).__name__} is immutable: build a new one with {name}={value!r}"
        )

    def get_config(self) -> dict:
        """The options by keyword (`cls(**config)` rebuilds the method)."""
        return dict(self._values)

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def options(self) -> dict:
        """The method's options as the mixer's option table names them (`MixSpec`'s
        fields: `{"gridmix_alpha": 1.0, "gridmix_holes": (2, 6)}`)."""
        return {option.name: self._values[option.argument] for option in self.method.options}

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._values == other._values

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._values.items())))

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self._values.items())
        return f"{type(self).__name__}({arguments})"

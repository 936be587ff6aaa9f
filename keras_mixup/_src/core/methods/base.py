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

from keras_mixup._src.core.validation import validate_alpha, validate_real_range


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a mixer, as both fronts (`MixupTransform`, `MixupLayer`) and
    `MixSpec` take it.

    Attributes:
        name: the keyword argument (the field of `MixSpec`).
        default: its default in every front's signature.
        runtime: True: a run-time value, kept in a variable that traced code reads
            (assigning it needs no retrace, `AlphaScheduler` may schedule it);
            False: fixed when the mixer is built.
        validate: `value -> value`, the validated (normalised) value; raises the
            library's error naming the option.
        doc: one line for the docs and the run-time properties.
        owner: the method that adds it, or "core".
    """

    name: str
    default: Any
    runtime: bool
    validate: Callable[[Any], Any]
    doc: str
    owner: str = "core"


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
    title: str = ""
    test_time: str = (
        "not a shrink of the inputs towards their mean: theta_bar raises, and the "
        "mixup-aware predictor does not apply"
    )


class Build(NamedTuple):
    """The build-time facts a method's draw reads: how many draws (`num_draws`),
    examples mixed (`num_mixed`), the images' `(H, W)` (`image_size`, None where no
    traced method needs it) and the build-time options by name (`options`)."""

    num_draws: Any
    num_mixed: int
    image_size: Any
    options: dict


def alpha_option(method: str, title: str, doc: str | None = None) -> Option:
    """The run-time option that turns a method on, `<method>_alpha` (default 0: off), a
    Beta concentration checked by `validate_alpha`."""
    name = f"{method}_alpha"
    return Option(
        name,
        0.0,
        runtime=True,
        validate=lambda value: validate_alpha(value, name),
        doc=doc or f"{title}'s alpha (0: no {title})",
        owner=method,
    )


def range_option(method: str, name: str, default: tuple, doc: str, upper: float = 1.0) -> Option:
    """A build-time option `(low, high)` of a method: the range its setting is drawn in
    (`sampling.beta_in_range`), checked by `validate_real_range` (`0 < low <= high <=
    upper`)."""
    return Option(
        name,
        default,
        runtime=False,
        validate=lambda value: validate_real_range(value, name, 0.0, upper),
        doc=doc,
        owner=method,
    )


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

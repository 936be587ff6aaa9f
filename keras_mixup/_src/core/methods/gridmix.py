"""GridMix (Baek, Bang, Shim, "GridMix: Strong regularization through local context
mapping", Pattern Recognition 110, 2021), in the form of the GridMixup code that
OpenMixup's `gridmix.py` follows: a grid of square holes through which the partner
shows, inside a crop of the image.

Per draw: lambda ~ Beta(gridmix_alpha, gridmix_alpha); a crop of `a H W` pixels
(a ~ U(0.5, 1)) with aspect ratio (height / width) r ~ U(0.5, 2), clipped to the
image, at a uniformly random position inside it; `n` cells across the crop's width
(n uniform on `gridmix_holes`, at most half the crop's width), square cells of side
`p = ceil(crop width / n)`; in the top-left corner of every cell a square hole of
side `floor(p sqrt(1 - lambda))`, kept within [1, p - 1] pixels. The holes show the
partner. The target weights are the realised shares of the two sources' pixels
(exact), not lambda.

The draw is a box (the crop) and its holes (`MixParams.holes`: the cells' and the
holes' sides), so the core's per-pixel rule (`mixing.box_mask`), its bounding-box
rule (`boxes.py`: visible fractions) and its segmentation rule serve GridMix as they
serve CutMix, whose box is one cell that is all hole.

Differences from OpenMixup's code, on purpose: the crop is clipped to the image (a
crop taller than the image gave negative offsets there), H and W are not swapped
(`W = size[2]` of an `[N, C, H, W]` batch there), and with `per_example=True` each
example draws its own grid.
"""

from __future__ import annotations

import keras

from keras_mixup._src.core.methods.base import Draw, Method, MixingMethod, Option, alpha_option
from keras_mixup._src.core.sampling import (
    as_alpha,
    gamma_requests,
    unit_uniforms,
    weights_from_words,
)
from keras_mixup._src.core.validation import validate_int_range

STREAMS = {"gamma": 8, "shape": 9}  # lambda's Gammas; the crop and the cell count
CROP_AREA = (0.5, 1.0)  # the crop's share of the image (OpenMixup's cut_area_ratio)
CROP_ASPECT = (0.5, 2.0)  # its height / width (cut_aspect_ratio)
SHAPE_WORDS = 5  # per draw: cell count, area, aspect, top, left


def grid(lam, uniforms, image_size, holes_range, *, ops):
    """The crop `[n, 4]` (top, left, bottom, right) and its holes `[n, 4]` (cell
    height, cell width, hole height, hole width), int32, from lambda `[n]` and
    uniforms `[5, n]` on (0, 1] (cell count, area, aspect, top, left)."""
    height, width = (ops.cast(ops.convert(size), "int32") for size in image_size)
    h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
    u_count, u_area, u_aspect, u_top, u_left = (uniforms[i] for i in range(5))
    area = (CROP_AREA[0] + (CROP_AREA[1] - CROP_AREA[0]) * u_area) * h * w
    aspect = CROP_ASPECT[0] + (CROP_ASPECT[1] - CROP_ASPECT[0]) * u_aspect
    crop_w = ops.cast(ops.floor(ops.sqrt(area / aspect)), "int32")
    crop_h = ops.cast(ops.floor(ops.cast(crop_w, "float32") * aspect), "int32")
    crop_w = ops.minimum(ops.maximum(crop_w, 2), width)
    crop_h = ops.minimum(ops.maximum(crop_h, 2), height)
    # positions: floor(u * (slack + 1)) with u in (0, 1], at most the slack
    top = ops.minimum(
        ops.cast(ops.floor(u_top * ops.cast(height - crop_h + 1, "float32")), "int32"),
        height - crop_h,
    )
    left = ops.minimum(
        ops.cast(ops.floor(u_left * ops.cast(width - crop_w + 1, "float32")), "int32"),
        width - crop_w,
    )
    low, high = holes_range
    count = low + ops.minimum(
        ops.cast(ops.floor(u_count * float(high - low + 1)), "int32"), high - low
    )
    count = ops.maximum(ops.minimum(count, crop_w // 2), 1)
    cell = (crop_w + count - 1) // count  # ceil(crop_w / count) >= 2
    side = ops.cast(
        ops.floor(ops.cast(cell, "float32") * ops.sqrt(ops.maximum(1.0 - lam, 0.0))), "int32"
    )
    hole = ops.minimum(ops.maximum(side, 1), cell - 1)
    box = ops.stack([top, left, top + crop_h, left + crop_w], axis=1)
    return box, ops.stack([cell, cell, hole, hole], axis=1)


def covered(start, end, cell, hole, *, ops):
    """How many of the pixels `[start, end)` of one axis of a crop (`start`, `end` int32
    `[n]`) fall in holes: `(L // cell) * hole + min(L % cell, hole)`, `L = end - start`."""
    length = end - start
    return (length // cell) * hole + ops.minimum(length % cell, hole)


def _requests(build, *, ops) -> list:
    return [(STREAMS["shape"], 0, SHAPE_WORDS * build.num_draws)] + gamma_requests(
        STREAMS["gamma"], 2 * build.num_draws, ops=ops
    )


def _draw(seed, words, values, build, *, ops) -> Draw:
    shape_words, gamma_words = words[0], words[1:]
    alpha = as_alpha(values["gridmix_alpha"], ops=ops)
    lam = weights_from_words(
        seed, STREAMS["gamma"], gamma_words, 2, build.num_draws, alpha, ops=ops
    )[0]
    uniforms = ops.reshape(unit_uniforms(shape_words, ops=ops), [SHAPE_WORDS, -1])
    box, holes = grid(lam, uniforms, build.image_size, build.options["gridmix_holes"], ops=ops)
    rows = covered(box[:, 0], box[:, 2], holes[:, 0], holes[:, 2], ops=ops)
    cols = covered(box[:, 1], box[:, 3], holes[:, 1], holes[:, 3], ops=ops)
    height, width = (ops.cast(ops.convert(size), "float32") for size in build.image_size)
    share = ops.cast(rows * cols, "float32") / (height * width)
    return Draw(own=1.0 - share, partner=share, box=box, holes=holes)


GRIDMIX = Method(
    name="gridmix",
    title="GridMix",
    alpha="gridmix_alpha",
    options=(
        alpha_option("gridmix", "GridMix"),
        Option(
            "gridmix_holes",
            (2, 6),
            runtime=False,
            validate=lambda value, name: validate_int_range(value, name, minimum=1),
            doc="the range of GridMix's cell count across the crop's width (inclusive)",
            owner="gridmix",
            argument="holes",
        ),
    ),
    streams=STREAMS,
    requests=_requests,
    draw=_draw,
    needs_image_size=True,
    pairs_only=True,
    cuts=True,
)


@keras.saving.register_keras_serializable(package="keras_mixup")
class GridMix(MixingMethod):
    """GridMix: the partner shows through a grid of square holes inside a random crop.

    `lam ~ Beta(alpha, alpha)` sets the holes' side in each cell; `holes` the number of
    cells across the crop's width. The targets weigh the sources by the pixels each
    shows, exactly. Inputs: images; boxes and segmentation masks follow the holes.

    Args:
        alpha: the Beta concentration, a finite number >= 0. Run-time.
        holes: `(low, high)` ints, `1 <= low <= high`: the cell count across the crop's
            width, uniform on this inclusive range.

    Raises:
        TypeError, ValueError: `alpha` negative or not finite; `holes` not such a pair.

    Source: Baek, Bang & Shim, "GridMix: Strong regularization through local context
    mapping", Pattern Recognition 110, 2021, in the form of OpenMixup's `gridmix.py`
    (here the crop is clipped to the image and H, W are not swapped; docs/semantics.md).
    """

    method = GRIDMIX

    def __init__(self, alpha: float = 1.0, holes: tuple[int, int] = (2, 6)):
        super().__init__(alpha=alpha, holes=holes)

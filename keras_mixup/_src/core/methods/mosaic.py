"""Mosaic (Bochkovskiy, Wang & Liao, "YOLOv4: Optimal Speed and Accuracy of Object
Detection", arXiv 2004.10934, 2020, Section 3.3; the recipe of YOLOv4/v5/v8 and keras-cv's
`Mosaic`): four images tiled around a random centre, the output keeping the input's size.

Per draw: a centre `(cy, cx) = (floor(oy H), floor(ox W))` with `oy`, `ox` in
`mosaic_offset` (default (0.25, 0.75), keras-cv's `offset`), each `low + (high - low) u`,
u ~ Beta(mosaic_alpha, mosaic_alpha) (1, the default: uniform, as keras-cv). The output is
the `H x W` window of a `2H x 2W` canvas that holds the example at its top left, the first
partner at its top right, the second at its bottom left and the third at its bottom
right, the window's top-left corner at `(H - cy, W - cx)`: the tile `[0, cy) x [0, cx)`
shows the example's bottom-right corner, `[0, cy) x [cx, W)` the first partner's bottom
left, `[cy, H) x [0, cx)` the second's top right, `[cy, H) x [cx, W)` the third's top left.
Pixels are moved whole, not resized. The target weights are the tiles' shares of the
pixels, exactly; boxes are translated into their tile and clipped to it; integer
segmentation masks follow the pixels as they are (under Mosaic alone: with mixup in the
same mixer they become one-hot targets, `MixSpec.pastes_whole_pixels`).

The three partners come from three independent permutations of the batch (keras-cv draws
them with replacement from the batch; an example may meet itself either way only through
its own permutation's fixed points).
"""

from __future__ import annotations

import keras

from keras_mixup._src.core.methods.base import (
    Draw,
    Method,
    MixingMethod,
    alpha_option,
    range_option,
)
from keras_mixup._src.core.sampling import as_alpha, beta_in_range, gamma_requests

STREAMS = {"gamma": 17}  # the Beta variates of the centre's two offsets


def mosaic_tiles(offsets, image_size, *, ops):
    """The centres `(cy, cx)` (int32 `[n]` each) of the offsets (float32 `[2, n]`, shares
    of H and W) and the four tiles' shares of the pixels (float32 `[4, n]`: the
    example's, then the partners' in the order top right, bottom left, bottom right)."""
    height, width = (ops.cast(ops.convert(size), "int32") for size in image_size)
    h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
    cy = ops.minimum(ops.cast(ops.floor(offsets[0] * h), "int32"), height)
    cx = ops.minimum(ops.cast(ops.floor(offsets[1] * w), "int32"), width)
    top, left = ops.cast(cy, "float32"), ops.cast(cx, "float32")
    shares = [
        top * left,
        top * (w - left),
        (h - top) * left,
        (h - top) * (w - left),
    ]
    return cy, cx, ops.stack([s / (h * w) for s in shares])


def _requests(build, *, ops) -> list:
    return gamma_requests(STREAMS["gamma"], 4 * build.num_draws, ops=ops)


def _draw(seed, words, values, build, *, ops) -> Draw:
    alpha = as_alpha(values["mosaic_alpha"], ops=ops)
    bounds = build.options["mosaic_offset"]
    offsets = beta_in_range(
        seed, STREAMS["gamma"], words, 2 * build.num_draws, alpha, bounds, ops=ops
    )
    cy, cx, shares = mosaic_tiles(ops.reshape(offsets, [2, -1]), build.image_size, ops=ops)
    zeros = cy * 0
    return Draw(
        own=shares[0],
        partner=shares[1],
        more=shares[2:],
        box=ops.stack([zeros, zeros, cy, cx], axis=1),
        tiled=cy >= 0,  # every row
    )


MOSAIC = Method(
    name="mosaic",
    title="Mosaic",
    alpha="mosaic_alpha",
    options=(
        alpha_option(
            "mosaic",
            "Mosaic",
            doc="Mosaic's alpha: the Beta concentration of its centre's offsets within "
            "mosaic_offset (1: uniform, as keras-cv; 0: no Mosaic)",
        ),
        range_option(
            "mosaic",
            "offset",
            (0.25, 0.75),
            "the range of Mosaic's centre, as a share of the image's height and width",
        ),
    ),
    streams=STREAMS,
    requests=_requests,
    draw=_draw,
    needs_image_size=True,
    pairs_only=True,
    cuts=True,
    sources=4,
)


@keras.saving.register_keras_serializable(package="keras_mixup")
class Mosaic(MixingMethod):
    """Mosaic: four images (the example and three partners) tiled around a random centre,
    the output keeping the input's size.

    The centre's offsets in `offset` (shares of the height and width) are drawn `low +
    (high - low) u`, `u ~ Beta(alpha, alpha)`. Pixels are moved whole; the targets are the
    tiles' shares, exactly; boxes are translated into their tile and clipped. Inputs:
    images; a mixer with Mosaic carries four sources' boxes (`[B, 4 N, 4]`).

    Args:
        alpha: the concentration of the offsets within `offset` (1: uniform, as keras-cv;
            0: off). Run-time.
        offset: `(low, high)`, `0 < low <= high <= 1` (default: keras-cv's).

    Raises:
        TypeError, ValueError: `alpha` negative or not finite; `offset` not such a pair.

    Source: Bochkovskiy, Wang & Liao, "YOLOv4: Optimal Speed and Accuracy of Object
    Detection", arXiv 2004.10934, 2020, Section 3.3; keras-cv's `Mosaic`.
    """

    method = MOSAIC

    def __init__(self, alpha: float = 1.0, offset: tuple[float, float] = (0.25, 0.75)):
        super().__init__(alpha=alpha, offset=offset)

"""ResizeMix (Qin, Fang, Liu, Wang & Wang, "ResizeMix: Mixing Data with Preserved Object
Information and True Labels", arXiv 2012.11101, 2020): the partner's whole image, resized
to a patch, pasted at a random position of the example.

Per draw: a side ratio `tau = low + (high - low) u` in `resizemix_scope` (default
(0.1, 0.8), the paper's), u ~ Beta(resizemix_alpha, resizemix_alpha) (1, the default:
uniform, as published); a patch of `max(floor(tau H), 1)` x `max(floor(tau W), 1)` pixels
at a uniformly random position inside the image; the partner, resized to the patch by
nearest-neighbour sampling (pixel `r` of the patch reads the partner's row
`floor(r H / patch height)`, as `torch.nn.functional.interpolate(mode="nearest")`, the
authors' and OpenMixup's default), replaces the example's pixels there. The target
weights are the shares of pixels: the partner the patch's area over `H W`, the example
the rest, exactly. Pixels are moved, not blended: integer segmentation masks are resized
and pasted as they are; the partner's boxes are scaled and translated into the patch,
the example's own are cut as CutMix cuts them.

Differences from OpenMixup's `resizemix.py`, on purpose: the patch lies inside the image
(theirs is clipped at the border, and the partner then squeezed into the clipped part,
distorting its aspect ratio), and H and W are not swapped.
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

STREAMS = {"gamma": 15, "position": 16}  # tau's Beta variates; the patch's top and left


def resized_patches(tau, position_words, image_size, *, ops):
    """Patches `[n, 4]` (top, left, bottom, right; int32) of side ratio `tau` (float32
    `[n]`) at uniformly random positions inside the image, and their areas over `H W`."""
    height, width = (ops.cast(ops.convert(size), "int32") for size in image_size)
    h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
    patch_h = ops.maximum(ops.cast(ops.floor(tau * h), "int32"), 1)
    patch_w = ops.maximum(ops.cast(ops.floor(tau * w), "int32"), 1)
    top = ops.bit_and(position_words[0], 0x7FFFFFFF) % (height - patch_h + 1)
    left = ops.bit_and(position_words[1], 0x7FFFFFFF) % (width - patch_w + 1)
    area = ops.cast(patch_h * patch_w, "float32") / (h * w)
    return ops.stack([top, left, top + patch_h, left + patch_w], axis=1), area


def _requests(build, *, ops) -> list:
    return [(STREAMS["position"], 0, 2 * build.num_draws)] + gamma_requests(
        STREAMS["gamma"], 2 * build.num_draws, ops=ops
    )


def _draw(seed, words, values, build, *, ops) -> Draw:
    position_words, gamma_words = ops.reshape(words[0], [2, -1]), words[1:]
    alpha = as_alpha(values["resizemix_alpha"], ops=ops)
    bounds = build.options["resizemix_scope"]
    tau = beta_in_range(
        seed, STREAMS["gamma"], gamma_words, build.num_draws, alpha, bounds, ops=ops
    )
    box, area = resized_patches(tau, position_words, build.image_size, ops=ops)
    return Draw(own=1.0 - area, partner=area, box=box, resized=area >= 0.0)  # every row


RESIZEMIX = Method(
    name="resizemix",
    title="ResizeMix",
    alpha="resizemix_alpha",
    options=(
        alpha_option(
            "resizemix",
            "ResizeMix",
            doc="ResizeMix's alpha: the Beta concentration of its patch's side ratio within "
            "resizemix_scope (1: uniform, as published; 0: no ResizeMix)",
        ),
        range_option(
            "resizemix",
            "scope",
            (0.1, 0.8),
            "the range of the side ratio of ResizeMix's patch (the partner resized)",
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
class ResizeMix(MixingMethod):
    """ResizeMix: the partner's whole image, resized to a patch, pasted at a random
    position inside the example.

    The patch's side ratio `tau` in `scope` is drawn `low + (high - low) u`, `u ~
    Beta(alpha, alpha)`; the partner is resized by nearest neighbour. The targets are the
    shares of pixels, exactly. Inputs: images; the partner's boxes are scaled into the
    patch, integer segmentation masks resized and pasted as they are.

    Args:
        alpha: the concentration of `tau` within `scope` (1: uniform, as published;
            0: off). Run-time.
        scope: `(low, high)`, `0 < low <= high <= 1`: the range of the side ratio
            (default: the paper's).

    Raises:
        TypeError, ValueError: `alpha` negative or not finite; `scope` not such a pair.

    Source: Qin, Fang, Liu, Wang & Wang, "ResizeMix: Mixing Data with Preserved Object
    Information and True Labels", arXiv 2012.11101, 2020. The patch lies inside the image
    (OpenMixup's is clipped at the border and the partner squeezed; docs/semantics.md).
    """

    method = RESIZEMIX

    def __init__(self, alpha: float = 1.0, scope: tuple[float, float] = (0.1, 0.8)):
        super().__init__(alpha=alpha, scope=scope)

"""CutMix (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers
with Localizable Features", ICCV 2019): a box of the partner pasted into each
example. lambda ~ Beta(cutmix_alpha, cutmix_alpha) sets the box's area before
clipping, `(1 - lambda) H W`, with the image's aspect ratio, at a uniformly random
centre; the targets weigh each source by the share of pixels it shows (the clipped
box's area, unless `exact_cutmix_weight=False`: the drawn lambda, as timm's
`correct_lam=False`).
"""

from __future__ import annotations

from keras_mixup._src.core.methods.base import Draw, Method, Option, alpha_option
from keras_mixup._src.core.sampling import (
    as_alpha,
    gamma_requests,
    weights_from_words,
)
from keras_mixup._src.core.validation import validate_bool

STREAMS = {"centre": 5, "gamma": 7}  # box centres (two words per box); its lambda's Gammas


def cutmix_boxes(lam, centre_words, image_size, *, ops):
    """Boxes `[n, 4]` (top, left, bottom, right) and their clipped area fractions `[n]`.

    The box has the image's aspect ratio and, before clipping, an area of
    `(1 - lam) H W` (sides rounded to whole pixels), centred on a uniformly random
    pixel; it is clipped to the image, so its area may be smaller.
    """
    height, width = (ops.cast(ops.convert(size), "int32") for size in image_size)
    side = ops.sqrt(ops.maximum(1.0 - lam, 0.0))
    box_height = ops.cast(ops.floor(side * ops.cast(height, "float32") + 0.5), "int32")
    box_width = ops.cast(ops.floor(side * ops.cast(width, "float32") + 0.5), "int32")
    centre_y = ops.bit_and(centre_words[0], 0x7FFFFFFF) % height
    centre_x = ops.bit_and(centre_words[1], 0x7FFFFFFF) % width
    top = ops.maximum(centre_y - box_height // 2, 0)
    left = ops.maximum(centre_x - box_width // 2, 0)
    bottom = ops.minimum(centre_y - box_height // 2 + box_height, height)
    right = ops.minimum(centre_x - box_width // 2 + box_width, width)
    area = ops.cast((bottom - top) * (right - left), "float32")
    return ops.stack([top, left, bottom, right], axis=1), area / ops.cast(height * width, "float32")


def _requests(build, *, ops) -> list:
    return [(STREAMS["centre"], 0, 2 * build.num_draws)] + gamma_requests(
        STREAMS["gamma"], 2 * build.num_draws, ops=ops
    )


def _draw(seed, words, values, build, *, ops) -> Draw:
    centre_words, gamma_words = words[0], words[1:]
    alpha = as_alpha(values["cutmix_alpha"], ops=ops)
    lam = weights_from_words(
        seed, STREAMS["gamma"], gamma_words, 2, build.num_draws, alpha, ops=ops
    )[0]
    box, area = cutmix_boxes(lam, ops.reshape(centre_words, [2, -1]), build.image_size, ops=ops)
    if build.options["exact_cutmix_weight"]:
        return Draw(own=1.0 - area, partner=area, box=box)
    return Draw(own=lam, partner=1.0 - lam, box=box)


CUTMIX = Method(
    name="cutmix",
    title="CutMix",
    alpha="cutmix_alpha",
    options=(
        alpha_option("cutmix", "CutMix"),
        Option(
            "exact_cutmix_weight",
            True,
            runtime=False,
            validate=lambda value: validate_bool(value, "exact_cutmix_weight"),
            doc="weigh a cut example by the pixels it keeps (True) or by the drawn lambda",
            owner="cutmix",
        ),
    ),
    streams=STREAMS,
    requests=_requests,
    draw=_draw,
    needs_image_size=True,
    pairs_only=True,
    cuts=True,
)

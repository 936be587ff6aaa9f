"""CutMix (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers
with Localizable Features", ICCV 2019): a box of the partner pasted into each
example. lambda ~ Beta(cutmix_alpha, cutmix_alpha) sets the box's area before
clipping, `(1 - lambda) H W`, with the image's aspect ratio, at a uniformly random
centre; the targets weigh each source by the share of pixels it shows (the clipped
box's area, unless `exact_cutmix_weight=False`: the drawn lambda, as timm's
`correct_lam=False`).
"""

from __future__ import annotations

import keras

from keras_mixup._src.core.methods.base import (
    Draw,
    Method,
    MixingMethod,
    Option,
    alpha_option,
    box_around,
)
from keras_mixup._src.core.sampling import (
    as_alpha,
    gamma_requests,
    weights_from_words,
)
from keras_mixup._src.core.validation import validate_bool

STREAMS = {"centre": 5, "gamma": 7}  # box centres (two words per box); its lambda's Gammas


def cutmix_boxes(lam, centre_words, image_size, *, ops):
    """`box_around` a uniformly random pixel (from two words `[2, n]` per box)."""
    height, width = (ops.cast(ops.convert(size), "int32") for size in image_size)
    centre_y = ops.bit_and(centre_words[0], 0x7FFFFFFF) % height
    centre_x = ops.bit_and(centre_words[1], 0x7FFFFFFF) % width
    return box_around(lam, centre_y, centre_x, image_size, ops=ops)


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
            validate=validate_bool,
            doc="weigh a cut example by the pixels it keeps (True) or by the drawn lambda",
            owner="cutmix",
            argument="exact_weight",
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
class CutMix(MixingMethod):
    """CutMix: a box of the partner's pixels pasted into each example.

    `lam ~ Beta(alpha, alpha)` sets the box's area before clipping, `(1 - lam) H W`, with
    the image's aspect ratio, at a uniformly random centre; the targets weigh each source
    by the share of pixels it shows. Inputs: images `[B, H, W, C]` (`[B, C, H, W]` with
    `data_format="channels_first"`); boxes and segmentation masks follow the box.

    Args:
        alpha: the Beta concentration, a finite number >= 0 (1: the paper's). Run-time.
        exact_weight: True (default): the targets weigh the example by the pixels it
            keeps (the clipped box's area); False: by the drawn lambda, as timm's
            `correct_lam=False`, which overstates the example's share when the box was
            clipped at the border.

    Raises:
        TypeError, ValueError: `alpha` negative or not finite; `exact_weight` not a bool
            (a front composing it raises with `num_mixed > 2`, pairs only, and with
            inputs that are not images).

    Source: Yun, Han, Oh, Chun, Choe & Yoo, "CutMix: Regularization Strategy to Train
    Strong Classifiers with Localizable Features", ICCV 2019, Section 3.1 (Eq. 1-2,
    Algorithm A1; the published code rounds lambda from the clipped box, as `exact_weight`).
    """

    method = CUTMIX

    def __init__(self, alpha: float = 1.0, exact_weight: bool = True):
        super().__init__(alpha=alpha, exact_weight=exact_weight)

"""SmoothMix (Lee, Zaheer, Astrid & Lee, "SmoothMix: a Simple Yet Effective Data
Augmentation to Train Robust Classifiers", CVPR Workshops 2020): the partner blended in
through a soft Gaussian blob, so that the mixed image has no strong edge.

Per draw: a centre `(c_y, c_x)`, a uniformly random pixel; a width `sigma = s sqrt(H W)`
(the image's side for a square image), `s` between the two ends of `smoothmix_sigma`
(default (0.25, 0.5), the published range); the partner's share of pixel `(y, x)` is
`G(y, x) = exp(-((y - c_y)^2 + (x - c_x)^2) / (2 sigma^2))` and the example keeps
`1 - G`. SmoothMix draws no mixing ratio: `s = low + (high - low) u`, u ~
Beta(smoothmix_alpha, smoothmix_alpha), so the default `smoothmix_alpha=1` gives the
published uniform width and other values concentrate it (> 1) at the middle of the range
or (< 1) at its ends.

The target weights are the mask's means: the partner `mean(G)`, the example
`mean(1 - G)`, exactly. OpenMixup's `smoothmix.py` mixes `img * (1 - G) + img_perm * G`
but returns `lam = mean(G)` as the weight of the example's own label, the partner's
share given to the wrong image (`tests/methods/test_smoothmix.py` checks, from an injected mask,
which image owns which weight).

The mask is soft: a pixel mixes two sources, so integer segmentation masks are one-hot
encoded and mixed per pixel (they are not pasted as they are), and a bounding box is
kept where its source's mean share over the box is at least `min_box_visibility`.
"""

from __future__ import annotations

import keras

from keras_mixup._src.core.methods.base import (
    Draw,
    Method,
    MixingMethod,
    alpha_option,
    mask_draw,
    range_option,
)
from keras_mixup._src.core.sampling import as_alpha, beta_in_range, gamma_requests

STREAMS = {"gamma": 13, "centre": 14}  # the width's Beta variates; the centres


def gaussian_masks(centre_y, centre_x, sigma, image_size, *, ops):
    """float32 `[n, H, W]`: the partner's share `G` of each pixel, from the centres and
    widths (float32 `[n]`, in pixels)."""
    height, width = image_size
    rows = ops.cast(ops.arange(height), "float32")[None, :]
    cols = ops.cast(ops.arange(width), "float32")[None, :]
    scale = -0.5 / (sigma * sigma)[:, None]
    along_y = ops.exp((rows - centre_y[:, None]) * (rows - centre_y[:, None]) * scale)
    along_x = ops.exp((cols - centre_x[:, None]) * (cols - centre_x[:, None]) * scale)
    return along_y[:, :, None] * along_x[:, None, :]


def _requests(build, *, ops) -> list:
    return [(STREAMS["centre"], 0, 2 * build.num_draws)] + gamma_requests(
        STREAMS["gamma"], 2 * build.num_draws, ops=ops
    )


def _draw(seed, words, values, build, *, ops) -> Draw:
    centre_words, gamma_words = ops.reshape(words[0], [2, -1]), words[1:]
    alpha = as_alpha(values["smoothmix_alpha"], ops=ops)
    bounds = build.options["smoothmix_sigma"]
    share = beta_in_range(
        seed, STREAMS["gamma"], gamma_words, build.num_draws, alpha, bounds, ops=ops
    )
    height, width = (ops.cast(ops.convert(size), "int32") for size in build.image_size)
    h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
    sigma = share * ops.sqrt(h * w)
    centre_y = ops.cast(ops.bit_and(centre_words[0], 0x7FFFFFFF) % height, "float32")
    centre_x = ops.cast(ops.bit_and(centre_words[1], 0x7FFFFFFF) % width, "float32")
    mask = gaussian_masks(centre_y, centre_x, sigma, build.image_size, ops=ops)
    return mask_draw(mask, build.image_size, ops=ops)


SMOOTHMIX = Method(
    name="smoothmix",
    title="SmoothMix",
    alpha="smoothmix_alpha",
    options=(
        alpha_option(
            "smoothmix",
            "SmoothMix",
            doc="SmoothMix's alpha: the Beta concentration of its mask's width within "
            "smoothmix_sigma (1: uniform, as published; 0: no SmoothMix)",
        ),
        range_option(
            "smoothmix",
            "sigma",
            (0.25, 0.5),
            "the range of SmoothMix's Gaussian width, as a share of the image's side",
            upper=10.0,
        ),
    ),
    streams=STREAMS,
    requests=_requests,
    draw=_draw,
    needs_image_size=True,
    pairs_only=True,
    cuts=True,
    soft=lambda options: True,
)


@keras.saving.register_keras_serializable(package="keras_mixup")
class SmoothMix(MixingMethod):
    """SmoothMix: the partner blended in through a soft Gaussian blob at a random centre.

    The partner's share of pixel `(y, x)` is `exp(-d^2 / (2 sigma^2))`, `d` the distance to
    the centre, `sigma = s sqrt(H W)` with `s` in `sigma` drawn `low + (high - low) u`,
    `u ~ Beta(alpha, alpha)`. The targets are the mask's means, exactly. Inputs: images;
    the mask is soft, so integer segmentation masks are one-hot encoded.

    Args:
        alpha: the concentration of the width within `sigma` (1: uniform, as published;
            0: off). Run-time.
        sigma: `(low, high)`, `0 < low <= high <= 10`: the blob's width as a share of the
            image's side (default: the published range).

    Raises:
        TypeError, ValueError: `alpha` negative or not finite; `sigma` not such a pair.

    Source: Lee, Zaheer, Astrid & Lee, "SmoothMix: a Simple Yet Effective Data
    Augmentation to Train Robust Classifiers", CVPR Workshops 2020. OpenMixup's
    `smoothmix.py` gives the partner's share to the wrong label; here each image owns its
    share (docs/semantics.md).
    """

    method = SMOOTHMIX

    def __init__(self, alpha: float = 1.0, sigma: tuple[float, float] = (0.25, 0.5)):
        super().__init__(alpha=alpha, sigma=sigma)

"""FMix (Harris, Marcu, Painter, Niranjan, Prügel-Bennett & Hare, "FMix: Enhancing Mixed
Sample Data Augmentation", arXiv 2002.12047, 2020): the partner shows through a random
low-frequency mask of any shape.

Per draw, as the paper's Section 3 builds it:

1. lambda ~ Beta(fmix_alpha, fmix_alpha) (Beta(fmix_alpha + 1, fmix_alpha) with
   `fmix_reformulate=True`, the paper's reformulation).
2. A complex spectrum on the frequency grid of the image's real DFT (`[H, W // 2 + 1]`),
   real and imaginary parts independent standard normals, each frequency scaled by
   `1 / max(f, 1 / max(H, W)) ** fmix_decay_power` (f in cycles per pixel); the inverse
   real 2-D DFT gives a grey image whose power spectrum decays as that scale squared,
   the same along both axes (the columns of the grid that are their own conjugates,
   f_x = 0 and the Nyquist column, are scaled by sqrt(2), which the inverse real DFT's
   symmetrisation halves the power of otherwise).
3. The grey image is binarised by rank: its `num` largest pixels are the example's own
   (1), the rest the partner's (0), where `num` is `lambda H W` rounded down or up by a
   fair coin (as the authors' code does); with `fmix_max_soft > 0`, `2 s` pixels around
   the threshold (`s = floor(H W min(max_soft, lambda, 1 - lambda))`) fall linearly
   from 1 to 0 (soft edges). The binary mask's threshold is found by bisection, not a
   sort (`top_pixels`); soft edges sort (slower: each pixel needs its rank).

The target weights are the realised shares: the mean of the mask (exact), not lambda.

The trap avoided: the authors' `fmix.py` and its copies (OpenMixup's `fmix.py`,
keras-cv's `FourierMix`) build the complex spectrum as `spectrum[:, 0] + 1j *
spectrum[:, 1]` on an array `[channels, H, W // 2 + 1, 2]`: that takes two rows of the
height axis, not the real and imaginary parts, so their masks barely vary across the
width. Here the last axis is split (`tests/methods/test_fmix.py` checks the mean power
spectrum along both axes against the decay law).

The mask is per pixel: with `per_example=True` every example draws its own, `H W`
normals each, which costs more than the other methods' few numbers per example.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from keras_mixup._src.core.methods.base import (
    Draw,
    Method,
    MixingMethod,
    Option,
    alpha_option,
    mask_draw,
)
from keras_mixup._src.core.sampling import (
    as_alpha,
    gamma_requests,
    standard_normals,
    unit_uniforms,
    weights_from_words,
)
from keras_mixup._src.core.validation import (
    user_error,
    validate_bool,
    validate_real_in,
)

STREAMS = {"gamma": 10, "spectrum": 11, "extra": 12}  # lambda; the spectrum; coin, Exp(1)


def spectrum_scale(height: int, width: int, decay_power: float) -> np.ndarray:
    """float32 `[H, W // 2 + 1]`: the scale of each frequency of the real DFT's grid,
    `1 / max(f, 1 / max(H, W)) ** decay_power`, times sqrt(2) on the columns that are
    their own conjugates (f_x = 0, and f_x = 1/2 for an even width)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freqs = np.sqrt(fy * fy + fx * fx)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width)) ** decay_power
    scale[:, 0] *= math.sqrt(2.0)
    if width % 2 == 0:
        scale[:, -1] *= math.sqrt(2.0)
    return scale.astype(np.float32)


def low_frequency_images(real, imag, height: int, width: int, decay_power: float, *, ops):
    """Grey images float32 `[n, H, W]` from standard normals `[n, H, W // 2 + 1]` (the
    real and imaginary parts of the spectrum): step 2 of the module docstring."""
    scale = ops.convert(spectrum_scale(height, width, decay_power))
    return ops.irfft2(real * scale, imag * scale, height, width)


BISECTION_STEPS = 32  # the threshold's search: to 2**-32 of twice the grey image's range


def top_pixels(flat, num, *, ops):
    """bool `[n, N]`: the `num` (float32 `[n]`, whole numbers) largest values of each row of
    `flat` (float32 `[n, N]`), exactly `num` of them. The threshold is found by bisection
    on the values (`BISECTION_STEPS` passes that count, instead of a sort: a sort of an
    ImageNet-sized mask costs ten times the whole blend on a CPU); values within the
    final interval (2**-32 of the range: almost always the threshold value alone) are
    taken in index order, as a stable sort would take equal values."""
    low = -ops.max(-flat, axis=1)
    high = ops.max(flat, axis=1)
    high = high + (high - low) + 1.0  # above every value: no pixel counts
    for _ in range(BISECTION_STEPS):  # count(v >= low) >= num > count(v >= high)
        middle = low + (high - low) * 0.5
        enough = ops.sum(ops.cast(flat >= middle[:, None], "float32"), axis=1) >= num
        low, high = ops.where(enough, middle, low), ops.where(enough, high, middle)
    above = flat >= high[:, None]
    band = (flat >= low[:, None]) & ~above
    wanted = num - ops.sum(ops.cast(above, "float32"), axis=1)
    order = ops.cumsum(ops.cast(band, "float32"), axis=1)  # 1, 2, ... along the band
    return above | (band & (order <= wanted[:, None]))


def binarise(images, lam, ceil, max_soft: float, *, ops):
    """The example's own share of each pixel, float32 `[n, H, W]`, from grey images
    `[n, H, W]`, lambda `[n]` and the coin (bool `[n]`: round `lambda H W` up): step 3
    of the module docstring. A binary mask takes the `num` largest pixels
    (`top_pixels`); soft edges need every pixel's rank, from a stable sort (ties, which
    a continuous grey image has with probability 0, in index order)."""
    _, height, width = ops.static_shape(images)
    size = height * width
    flat = ops.reshape(images, [-1, size])
    exact = lam * float(size)
    num = ops.floor(exact) + ops.cast(ceil & (ops.floor(exact) < exact), "float32")
    if max_soft == 0:
        own = ops.cast(top_pixels(flat, num, ops=ops), "float32")
    else:
        rank = ops.cast(ops.argsort(ops.argsort(-flat)), "float32")  # 0: the largest pixel
        limit = ops.minimum(lam, 1.0 - lam)
        effective = ops.where((max_soft > lam) | (max_soft > 1.0 - lam), limit, max_soft)
        soft = ops.floor(float(size) * effective)[:, None]
        low, high = num[:, None] - soft, num[:, None] + soft
        ramp = 1.0 - (rank - low) / ops.maximum(2.0 * soft - 1.0, 1.0)
        own = ops.where(rank < low, 1.0, ops.where(rank >= high, 0.0, ramp))
    return ops.reshape(own, [-1, height, width])


def _static_size(image_size) -> tuple[int, int]:
    height, width = image_size
    if not (isinstance(height, int) and isinstance(width, int)):
        raise user_error(
            ValueError,
            "FMix draws its mask on the images' frequency grid, so it needs images of a "
            f"known height and width (a static shape); got image_size={image_size}. Give "
            "the images a fixed size (e.g. resize them, or batch with drop_remainder and "
            "set their shape).",
        )
    return height, width


def _requests(build, *, ops) -> list:
    height, width = _static_size(build.image_size)
    spectrum = 2 * build.num_draws * height * (width // 2 + 1)
    return [
        (STREAMS["spectrum"], 0, spectrum),
        (STREAMS["extra"], 0, 2 * build.num_draws),
        *gamma_requests(STREAMS["gamma"], 2 * build.num_draws, ops=ops),
    ]


def _draw(seed, words, values, build, *, ops) -> Draw:
    spectrum_words, extra_words, gamma_words = words[0], words[1], words[2:]
    height, width = _static_size(build.image_size)
    options = build.options
    extra = ops.reshape(unit_uniforms(extra_words, ops=ops), [2, -1])
    alpha = as_alpha(values["fmix_alpha"], ops=ops)
    exponential = -ops.log(extra[1]) if options["fmix_reformulate"] else None
    lam = weights_from_words(
        seed,
        STREAMS["gamma"],
        gamma_words,
        2,
        build.num_draws,
        alpha,
        first_plus=exponential,
        ops=ops,
    )[0]
    uniforms = ops.reshape(unit_uniforms(spectrum_words, ops=ops), [2, -1])
    normals = ops.reshape(
        standard_normals(uniforms[0], uniforms[1], ops=ops), [2, -1, height, width // 2 + 1]
    )
    images = low_frequency_images(
        normals[0], normals[1], height, width, options["fmix_decay_power"], ops=ops
    )
    own = binarise(images, lam, extra[0] > 0.5, options["fmix_max_soft"], ops=ops)
    return mask_draw(1.0 - own, build.image_size, ops=ops)


FMIX = Method(
    name="fmix",
    title="FMix",
    alpha="fmix_alpha",
    options=(
        alpha_option("fmix", "FMix"),
        Option(
            "fmix_decay_power",
            3.0,
            runtime=False,
            validate=lambda value, name: validate_real_in(
                value, name, 0.0, math.inf, open_low=True
            ),
            doc="the decay of FMix's spectrum, 1 / f ** decay_power (larger: smoother masks)",
            owner="fmix",
            argument="decay_power",
        ),
        Option(
            "fmix_max_soft",
            0.0,
            runtime=False,
            validate=lambda value, name: validate_real_in(value, name, 0.0, 0.5),
            doc="the share of pixels on each side of FMix's threshold given soft weights",
            owner="fmix",
            argument="max_soft",
        ),
        Option(
            "fmix_reformulate",
            False,
            runtime=False,
            validate=validate_bool,
            doc="draw FMix's lambda from Beta(alpha + 1, alpha) (the paper's reformulation)",
            owner="fmix",
            argument="reformulate",
        ),
    ),
    streams=STREAMS,
    requests=_requests,
    draw=_draw,
    needs_image_size=True,
    pairs_only=True,
    cuts=True,
    soft=lambda options: options["fmix_max_soft"] > 0,
)


@keras.saving.register_keras_serializable(package="keras_mixup")
class FMix(MixingMethod):
    """FMix: the partner shows through a random low-frequency mask of any shape.

    `lam ~ Beta(alpha, alpha)` sets the share of pixels the example keeps: the `lam H W`
    largest pixels of a grey image with a `1 / f ** decay_power` spectrum are the
    example's, the rest the partner's. The targets are the mask's means, exactly.
    Inputs: images of a static size; boxes and segmentation masks follow the mask.

    Args:
        alpha: the Beta concentration, a finite number >= 0 (1: the paper's). Run-time.
        decay_power: the spectrum's decay, > 0 (3: the paper's; larger: smoother masks).
        max_soft: in [0, 0.5]: the share of pixels on each side of the threshold given
            soft weights (0: a binary mask; > 0 mixes pixels, so integer segmentation
            masks are one-hot encoded).
        reformulate: draw `lam ~ Beta(alpha + 1, alpha)` (the paper's reformulation).

    Raises:
        TypeError, ValueError: an option out of range or of the wrong type.

    Source: Harris, Marcu, Painter, Niranjan, Prügel-Bennett & Hare, "FMix: Enhancing
    Mixed Sample Data Augmentation", arXiv 2002.12047, 2020, Section 3. The published
    `fmix.py` (and OpenMixup's, keras-cv's copies) takes two rows of the height axis as the
    spectrum's real and imaginary parts; here the last axis is split (docs/semantics.md).
    """

    method = FMIX

    def __init__(
        self,
        alpha: float = 1.0,
        decay_power: float = 3.0,
        max_soft: float = 0.0,
        reformulate: bool = False,
    ):
        super().__init__(
            alpha=alpha, decay_power=decay_power, max_soft=max_soft, reformulate=reformulate
        )

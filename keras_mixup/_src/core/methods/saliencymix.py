"""SaliencyMix (Uddin, Monira, Shin, Chung & Bae, "SaliencyMix: A Saliency Guided Data
Augmentation Strategy for Better Regularization", ICLR 2021): CutMix's box, centred on
the most salient pixel of the partner instead of a random one, so that the pasted
patch shows the partner's object rather than its background.

The saliency is the spectral residual of Hou & Zhang (CVPR 2007), computed in the
traced graph with the bindings' 2-D DFT: the image's log amplitude spectrum minus its
local (3 x 3) mean, back to the image plane with the image's own phase, squared and
smoothed by a Gaussian of an eighth of the image's sides. The method reads the batch
(`Method.reads_batch`): the images of each draw's partner.
"""

from __future__ import annotations

import math

import keras

from keras_mixup._src.core.methods.base import (
    Draw,
    Method,
    MixingMethod,
    alpha_option,
    box_around,
)
from keras_mixup._src.core.sampling import as_alpha, gamma_requests, weights_from_words

STREAMS = {"gamma": 18}  # lambda's Gamma variates

# log(|F| + EPSILON): a frequency without energy has a finite log amplitude
EPSILON = 1e-8


def _neighbour_mean(x, axis: int, *, ops):
    """The mean of each entry and its two neighbours along `axis` (1 or 2 of
    `[n, H, W]`), the indices wrapping around (the spectrum is periodic)."""
    size = ops.size(x, axis)
    index = ops.arange(size)
    before = ops.take(x, (index + size - 1) % size, axis=axis)
    after = ops.take(x, (index + 1) % size, axis=axis)
    return (before + x + after) / 3.0


def _signed_frequencies(size, *, ops):
    """The DFT's frequency indices `0, 1, ..., -2, -1` of a side of `size`, float32."""
    index = ops.arange(size)
    return ops.cast(ops.where(2 * index <= size, index, index - size), "float32")


def spectral_residual(images, *, ops):
    """The spectral-residual saliency (Hou & Zhang 2007) of channels-last images
    `[n, H, W, C]` (any numeric dtype): float32 `[n, H, W]`, larger where more salient.

    The channels' sum `I` is transformed (`F = DFT(I)`); the residual
    `R = log|F| - mean3x3(log|F|)` (periodic) replaces the log amplitude, keeping the
    phase: `S = |IDFT(exp(R) F / |F|)|^2`, smoothed by a periodic Gaussian of `H / 8`,
    `W / 8` pixels (Hou & Zhang's sigma of 8 on 64-pixel images). A frequency without
    energy contributes nothing. The inverse DFTs are forward DFTs of the conjugate.
    """
    gray = ops.sum(ops.cast(images, "float32"), axis=-1)
    real, imag = ops.fft2(gray, gray * 0.0)
    amplitude = ops.sqrt(real * real + imag * imag)
    log_amplitude = ops.log(amplitude + EPSILON)
    local = _neighbour_mean(_neighbour_mean(log_amplitude, 1, ops=ops), 2, ops=ops)
    scale = ops.where(amplitude > 0, ops.exp(log_amplitude - local) / (amplitude + EPSILON), 0.0)
    back_real, back_imag = ops.fft2(real * scale, -imag * scale)
    saliency = back_real * back_real + back_imag * back_imag
    # the Gaussian's transfer function: sigma = size / 8 pixels is 1/8 of a cycle per
    # frequency index, exp(-2 pi^2 (sigma k / size)^2) = exp(-2 pi^2 (k / 8)^2)
    rows = _signed_frequencies(ops.size(gray, 1), ops=ops)[:, None] / 8.0
    columns = _signed_frequencies(ops.size(gray, 2), ops=ops)[None, :] / 8.0
    gaussian = ops.exp(-2.0 * math.pi**2 * (rows * rows + columns * columns))
    spectrum_real, spectrum_imag = ops.fft2(saliency, saliency * 0.0)
    smoothed, _ = ops.fft2(spectrum_real * gaussian, -spectrum_imag * gaussian)
    return smoothed


def salient_pixel(images, *, ops):
    """The row and column (int32 `[n]` each) of the most salient pixel of each image
    `[n, H, W, C]` (`spectral_residual`; the first in row-major order on a tie)."""
    saliency = spectral_residual(images, ops=ops)
    width = ops.size(saliency, 2)
    peak = ops.argmax(ops.reshape(saliency, [ops.size(saliency, 0), -1]), axis=1)
    return peak // width, peak % width


def _requests(build, *, ops) -> list:
    return gamma_requests(STREAMS["gamma"], 2 * build.num_draws, ops=ops)


def _draw(seed, words, values, build, *, ops) -> Draw:
    alpha = as_alpha(values["saliencymix_alpha"], ops=ops)
    lam = weights_from_words(seed, STREAMS["gamma"], words, 2, build.num_draws, alpha, ops=ops)[0]
    batch = build.batch
    partner_images = ops.take(batch.images, ops.take(batch.partners, batch.rows))
    centre_y, centre_x = salient_pixel(partner_images, ops=ops)
    box, area = box_around(lam, centre_y, centre_x, build.image_size, ops=ops)
    return Draw(own=1.0 - area, partner=area, box=box)


SALIENCYMIX = Method(
    name="saliencymix",
    title="SaliencyMix",
    alpha="saliencymix_alpha",
    options=(alpha_option("saliencymix", "SaliencyMix"),),
    streams=STREAMS,
    requests=_requests,
    draw=_draw,
    needs_image_size=True,
    pairs_only=True,
    cuts=True,
    reads_batch=True,
)


@keras.saving.register_keras_serializable(package="keras_mixup")
class SaliencyMix(MixingMethod):
    """SaliencyMix: CutMix's box, centred on the partner's most salient pixel.

    `lam ~ Beta(alpha, alpha)` sets the box's area before clipping, `(1 - lam) H W`, with
    the image's aspect ratio, centred on the peak of the partner's spectral-residual
    saliency; the targets weigh each source by the share of pixels it shows. Inputs:
    images `[B, H, W, C]` (`[B, C, H, W]` with `data_format="channels_first"`), read by
    the draw; boxes and segmentation masks follow the box. With one draw per batch (the
    paper's) the saliency of the first example's partner places every example's box.

    Args:
        alpha: the Beta concentration, a finite number >= 0 (1: the paper's). Run-time.

    Raises:
        TypeError, ValueError: `alpha` negative or not finite (a front composing it
            raises with `num_mixed > 2`, pairs only, and with inputs that are not images).

    Source: Uddin, Monira, Shin, Chung & Bae, "SaliencyMix: A Saliency Guided Data
    Augmentation Strategy for Better Regularization", ICLR 2021, Section 3;
    the saliency of Hou & Zhang, "Saliency Detection: A Spectral Residual Approach",
    CVPR 2007. The published code computes OpenCV's fine-grained saliency (Montabone &
    Soto 2010) on the host; ours is computed in the graph, at the images' resolution (Hou
    & Zhang first resize to 64 pixels). Where two pixels' saliency ties within float32
    rounding, backends may centre the box on different ones.
    """

    method = SALIENCYMIX

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=alpha)

"""SaliencyMix (issue 42): the spectral-residual saliency against an independent NumPy /
SciPy port of Hou & Zhang's algorithm, on every binding and under XLA; the peak on an
object whose place is known; the box centred on the partner's peak, its size distributed
as the published rule's; the same draws on every binding; the fronts read the images
(tf.data, NumPy, channels first, the element dict's masks); a clear error without them."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage, stats
from sklearn.datasets import load_digits

from keras_mixup import MixupTransform, sample_mix_params
from keras_mixup._src.bindings.ops import KERAS, NUMPY
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.core.methods.saliencymix import salient_pixel
from keras_mixup.methods import Mixup, SaliencyMix
from tests.images import coded_images, source_of

RNG = np.random.default_rng(0)
# real images: scikit-learn's 8 x 8 digits, upsampled to 32 x 32
DIGITS = np.kron(load_digits().images[:200], np.ones((4, 4)))[..., None].astype("float32")
NOISE = RNG.random((60, 24, 20, 3)).astype("float32")


def port_salient_pixel(image) -> tuple:
    """Hou & Zhang (CVPR 2007), written independently with NumPy's complex DFT and SciPy's
    filters: residual = log amplitude - its 3 x 3 mean, back with the phase, squared,
    smoothed by a Gaussian of an eighth of each side (periodic borders), its argmax."""
    gray = image.astype(np.float64).sum(-1)
    spectrum = np.fft.fft2(gray)
    log_amplitude = np.log(np.abs(spectrum) + 1e-8)
    residual = log_amplitude - ndimage.uniform_filter(log_amplitude, 3, mode="wrap")
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    sigma = (gray.shape[0] / 8, gray.shape[1] / 8)
    smoothed = ndimage.gaussian_filter(saliency, sigma, mode="wrap")
    return np.unravel_index(np.argmax(smoothed), smoothed.shape)


def _xla_salient_pixel(images):
    return tf.function(lambda x: salient_pixel(x, ops=TENSORFLOW), jit_compile=True)(images)


@pytest.mark.parametrize("where", ["numpy", "tensorflow", "xla", "keras"])
@pytest.mark.parametrize("images", [DIGITS, NOISE], ids=["digits", "noise"])
def test_the_salient_pixel_is_the_independent_port_s(where, images):
    expected = np.array([port_salient_pixel(image) for image in images])
    if where == "numpy":
        rows, columns = salient_pixel(images, ops=NUMPY)
    elif where == "tensorflow":
        rows, columns = salient_pixel(tf.constant(images), ops=TENSORFLOW)
    elif where == "xla":
        rows, columns = _xla_salient_pixel(tf.constant(images))
    else:
        rows, columns = salient_pixel(keras.ops.convert_to_tensor(images), ops=KERAS)
    found = np.stack([keras.ops.convert_to_numpy(rows), keras.ops.convert_to_numpy(columns)], 1)
    np.testing.assert_array_equal(found, expected)


def scenes(count, height, width, rng):
    """Images of a 1/f-noise background with one bright blob (sigma 1.5 pixels) at a
    known place, 3 channels; and the blobs' centres."""
    images, centres = [], []
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]
    yy, xx = np.mgrid[:height, :width]
    for _ in range(count):
        background = np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(height, width)))
                                          / (1e-2 + np.hypot(fy, fx))))  # fmt: skip
        background = (background - background.mean()) / background.std() * 0.2
        cy, cx = rng.integers(6, height - 6), rng.integers(6, width - 6)
        blob = 2.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.5**2))
        images.append(np.repeat((background + blob)[..., None], 3, axis=-1))
        centres.append((cy, cx))
    return np.array(images, "float32"), np.array(centres)


@pytest.mark.parametrize("size", [(32, 32), (28, 36)])
def test_the_peak_is_on_the_object_whose_place_is_known(size):
    images, centres = scenes(100, *size, np.random.default_rng(1))
    rows, columns = salient_pixel(images, ops=NUMPY)
    distance = np.maximum(abs(rows - centres[:, 0]), abs(columns - centres[:, 1]))
    # on the blob (its half maximum is 1.8 pixels from its centre) in every image; a
    # random centre would be within 2 pixels in about 2 % of them
    assert distance.max() <= 2 and np.median(distance) <= 1, distance


def _contains(box, row, column) -> bool:
    top, left, bottom, right = box
    return bool(top <= row < bottom and left <= column < right)


@pytest.mark.parametrize("per_example", [False, True])
def test_the_box_is_centred_on_the_partner_s_most_salient_pixel(per_example):
    images = DIGITS[:16]
    peaks = [port_salient_pixel(image) for image in images]
    for seed in range(5):
        params = sample_mix_params(np.array([seed, 3]), 16, methods=[SaliencyMix(1.0)],
                                   images=images, per_example=per_example)  # fmt: skip
        for row in range(16):
            # one draw per batch: the first example's partner places every box (the paper's)
            partner = params.permutation[row if per_example else 0]
            top, left, bottom, right = params.box[row]
            if bottom > top and right > left:
                assert _contains(params.box[row], *peaks[partner])
            area = (bottom - top) * (right - left) / (32 * 32)
            np.testing.assert_allclose(params.partner_weight[row], area, atol=1e-6)
            np.testing.assert_allclose(params.mix_weight[row], 1 - area, atol=1e-6)
        if not per_example:
            assert (params.box == params.box[0]).all()


def published_box(lam, row, column, height, width):
    """The authors' `saliency_bbox` (SaliencyMix, ICLR 2021) around a given peak."""
    cut_h, cut_w = int(height * np.sqrt(1 - lam)), int(width * np.sqrt(1 - lam))
    top, bottom = np.clip([row - cut_h // 2, row + cut_h // 2], 0, height)
    left, right = np.clip([column - cut_w // 2, column + cut_w // 2], 0, width)
    return top, left, bottom, right


def test_the_pasted_area_is_distributed_as_the_published_rule_s():
    """Per-example draws over 1,200 rows against the published code's box (NumPy's Beta
    lambdas) around the same peaks: the realised areas' distributions agree (two-sample
    KS), and the box is always the one around the partner's peak."""
    images = DIGITS[:24]
    peaks = [port_salient_pixel(image) for image in images]
    ours, published = [], []
    rng = np.random.default_rng(7)
    for seed in range(50):
        params = sample_mix_params(np.array([seed, 11]), 24, methods=[SaliencyMix(1.0)],
                                   images=images, per_example=True)  # fmt: skip
        ours += list(params.partner_weight)
        for row in range(24):
            top, left, bottom, right = published_box(
                rng.beta(1.0, 1.0), *peaks[params.permutation[row]], 32, 32
            )
            published.append((bottom - top) * (right - left) / (32 * 32))
    assert stats.ks_2samp(ours, published).pvalue > 1e-3
    assert 0.2 < np.mean(ours) < 0.45  # clipped at the digits' borders: below 1/2


def test_the_same_seed_draws_the_same_box_on_every_binding():
    kwargs = dict(per_example=True, methods=[Mixup(0.5), SaliencyMix(1.0)])
    seed, images = np.array([4, 2], "int32"), DIGITS[:24]
    host = sample_mix_params(seed, 24, images=images, **kwargs)
    eager = sample_mix_params(tf.constant(seed), 24, images=tf.constant(images), **kwargs)
    xla = tf.function(lambda s, x: sample_mix_params(s, 24, images=x, **kwargs), jit_compile=True)(
        tf.constant(seed), tf.constant(images)
    )
    on_keras = sample_mix_params(keras.ops.convert_to_tensor(seed), 24, ops=KERAS,
                                 images=keras.ops.convert_to_tensor(images), **kwargs)  # fmt: skip
    assert host.cut.any() and (~host.cut).any()  # SaliencyMix and mixup in the batch
    for other in (eager, xla, on_keras):
        for field in ("permutation", "box", "cut"):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(getattr(other, field)), getattr(host, field)
            )
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(other.mix_weight), host.mix_weight, rtol=1e-5, atol=1e-6
        )


def test_the_transform_reads_the_images_in_every_layout_and_pipeline():
    """Channels first gives the channels-last box; tf.data the same with and without XLA."""
    images, labels = DIGITS[:8], np.arange(8)
    options = dict(methods=[SaliencyMix(1.0)], num_classes=8, per_example=True, seed=5)
    last = MixupTransform(**options)(images, labels)
    first = MixupTransform(**options, data_format="channels_first")(
        images.transpose(0, 3, 1, 2), labels
    )
    np.testing.assert_array_equal(first[0].transpose(0, 2, 3, 1), last[0])
    np.testing.assert_array_equal(first[1], last[1])
    mixed = [
        next(iter(tf.data.Dataset.from_tensors((images, labels)).map(
            MixupTransform(**options, jit_compile=jit_compile))))
        for jit_compile in (False, True)
    ]  # fmt: skip
    np.testing.assert_allclose(mixed[0][1].numpy(), mixed[1][1].numpy(), atol=1e-6)
    np.testing.assert_allclose(mixed[0][0].numpy(), mixed[1][0].numpy(), atol=1e-6)
    assert (mixed[0][1].numpy().max(axis=1) < 1).any()  # mixed


def test_segmentation_masks_and_images_come_from_the_same_source():
    images = coded_images(6, 12, 10)
    element = {"images": images, "labels": np.arange(6),
               "segmentation_masks": (np.arange(6)[:, None, None, None]
                                      * np.ones((1, 12, 10, 1))).astype("int32")}  # fmt: skip
    transform = MixupTransform(methods=[SaliencyMix(1.0)], num_classes={"labels": 6},
                               per_example=True, seed=2)  # fmt: skip
    mixed = transform(element)
    assert mixed["segmentation_masks"].dtype == np.int32  # whole pixels: ids kept
    np.testing.assert_array_equal(mixed["segmentation_masks"][..., 0], source_of(mixed["images"]))
    assert (source_of(mixed["images"]) != np.arange(6)[:, None, None]).any()


def test_without_the_images_the_error_says_to_pass_them():
    with pytest.raises(ValueError, match=r"SaliencyMix reads the batch's images.*`images`"):
        sample_mix_params(np.array([1, 2]), 4, methods=[SaliencyMix(1.0)], image_size=(8, 8))


def test_nested_and_single_channel_features_are_read_as_images():
    """Review of issue 42: the first feature is the one read (every feature is an image of
    one size); `[B, H, W]` images have one channel."""
    images, labels = DIGITS[:6], np.arange(6)
    options = dict(methods=[SaliencyMix(1.0)], num_classes=6, per_example=True, seed=4)
    (first, second), targets = MixupTransform(**options)((images, images * 2), labels)
    np.testing.assert_allclose(second, 2 * first, rtol=1e-6)
    gray, gray_targets = MixupTransform(**options)(images[..., 0], labels)
    np.testing.assert_array_equal(gray, first[..., 0])
    np.testing.assert_array_equal(gray_targets, targets)


def test_an_image_size_other_than_the_images_is_refused():
    with pytest.raises(ValueError, match=r"`image_size` must be the \(H, W\) of `images`"):
        sample_mix_params(np.array([1, 2]), 4, methods=[SaliencyMix(1.0)], images=DIGITS[:4],
                          image_size=(8, 8))  # fmt: skip

"""FMix (`keras_mixup/_src/core/methods/fmix.py`): the decay law of the spectrum along both
axes (and the authors' construction, which the same check rejects), the binarisation by
rank from injected grey images against the reference's index assignments, lambda's
distribution (and the reformulation's), per-shard masks, boxes' visible fractions against
pixel counts, integer segmentation masks, errors (exact target weights, the same draws on
every binding and the layer under XLA: test_pasting.py)."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_mixup import MixParams, MixupLayer, MixupLoss, MixupTransform, sample_mix_params
from keras_mixup._src.bindings.ops import KERAS, NUMPY
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.core.elements import parse_element
from keras_mixup._src.core.methods import METHODS
from keras_mixup._src.core.methods.fmix import binarise, low_frequency_images, spectrum_scale
from keras_mixup._src.core.sampler import draw_mix_params, method_options, traced_methods
from keras_mixup._src.core.spec import MixSpec
from keras_mixup.methods import FMix, Mixup
from tests.images import coded_images

P_MIN = 1e-3
H, W = 12, 10


# ---------------------------------------------------------------- the spectrum


def test_the_spectrum_scale_is_the_decay_law_with_the_self_conjugate_columns_doubled_in_power():
    scale = spectrum_scale(8, 10, 3.0)
    assert scale.shape == (8, 6)
    np.testing.assert_allclose(scale[0, 1], 0.1**-3, rtol=1e-6)  # f = 1/10
    np.testing.assert_allclose(scale[2, 3], (0.25**2 + 0.3**2) ** -1.5, rtol=1e-6)
    np.testing.assert_allclose(scale[1, 0], math.sqrt(2) * 8**3, rtol=1e-6)  # f_x = 0
    np.testing.assert_allclose(scale[0, 0], math.sqrt(2) * 10**3, rtol=1e-6)  # 1 / max(H, W)
    np.testing.assert_allclose(scale[3, 5], math.sqrt(2) * (0.375**2 + 0.25) ** -1.5, rtol=1e-6)
    assert spectrum_scale(8, 9, 3.0)[1, -1] == pytest.approx((0.125**2 + (4 / 9) ** 2) ** -1.5)


def authors_images(count, size, decay, rng):
    """Grey images as the authors' `make_low_freq_image` builds them (ecs-vlc/FMix,
    copied by OpenMixup and keras-cv): `spectrum[:, 0] + 1j * spectrum[:, 1]` on the
    array `[1, H, W // 2 + 1, 2]` takes rows 0 and 1 of the height axis."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[: size // 2 + 1]
    scale = 1.0 / np.maximum(np.sqrt(fx * fx + fy * fy), 1.0 / size) ** decay
    images = []
    for _ in range(count):
        spectrum = scale[None, :, :, None] * rng.normal(size=(1, size, size // 2 + 1, 2))
        spectrum = spectrum[:, 0] + 1j * spectrum[:, 1]
        images.append(np.real(np.fft.irfftn(spectrum, (size, size)))[0, :size, :size])
    return np.array(images)


def ours(count, size, decay, rng):
    real, imag = rng.normal(size=(2, count, size, size // 2 + 1)).astype("float32")
    return low_frequency_images(real, imag, size, size, decay, ops=NUMPY)


def axis_power(images):
    """The mean power of the images' spectrum along f_y (f_x = 0) and along f_x (f_y = 0),
    at the frequencies 1..size/2 - 1 of each, and those frequencies."""
    power = np.mean(np.abs(np.fft.rfft2(images)) ** 2, axis=0)
    size = images.shape[1]
    k = np.arange(1, size // 2)
    return power[k, 0], power[0, k], k / size


def follows_the_decay_law(images, decay) -> bool:
    """The check: along each axis the log-log slope of the power is -2 decay (within
    0.4), and the two axes carry the same power (their mean ratio within 25 %)."""
    along_y, along_x, freqs = axis_power(images)
    slopes = [np.polyfit(np.log(freqs), np.log(p), 1)[0] for p in (along_y, along_x)]
    ratio = np.exp(np.mean(np.log(along_y / along_x)))
    return all(abs(s + 2 * decay) < 0.4 for s in slopes) and 0.8 < ratio < 1.25


@pytest.mark.parametrize("decay", [2.0, 3.0])
def test_the_mean_power_spectrum_follows_the_decay_law_along_both_axes(decay):
    rng = np.random.default_rng(int(decay))
    assert follows_the_decay_law(ours(400, 32, decay, rng), decay)
    assert not follows_the_decay_law(authors_images(400, 32, decay, rng), decay)


def transitions(masks, axis):
    """The number of changes between the two sources along each line of an axis."""
    return np.abs(np.diff(masks, axis=axis)).sum(axis=axis)


def test_sampled_masks_vary_as_much_across_the_width_as_down_the_height():
    """Binarised masks as the sampler draws them: as many changes of source along the
    rows as along the columns, and on both axes lines that cross several runs of the
    partner's pixels. The authors' masks have at most one cycle across the width: no
    row crosses more than one run (two changes)."""
    params = sample_mix_params(
        np.array([3, 9], "int32"), 1000, None, True, methods=[FMix(1.0, decay_power=2.0)],
        image_size=(32, 32),
    )  # fmt: skip
    across, down = transitions(params.mask, 2), transitions(params.mask, 1)
    assert 0.93 < across.mean() / down.mean() < 1.07  # measured: 0.999
    several_across, several_down = (across > 2).mean(), (down > 2).mean()
    assert several_across > 0.1 and 0.85 < several_across / several_down < 1.15  # 0.19, 0.98
    grey = authors_images(300, 32, 3.0, np.random.default_rng(0)).astype("float32")
    lam = np.full(300, 0.5, "float32")
    theirs = binarise(grey, lam, np.ones(300, bool), 0.0, ops=NUMPY)
    assert (transitions(theirs, 2) > 2).mean() == 0.0 < (transitions(theirs, 1) > 2).mean()


# ---------------------------------------------------------------- binarisation, exactly


def reference_binarise(grey, num, max_soft, lam):
    """The authors' `binarise_mask` with its `num` given: index assignments in their order."""
    idx = grey.reshape(-1).argsort()[::-1]
    mask = grey.reshape(-1).astype("float64").copy()
    eff_soft = min(lam, 1 - lam) if (max_soft > lam or max_soft > 1 - lam) else max_soft
    soft = int(mask.size * eff_soft)
    low, high = num - soft, num + soft
    mask[idx[:high]] = 1
    mask[idx[low:]] = 0
    mask[idx[low:high]] = np.linspace(1, 0, high - low)
    return mask.reshape(grey.shape)


@pytest.mark.parametrize("ops_name", ["numpy", "tensorflow", "keras"])
def test_binarisation_by_rank_from_injected_images(ops_name):
    ops = {"numpy": NUMPY, "tensorflow": TENSORFLOW, "keras": KERAS}[ops_name]
    rng = np.random.default_rng(0)
    grey = rng.normal(size=(4, 10, 10)).astype("float32")
    lam = np.float32([0.374, 0.374, 0.5, 0.034])
    ceil = np.array([True, False, True, True])
    cases = [(0.0, [38, 37, 50, 4]), (0.1, [38, 37, 50, 4])]
    for max_soft, nums in cases:
        own = binarise(ops.convert(grey), ops.convert(lam), ops.convert(ceil), max_soft, ops=ops)
        own = keras.ops.convert_to_numpy(own) if ops_name == "keras" else np.asarray(own)
        for i, num in enumerate(nums):
            expected = reference_binarise(grey[i], num, max_soft, float(lam[i]))
            np.testing.assert_allclose(own[i], expected, atol=1e-6)
            assert own[i].sum() == pytest.approx(num, abs=1e-4)  # the realised area


def test_a_binary_mask_gives_the_largest_pixels_to_the_example():
    grey = np.arange(20, dtype="float32").reshape(1, 4, 5)  # pixel i holds i
    own = binarise(grey, np.float32([0.37]), np.array([True]), 0.0, ops=NUMPY)
    np.testing.assert_array_equal(own.reshape(-1), np.arange(20) >= 12)  # ceil(7.4) = 8 pixels
    own = binarise(grey, np.float32([0.37]), np.array([False]), 0.0, ops=NUMPY)
    assert own.sum() == 7


# ---------------------------------------------------------------- the draws


@pytest.mark.parametrize(("alpha", "reformulate"), [(0.5, False), (2.0, False), (1.0, True)])
def test_the_realised_share_follows_lambda_s_beta(alpha, reformulate):
    """The example's realised share is lambda rounded to whole pixels (16 x 16: within
    1/256): Beta(alpha, alpha), or Beta(alpha + 1, alpha) reformulated."""
    params = sample_mix_params(
        np.array([11, int(alpha * 10)], "int32"), 3000, None, True,
        methods=[FMix(alpha, reformulate=reformulate)], image_size=(16, 16),
    )  # fmt: skip
    shares = params.mix_weight
    first = alpha + 1 if reformulate else alpha
    assert stats.kstest(shares, stats.beta(first, alpha).cdf).pvalue > P_MIN
    np.testing.assert_allclose(shares, 1.0 - params.mask.mean(axis=(1, 2)), atol=1e-6)


def test_the_coin_rounds_down_and_up_equally_often():
    """`lambda H W` is rounded down or up by a fair coin: with 3 x 3 images the realised
    share's mean equals lambda's, 1/2 (a fixed rounding would shift it by 1/18)."""
    params = sample_mix_params(
        np.array([2, 5], "int32"), 20000, None, True, methods=[FMix(1.0)], image_size=(3, 3)
    )
    assert abs(params.mix_weight.mean() - 0.5) < 0.01


def test_each_shard_draws_its_own_mask():
    spec = MixSpec(alpha=0.0, fmix_alpha=1.0)
    params = draw_mix_params(
        np.array([1, 2], "int32"), 8, spec.runtime_values(),
        methods=traced_methods(dict(spec.built_alphas)), per_example=False, num_mixed=2,
        options=method_options(vars(spec)), image_size=(H, W), groups=None, shards=2, ops=NUMPY,
    )  # fmt: skip
    mask = np.asarray(params.mask)
    assert mask.shape == (8, H, W)
    for shard in (mask[:4], mask[4:]):
        assert (shard == shard[0]).all()
    assert (mask[0] != mask[4]).any()
    assert (params.permutation[:4] < 4).all() and (params.permutation[4:] >= 4).all()


# ---------------------------------------------------------------- boxes and masks


def test_bounding_boxes_keep_the_share_their_source_shows():
    """With an injected mask: boxes keep their geometry; each is kept where its source
    shows at least `min_box_visibility` of it, counted pixel by pixel."""
    rng = np.random.default_rng(1)
    mask = np.float32(rng.random((2, H, W)) < 0.5)  # the partner's pixels
    params = MixParams(
        mix_weight=1.0 - mask.mean(axis=(1, 2)),
        permutation=np.int32([1, 0]),
        box=np.int32([[0, 0, H, W]] * 2),
        cut=np.bool_([True, True]),
        partner_weight=mask.mean(axis=(1, 2)),
        mask=mask,
    )
    corners = []
    for _ in range(16):
        y1, x1 = rng.integers(0, H - 2), rng.integers(0, W - 2)
        corners.append([x1, y1, rng.integers(x1 + 1, W + 1), rng.integers(y1 + 1, H + 1)])
    boxes = np.float32([corners[:8], corners[8:]])
    element = {
        "images": coded_images(2, H, W),
        "labels": np.int32([0, 1]),
        "bounding_boxes": {"boxes": boxes, "labels": np.int32([[1] * 8, [2] * 8])},
    }
    transform = MixupTransform(methods=[FMix(1.0)], num_classes=3,
                               bounding_box_format="xyxy", min_box_visibility=0.5)  # fmt: skip
    parts, _ = parse_element((element,), "test")
    out = transform.spec.apply(parts, params, feature_dtype="float32", ops=NUMPY)
    mixed = np.asarray(out.bounding_boxes["boxes"])
    for image in range(2):
        for index in range(8):
            x1, y1, x2, y2 = boxes[image, index].astype(int)
            own_shown = 1 - mask[image, y1:y2, x1:x2].mean()
            assert (mixed[image, index, 0] != -1) == (own_shown >= 0.5), (image, index)
            if own_shown >= 0.5:
                np.testing.assert_array_equal(mixed[image, index], boxes[image, index])
            px1, py1, px2, py2 = boxes[1 - image, index].astype(int)
            partner_shown = mask[image, py1:py2, px1:px2].mean()
            kept = mixed[image, 8 + index, 0] != -1
            assert kept == (partner_shown >= 0.5), (image, index)
            if kept:
                np.testing.assert_array_equal(mixed[image, 8 + index], boxes[1 - image, index])


def test_relative_boxes_use_the_exact_integral_of_the_mask():
    """A relative box over fractions of pixels: the share is the mask's integral (bilinear
    in the summed-area table), here 1.5 of the 3 pixel-areas the box covers."""
    mask = np.zeros((1, 4, 4), "float32")
    mask[0, 1, 1] = 1.0  # one partner pixel
    params = MixParams(
        mix_weight=np.float32([15 / 16]), permutation=np.int32([0]),
        box=np.int32([[0, 0, 4, 4]]), cut=np.bool_([True]),
        partner_weight=np.float32([1 / 16]), mask=mask,
    )  # fmt: skip
    element = {
        "images": np.zeros((1, 4, 4, 1), "float32"),
        "labels": np.int32([0]),
        # rel_yxyx: y 0.25..1.0 (rows 1..4), x 0.125..0.5 (columns 0.5..2): 3 x 1.5 pixels,
        # of which the partner pixel (1, 1) covers 1 x 1
        "bounding_boxes": {"boxes": np.float32([[[0.25, 0.125, 1.0, 0.5]]]),
                           "labels": np.int32([[1]])},
    }  # fmt: skip
    for visibility, kept in ((0.77, True), (0.78, False)):  # 1 - 1 / 4.5 = 0.778
        spec = MixSpec(alpha=0.0, fmix_alpha=1.0, num_classes=2,
                       bounding_box_format="rel_yxyx", min_box_visibility=visibility)  # fmt: skip
        parts, _ = parse_element((element,), "test")
        # an example paired with itself is unchanged: pair it with a copy instead
        params2 = params._replace(permutation=np.int32([1, 0]),
                                  **{k: np.concatenate([getattr(params, k)] * 2)
                                     for k in ("mix_weight", "box", "cut", "partner_weight",
                                               "mask")})  # fmt: skip
        parts = parts._replace(
            features=np.concatenate([parts.features] * 2),
            labels=np.int32([0, 1]),
            bounding_boxes={k: np.concatenate([v] * 2) for k, v in parts.bounding_boxes.items()},
        )
        out = spec.apply(parts, params2, feature_dtype="float32", ops=NUMPY)
        assert (np.asarray(out.bounding_boxes["labels"])[0, 0] != -1) == kept, visibility


def test_integer_segmentation_masks_are_pasted_as_they_are():
    masks = np.stack([np.full((H, W), 255 if i == 0 else i, "int32") for i in range(4)])
    element = {"images": coded_images(4, H, W), "labels": np.arange(4), "segmentation_masks": masks}
    transform = MixupTransform(methods=[FMix(1.0)], num_classes={"labels": 4}, seed=1)
    out = transform(element)
    source = np.asarray(out["images"])[..., 0] // 10_000
    assert np.asarray(out["segmentation_masks"]).dtype == np.int32
    np.testing.assert_array_equal(
        np.asarray(out["segmentation_masks"]), np.where(source == 0, 255, source)
    )


def test_soft_edges_need_num_classes_for_integer_masks_and_mix_them_per_pixel():
    masks = np.stack([np.full((H, W), i, "int32") for i in range(4)])
    element = {"images": coded_images(4, H, W), "labels": np.arange(4), "segmentation_masks": masks}
    soft = dict(methods=[FMix(1.0, max_soft=0.2)], seed=1)
    with pytest.raises(ValueError, match="`segmentation_masks` are integer class ids"):
        MixupTransform(num_classes={"labels": 4}, **soft)(element)
    out = MixupTransform(num_classes={"labels": 4, "segmentation_masks": 4}, **soft)(element)
    targets = np.asarray(out["segmentation_masks"])
    assert targets.shape == (4, H, W, 4)
    np.testing.assert_allclose(targets.sum(-1), 1.0, atol=1e-6)
    assert ((targets > 0.01) & (targets < 0.99)).any()  # soft edges


# ---------------------------------------------------------------- errors


def test_fmix_needs_images_of_a_known_size():
    dataset = tf.data.Dataset.from_generator(
        lambda: iter([(np.zeros((2, H, W, 1), "float32"), np.eye(2, dtype="float32"))]),
        output_signature=(tf.TensorSpec([None, None, None, 1]), tf.TensorSpec([None, 2])),
    )
    with pytest.raises(ValueError, match="FMix draws its mask on the images' frequency grid"):
        dataset.map(MixupTransform(methods=[Mixup(1.0), FMix(1.0)]))


def test_fmix_mixes_pairs_only_and_refuses_masked_sequences():
    with pytest.raises(ValueError, match="FMix mixes one partner's pixels.*fmix_alpha=1.0"):
        MixupTransform(methods=[Mixup(1.0, num_mixed=3), FMix(1.0)])
    layer = MixupLayer(methods=[FMix(1.0)])
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Embedding(10, 4, mask_zero=True), layer,
         keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)]
    )  # fmt: skip
    model.compile(optimizer="sgd", loss=MixupLoss("sparse_categorical_crossentropy", layer=layer))
    with pytest.raises(ValueError, match="FMix mixes regions of images"):
        model.train_on_batch(np.array([[1, 2, 0, 0, 0]] * 4), np.array([0, 1, 0, 1]))


def test_fmix_is_registered_after_the_methods_before_it():
    names = [m.name for m in METHODS]
    assert names.index("fmix") > names.index("gridmix")  # the draws of earlier seeds keep

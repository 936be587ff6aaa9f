"""SmoothMix (`keras_mixup/_src/core/methods/smoothmix.py`): the Gaussian mask from injected
centres and widths, which image owns which weight (read back from the mixed pixels; the
assignment OpenMixup's `smoothmix.py` makes would fail it), exact target weights on every
binding, the draws against an independent NumPy sampler of the published algorithm, the
width's Beta, soft segmentation masks and boxes, errors (the same masks from the same seed
everywhere and the layer under XLA: test_pasting.py)."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_mixup import MixParams, MixupLayer, MixupTransform, sample_mix_params
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.elements import parse_element
from keras_mixup._src.core.methods.smoothmix import gaussian_masks
from keras_mixup.methods import Mixup, SmoothMix

P_MIN = 1e-3
H, W = 12, 16


def test_the_mask_is_the_gaussian_of_injected_centres_and_widths():
    mask = gaussian_masks(
        np.float32([3.0, 0.0]), np.float32([5.0, 15.0]), np.float32([4.0, 2.5]), (H, W), ops=NUMPY
    )
    assert mask.shape == (2, H, W)
    y, x = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    for i, (cy, cx, sigma) in enumerate([(3, 5, 4.0), (0, 15, 2.5)]):
        expected = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))
        np.testing.assert_allclose(mask[i], expected, rtol=1e-6, atol=1e-7)
    assert mask[0, 3, 5] == 1.0 and mask[1, 0, 15] == 1.0  # the centre is all partner


@pytest.mark.parametrize("where", ["numpy", "tf.data", "xla"])
@pytest.mark.parametrize("per_example", [False, True])
def test_the_partner_owns_the_mask_s_mean_and_the_example_the_rest(where, per_example):
    """Constant images (example i holds i + 1): a mixed pixel is `(1 - G) (i + 1) + G
    (j + 1)`, so G is read back from the pixels; the partner's class gets mean(G), the
    example's own class mean(1 - G). OpenMixup returns lam = mean(G) for the example's
    own label: the check below would fail it wherever mean(G) != 1/2."""
    n = 6
    images = np.broadcast_to(np.arange(1, n + 1, dtype="float32")[:, None, None, None],
                             (n, H, W, 1)).copy()  # fmt: skip
    labels = np.arange(n)
    transform = MixupTransform(
        methods=[SmoothMix(1.0)], num_classes=n, per_example=per_example, seed=5,
        jit_compile=where == "xla",
    )  # fmt: skip
    seen_uneven = False
    for _ in range(3):
        if where == "numpy":
            mixed, targets = transform(images, labels)
        else:
            dataset = tf.data.Dataset.from_tensors((images, labels)).map(transform)
            mixed, targets = map(np.asarray, next(iter(dataset)))
        for i in range(n):
            partner = int(np.argmax(np.where(np.arange(n) == i, -1, targets[i])))
            if targets[i, i] == pytest.approx(1.0):
                continue  # paired with itself
            g = (np.asarray(mixed)[i, ..., 0] - (i + 1)) / (partner - i)  # G, read back
            assert 0.0 <= g.min() and g.max() <= 1.0 + 1e-5
            np.testing.assert_allclose(targets[i, partner], g.mean(), atol=2e-5)
            np.testing.assert_allclose(targets[i, i], 1.0 - g.mean(), atol=2e-5)
            seen_uneven |= abs(g.mean() - 0.5) > 0.05
    assert seen_uneven


# ---------------------------------------------------------------- the draws


def reference_shares(count, rng, height, width, sigma=(0.25, 0.5)):
    """The partner's mean share from NumPy's own generator, the published algorithm
    (OpenMixup's `smoothmix`: a uniformly random centre, sigma ~ U(0.25, 0.5) times the
    side; here the side of a square image, whose centre is a uniformly random pixel)."""
    y, x = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    shares = []
    for _ in range(count):
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        s = rng.uniform(*sigma) * height
        shares.append(np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * s * s)).mean())
    return np.array(shares)


def test_the_partner_shares_follow_the_published_algorithm():
    ours = sample_mix_params(
        np.array([1, 7], "int32"), 3000, None, True, methods=[SmoothMix(1.0)], image_size=(24, 24)
    ).partner_weight
    reference = reference_shares(3000, np.random.default_rng(7), 24, 24)
    assert stats.ks_2samp(ours, reference).pvalue > P_MIN
    assert abs(ours.mean() - reference.mean()) < 0.01


@pytest.mark.parametrize("alpha", [0.3, 4.0])
def test_the_width_within_its_range_follows_beta(alpha):
    """The width is read back from each mask: G at one pixel from the centre is
    exp(-1 / (2 sigma^2)), sigma = s sqrt(H W), s = low + (high - low) u, u ~ Beta."""
    params = sample_mix_params(
        np.array([3, int(alpha * 10)], "int32"), 2000, None, True,
        methods=[SmoothMix(alpha, sigma=(0.1, 0.4))], image_size=(H, W),
    )  # fmt: skip
    mask = np.asarray(params.mask, np.float64)
    centre = mask.reshape(len(mask), -1).argmax(axis=1)
    cy, cx = centre // W, centre % W
    neighbour = np.where(cy + 1 < H, cy + 1, cy - 1)  # one row away
    g = mask[np.arange(len(mask)), neighbour, cx]
    sigma = np.sqrt(-1.0 / (2.0 * np.log(g)))
    u = (sigma / np.sqrt(H * W) - 0.1) / 0.3
    assert stats.kstest(u, stats.beta(alpha, alpha).cdf).pvalue > P_MIN


# ---------------------------------------------------------------- boxes and masks


def test_integer_segmentation_masks_need_num_classes_and_mix_per_pixel():
    masks = np.stack([np.full((H, W), i, "int32") for i in range(4)])
    images = np.broadcast_to(np.arange(4, dtype="float32")[:, None, None, None], (4, H, W, 1))
    element = {"images": images.copy(), "labels": np.arange(4), "segmentation_masks": masks}
    with pytest.raises(ValueError, match="`segmentation_masks` are integer class ids"):
        MixupTransform(methods=[SmoothMix(1.0)], num_classes={"labels": 4})(element)
    transform = MixupTransform(methods=[SmoothMix(1.0)], seed=2,
                               num_classes={"labels": 4, "segmentation_masks": 4})  # fmt: skip
    out = transform(element)
    targets, mixed = np.asarray(out["segmentation_masks"]), np.asarray(out["images"])[..., 0]
    for i in range(4):
        partner = int(np.argmax(np.where(np.arange(4) == i, -1, out["labels"][i])))
        if partner == i or out["labels"][i][i] == pytest.approx(1.0):
            continue
        g = (mixed[i] - i) / (partner - i)  # the partner's share of each pixel
        np.testing.assert_allclose(targets[i, ..., partner], g, atol=1e-5)
        np.testing.assert_allclose(targets[i, ..., i], 1.0 - g, atol=1e-5)


def test_boxes_are_kept_by_their_source_s_mean_share_and_keep_their_geometry():
    mask = gaussian_masks(np.float32([2.0, 9.0]), np.float32([3.0, 12.0]),
                          np.float32([3.0, 5.0]), (H, W), ops=NUMPY)  # fmt: skip
    params = MixParams(
        mix_weight=1.0 - mask.mean(axis=(1, 2)), permutation=np.int32([1, 0]),
        box=np.int32([[0, 0, H, W]] * 2), cut=np.bool_([True, True]),
        partner_weight=mask.mean(axis=(1, 2)), mask=mask,
    )  # fmt: skip
    boxes = np.float32([[[0, 0, 6, 5], [8, 6, 16, 12]], [[1, 1, 4, 4], [10, 7, 15, 11]]])  # xyxy
    element = {"images": np.zeros((2, H, W, 3), "float32"), "labels": np.int32([0, 1]),
               "bounding_boxes": {"boxes": boxes, "labels": np.int32([[1, 2], [3, 4]])}}  # fmt: skip
    spec = MixupTransform(methods=[SmoothMix(1.0)], num_classes=2, min_box_visibility=0.5,
                          bounding_box_format="xyxy").spec  # fmt: skip
    parts, _ = parse_element((element,), "test")
    out = spec.apply(parts, params, feature_dtype="float32", ops=NUMPY).bounding_boxes
    for image in range(2):
        for index in range(2):
            for offset, source, share in ((0, image, 1.0 - mask[image]),
                                          (2, 1 - image, mask[image])):  # fmt: skip
                x1, y1, x2, y2 = boxes[source, index].astype(int)
                shown = share[y1:y2, x1:x2].mean()
                kept = np.asarray(out["labels"])[image, offset + index] != -1
                assert kept == (shown >= 0.5), (image, index, offset, shown)
                if kept:
                    np.testing.assert_array_equal(
                        out["boxes"][image, offset + index], boxes[source, index]
                    )


# ---------------------------------------------------------------- errors and the layer


def test_smoothmix_options_are_checked():
    with pytest.raises(ValueError, match=r"SmoothMix: `sigma` must be \(a, b\) with 0.0 < a"):
        MixupTransform(methods=[Mixup(1.0), SmoothMix(1.0, sigma=(0.0, 0.5))])
    # widths are a share of the side, up to 10 (not 1, the other methods' ranges' bound)
    MixupTransform(methods=[Mixup(1.0), SmoothMix(1.0, sigma=(0.5, 10.0))])  # no error
    with pytest.raises(ValueError, match=r"<= b <= 10.0; got sigma=\(0.5, 11.0\)"):
        MixupTransform(methods=[Mixup(1.0), SmoothMix(1.0, sigma=(0.5, 11.0))])
    with pytest.raises(ValueError, match="SmoothMix mixes one partner's pixels"):
        MixupLayer(methods=[Mixup(1.0, num_mixed=3), SmoothMix(1.0)])

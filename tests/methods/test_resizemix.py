"""ResizeMix (`keras_mixup/_src/core/methods/resizemix.py`): the patch from injected values,
the pasted pixels against nearest-neighbour resizing done by hand and by PyTorch's
`interpolate(mode="nearest")` (the authors' and OpenMixup's), channels first, boxes scaled
into the patch, integer segmentation masks resized as they are, the draws against an
independent NumPy sampler of the published algorithm, errors (exact target weights, the
same draws on every binding and the layer under XLA: test_pasting.py)."""

import numpy as np
import pytest
from scipy import stats

from keras_mixup import MixParams, MixupLayer, MixupTransform, sample_mix_params
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.elements import parse_element
from keras_mixup._src.core.methods.resizemix import resized_patches
from keras_mixup._src.core.mixing import blend
from keras_mixup.methods import Mixup, ResizeMix
from tests.images import coded_images

P_MIN = 1e-3
H, W = 20, 16


def params_of(boxes, permutation, resized=True):
    boxes = np.int32(boxes)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (H * W)
    n = len(boxes)
    return MixParams(
        mix_weight=np.float32(1.0 - area), permutation=np.int32(permutation),
        box=boxes, cut=np.ones(n, bool), partner_weight=np.float32(area),
        resized=np.full(n, resized),
    )  # fmt: skip


def by_hand(images, params):
    """Each patch filled pixel by pixel: row r of the patch reads the partner's row
    floor(r H / patch height), columns alike (torch's legacy "nearest")."""
    out = images.copy()
    for i, (top, left, bottom, right) in enumerate(params.box):
        partner = images[params.permutation[i]]
        for r in range(bottom - top):
            for c in range(right - left):
                source = (r * H // (bottom - top), c * W // (right - left))
                out[i, top + r, left + c] = partner[source]
    return out


# ---------------------------------------------------------------- the patch, exactly


def test_the_patch_from_injected_tau_and_position_words():
    """tau 0.5 on 20 x 16: a 10 x 8 patch; top word 23 mod (20 - 10 + 1) = 1, left word
    40 mod (16 - 8 + 1) = 4. tau 0.01: sides floor to 0, kept at one pixel."""
    box, area = resized_patches(
        np.float32([0.5, 0.01]), np.int32([[23, 5], [40, 7]]), (H, W), ops=NUMPY
    )
    np.testing.assert_array_equal(box, [[1, 4, 11, 12], [5, 7, 6, 8]])
    np.testing.assert_allclose(area, [80 / 320, 1 / 320])


def test_the_pasted_pixels_are_the_partner_resized_by_nearest_neighbour():
    images = coded_images(3, H, W)
    params = params_of([[1, 4, 11, 12], [0, 0, 20, 16], [13, 9, 20, 16]], [2, 0, 1])
    mixed = np.asarray(blend(images, params))
    np.testing.assert_array_equal(mixed, by_hand(images, params))
    np.testing.assert_array_equal(mixed[1], images[0])  # a patch of the whole image: the partner
    # without `resized` the same box pastes the partner's pixels in place (CutMix)
    cut = np.asarray(blend(images, params._replace(resized=np.zeros(3, bool))))
    np.testing.assert_array_equal(cut[0, 1:11, 4:12], images[2, 1:11, 4:12])


def test_the_pasted_pixels_equal_pytorch_s_nearest_interpolation():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    images = rng.random((4, H, W, 3)).astype("float32")
    params = params_of([[2, 3, 9, 14], [0, 1, 17, 6], [5, 5, 6, 6], [4, 0, 20, 16]], [1, 3, 0, 2])
    mixed = np.asarray(blend(images, params))
    for i, (top, left, bottom, right) in enumerate(params.box):
        partner = torch.from_numpy(images[params.permutation[i]]).permute(2, 0, 1)[None]
        patch = torch.nn.functional.interpolate(
            partner, (int(bottom - top), int(right - left)), mode="nearest"
        )[0].permute(1, 2, 0)
        np.testing.assert_array_equal(mixed[i, top:bottom, left:right], patch.numpy())


def test_channels_first_images_and_per_pixel_weights_move_with_the_pixels():
    images = coded_images(3, H, W)
    params = params_of([[1, 4, 11, 12], [3, 2, 19, 10], [13, 9, 20, 16]], [2, 0, 1])
    last = np.asarray(blend(images, params))
    spec = MixupTransform(methods=[ResizeMix(1.0)], data_format="channels_first").spec
    parts, _ = parse_element((np.transpose(images, (0, 3, 1, 2)), np.zeros(3)), "test")
    first = spec.apply(parts, params, feature_dtype="float32", ops=NUMPY).features
    np.testing.assert_array_equal(np.transpose(first, (0, 2, 3, 1)), last)
    weights = images[..., 0]  # per-pixel sample weights [B, H, W] are moved alike
    spec = MixupTransform(methods=[ResizeMix(1.0)]).spec
    parts, _ = parse_element((images, np.zeros(3), weights), "test")
    mixed = spec.apply(parts, params, feature_dtype="float32", ops=NUMPY)
    np.testing.assert_array_equal(mixed.sample_weight, last[..., 0])


# ---------------------------------------------------------------- boxes and masks


def test_partner_boxes_are_scaled_into_the_patch_and_own_boxes_cut():
    """Image 0 gets image 1 resized into rows 10..20, columns 0..8 (half of each side):
    the partner's box (x 2..10, y 4..12) becomes x 1..5, y 12..16; the example's box
    x 0..4, y 14..20 is all under the patch (dropped), x 10..14, y 0..6 is untouched."""
    params = params_of([[10, 0, 20, 8], [0, 8, 10, 16]], [1, 0])
    boxes = np.float32([[[0, 14, 4, 20], [10, 0, 14, 6]], [[2, 4, 10, 12], [-1, -1, -1, -1]]])
    element = {"images": np.zeros((2, H, W, 3), "float32"), "labels": np.int32([0, 1]),
               "bounding_boxes": {"boxes": boxes, "labels": np.int32([[1, 2], [3, -1]])}}  # fmt: skip
    spec = MixupTransform(methods=[ResizeMix(1.0)], num_classes=2,
                          bounding_box_format="xyxy").spec  # fmt: skip
    parts, _ = parse_element((element,), "test")
    out = spec.apply(parts, params, feature_dtype="float32", ops=NUMPY).bounding_boxes
    np.testing.assert_array_equal(out["labels"][0], [-1, 2, 3, -1])
    np.testing.assert_allclose(out["boxes"][0, 1], [10, 0, 14, 6])
    np.testing.assert_allclose(out["boxes"][0, 2], [1, 12, 5, 16])
    np.testing.assert_allclose(out["mix_weights"][0], [0, 0.75, 0.25, 0])
    # image 1: image 0's boxes into rows 0..10, columns 8..16; its own box, partly under
    # the patch but not across a whole side, keeps its extent
    np.testing.assert_allclose(out["boxes"][1, 2], [8, 7, 10, 10])
    np.testing.assert_allclose(out["boxes"][1, 3], [13, 0, 15, 3])
    np.testing.assert_allclose(out["boxes"][1, 0], [2, 4, 10, 12])


def test_relative_boxes_are_scaled_into_the_patch():
    params = params_of([[10, 0, 20, 8], [0, 8, 10, 16]], [1, 0])
    boxes = np.float32([[[0.0, 0.0, 0.25, 0.5]], [[0.5, 0.5, 1.0, 1.0]]])  # rel_xyxy
    element = {"images": np.zeros((2, H, W, 3), "float32"), "labels": np.int32([0, 1]),
               "bounding_boxes": {"boxes": boxes, "labels": np.int32([[1], [2]])}}  # fmt: skip
    spec = MixupTransform(methods=[ResizeMix(1.0)], num_classes=2,
                          bounding_box_format="rel_xyxy").spec  # fmt: skip
    parts, _ = parse_element((element,), "test")
    out = spec.apply(parts, params, feature_dtype="float32", ops=NUMPY).bounding_boxes
    # image 0 shows image 1 in rows 10..20 (0.5..1), columns 0..8 (0..0.5)
    np.testing.assert_allclose(out["boxes"][0, 1], [0.25, 0.75, 0.5, 1.0])
    np.testing.assert_allclose(out["boxes"][1, 1], [0.5, 0.0, 0.625, 0.25])


def test_integer_segmentation_masks_are_resized_and_pasted_as_they_are():
    rng = np.random.default_rng(1)
    masks = rng.integers(0, 4, (3, H, W)).astype("int32")
    masks[0, :2] = 255  # the void label stays 255
    images = coded_images(3, H, W)
    element = {"images": images, "labels": np.arange(3), "segmentation_masks": masks}
    transform = MixupTransform(methods=[ResizeMix(1.0)], num_classes={"labels": 3},
                               ignore_class=255, seed=4)  # fmt: skip
    out = transform(element)
    assert out["segmentation_masks"].dtype == np.int32
    source = np.asarray(out["images"])[..., 0].astype(int)
    b, y, x = source // 10_000, source // 100 % 100, source % 100  # where each pixel came from
    np.testing.assert_array_equal(out["segmentation_masks"], masks[b, y, x])
    assert (b != np.arange(3)[:, None, None]).any()


# ---------------------------------------------------------------- the draws


def reference_patches(count, rng, scope=(0.1, 0.8)):
    """The published algorithm with NumPy's own generator: tau ~ U(scope), a patch of
    floor(tau H) x floor(tau W) at a uniformly random position inside the image."""
    tau = rng.uniform(*scope, count)
    height = np.maximum(np.floor(tau * H), 1).astype(int)
    width = np.maximum(np.floor(tau * W), 1).astype(int)
    top = rng.integers(0, H - height + 1)
    return height, width, top


def test_the_patches_follow_the_published_algorithm():
    params = sample_mix_params(
        np.array([2, 9], "int32"), 4000, None, True, methods=[ResizeMix(1.0)], image_size=(H, W)
    )
    top, left, bottom, right = np.asarray(params.box).T
    assert np.asarray(params.resized).all()
    height, width, ref_top = reference_patches(4000, np.random.default_rng(3))
    sides = np.arange(1, H + 1)
    ours = np.array([(bottom - top == s).sum() for s in sides])
    theirs = np.array([(height == s).sum() for s in sides])
    used = (ours + theirs) > 0
    assert stats.chi2_contingency(np.stack([ours[used], theirs[used]])).pvalue > P_MIN
    # the position is uniform on the room the patch leaves (a randomised PIT: exact)
    room = H - (bottom - top) + 1
    pit = (top + np.random.default_rng(0).random(len(top))) / room
    assert stats.kstest(pit, "uniform").pvalue > P_MIN
    # the width comes from the same tau: floor(tau W) for tau in [h / H, (h + 1) / H)
    height = bottom - top
    assert ((right - left >= np.maximum(height * W // H, 1)) &
            (right - left <= np.maximum((height + 1) * W // H, 1))).all()  # fmt: skip
    np.testing.assert_allclose(params.partner_weight, (bottom - top) * (right - left) / (H * W))


@pytest.mark.parametrize("alpha", [0.4, 5.0])
def test_the_side_ratio_within_its_scope_follows_beta(alpha):
    """tau = low + (high - low) u, u ~ Beta(alpha, alpha), read back from the patch's side
    on a large image (floor(tau H) loses under 1 / H)."""
    size = (10_000, 10_000)
    params = sample_mix_params(
        np.array([5, int(alpha * 10)], "int32"), 3000, None, True,
        methods=[ResizeMix(alpha, scope=(0.2, 0.6))], image_size=size,
    )  # fmt: skip
    top, _, bottom, _ = np.asarray(params.box).T
    u = ((bottom - top + 0.5) / 10_000 - 0.2) / 0.4
    assert stats.kstest(u, stats.beta(alpha, alpha).cdf).pvalue > P_MIN


# ---------------------------------------------------------------- errors and the layer


def test_resizemix_options_are_checked():
    with pytest.raises(ValueError, match=r"ResizeMix: `scope` must be \(a, b\) with 0.0 < a"):
        MixupTransform(methods=[Mixup(1.0), ResizeMix(1.0, scope=(0.5, 1.5))])
    with pytest.raises(ValueError, match="ResizeMix mixes one partner's pixels"):
        MixupLayer(methods=[Mixup(1.0, num_mixed=3), ResizeMix(1.0)])
    with pytest.raises(ValueError, match="ResizeMix: `alpha`"):
        MixupTransform(methods=[Mixup(1.0), ResizeMix(-1.0)])

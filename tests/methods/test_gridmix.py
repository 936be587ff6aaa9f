"""GridMix (`keras_mixup/_src/core/methods/gridmix.py`): the grid from injected values, the
pixels against hole rectangles laid out one by one (as GridMixup / OpenMixup lay them out),
boxes' visible fractions against pixel counts, integer segmentation masks, the choice among
three methods, the draws' distribution against an independent NumPy sampler, errors (exact
target weights, the same draws on every binding and the layer under XLA: test_pasting.py)."""

import math

import keras
import numpy as np
import pytest
from scipy import stats

from keras_mixup import MixParams, MixupLayer, MixupLoss, MixupTransform, sample_mix_params
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.methods.gridmix import grid
from keras_mixup._src.core.mixing import blend
from keras_mixup.methods import CutMix, GridMix, Mixup
from tests.images import coded_images

P_MIN = 1e-3
H, W = 20, 16


def hole_rectangles_mask(height, width, box, cell, hole):
    """The partner's pixels, hole by hole: a hole of `hole` pixels in the top-left corner
    of every `cell`-pixel cell of the crop, each clipped to the crop (GridMixup's loop)."""
    top, left, bottom, right = box
    mask = np.zeros((height, width), bool)
    for i in range((right - left) // cell + 2):
        for j in range((bottom - top) // cell + 2):
            x1, y1 = min(cell * i, right - left), min(cell * j, bottom - top)
            x2, y2 = min(x1 + hole, right - left), min(y1 + hole, bottom - top)
            mask[top + y1 : top + y2, left + x1 : left + x2] = True
    return mask


# ---------------------------------------------------------------- the grid, exactly


def test_the_grid_from_injected_lambda_and_uniforms():
    """lambda 0.75 on 20 x 16, area share 0.75 (u = 0.5), aspect 1.25 (u = 0.5): the
    crop is floor(sqrt(240 / 1.25)) = 13 wide and floor(13 * 1.25) = 16 tall; 4 cells
    (u = 0.5 on 2..6) of ceil(13 / 4) = 4 pixels, holes of floor(4 * 0.5) = 2; the
    positions floor(u * (slack + 1)) for u = 0.5: top floor(0.5 * 5) = 2, left
    floor(0.5 * 4) = 2."""
    uniforms = np.full((5, 1), 0.5, "float32")
    box, holes = grid(np.float32([0.75]), uniforms, (H, W), (2, 6), ops=NUMPY)
    np.testing.assert_array_equal(box, [[2, 2, 18, 15]])
    np.testing.assert_array_equal(holes, [[4, 4, 2, 2]])


def test_holes_stay_between_one_pixel_and_one_pixel_less_than_their_cell():
    uniforms = np.full((5, 2), 0.5, "float32")
    _, holes = grid(np.float32([1.0, 0.0]), uniforms, (H, W), (2, 6), ops=NUMPY)
    np.testing.assert_array_equal(holes[:, 2], [1, holes[1, 0] - 1])  # lambda 1 / 0


@pytest.mark.parametrize("seed", range(6))
def test_the_pixels_are_the_hole_rectangles_laid_out_one_by_one(seed):
    params = sample_mix_params(
        np.array([seed, 3], "int32"), 4, None, True, methods=[GridMix(1.0)], image_size=(H, W)
    )
    images = coded_images(4, H, W)
    mixed = np.asarray(blend(images, params))
    for i in range(4):
        box, (cell, _, hole, _) = params.box[i], params.holes[i]
        expected = hole_rectangles_mask(H, W, box, cell, hole)
        from_partner = mixed[i, ..., 0] // 10_000 != i
        if params.permutation[i] != i:
            np.testing.assert_array_equal(from_partner, expected)


# ---------------------------------------------------------------- boxes and masks


def test_bounding_boxes_keep_the_share_their_source_shows():
    """Own boxes keep their geometry and are dropped below `min_box_visibility` of
    their area left uncovered; partner boxes are clipped to the crop and dropped below
    that share shown through the holes; both as counted pixel by pixel."""
    params = MixParams(
        mix_weight=np.float32([0.7, 0.7]),
        permutation=np.int32([1, 0]),
        box=np.int32([[2, 2, 18, 15]] * 2),
        holes=np.int32([[4, 4, 2, 2]] * 2),
        cut=np.bool_([True, True]),
        partner_weight=np.float32([0.3, 0.3]),
    )
    mask = hole_rectangles_mask(H, W, params.box[0], 4, 2)
    rng = np.random.default_rng(0)
    corners = []
    for _ in range(12):
        y1, x1 = rng.integers(0, H - 2), rng.integers(0, W - 2)
        corners.append([x1, y1, rng.integers(x1 + 1, W + 1), rng.integers(y1 + 1, H + 1)])
    boxes = np.float32([corners[:6], corners[6:]])  # xyxy, two images
    element = {
        "images": coded_images(2, H, W),
        "labels": np.int32([0, 1]),
        "bounding_boxes": {"boxes": boxes, "labels": np.int32([[1] * 6, [2] * 6])},
    }
    transform = MixupTransform(methods=[GridMix(1.0)], num_classes=3,
                               bounding_box_format="xyxy", min_box_visibility=0.4)  # fmt: skip
    out = transform.spec.apply(
        *_parts(transform, element), params, feature_dtype="float32", ops=NUMPY
    )
    mixed = np.asarray(out.bounding_boxes["boxes"])
    for image in range(2):
        for index in range(6):
            x1, y1, x2, y2 = boxes[image, index].astype(int)
            shown = mask[y1:y2, x1:x2].mean()
            own_kept = mixed[image, index, 0] != -1
            assert own_kept == (1 - shown >= 0.4), (image, index, shown)
            if own_kept:  # geometry kept
                np.testing.assert_array_equal(mixed[image, index], boxes[image, index])
            partner = boxes[1 - image, index].astype(int)
            px1, py1, px2, py2 = partner
            partner_shown = mask[py1:py2, px1:px2].mean()
            assert (mixed[image, 6 + index, 0] != -1) == (
                partner_shown >= 0.4 and partner_shown > 0
            )


def _parts(transform, element):
    from keras_mixup._src.core.elements import parse_element

    parts, _ = parse_element((element,), "test")
    return (parts,)


def test_integer_segmentation_masks_are_pasted_as_they_are():
    masks = np.stack([np.full((H, W), 255 if i == 0 else i, "int32") for i in range(4)])
    element = {"images": coded_images(4, H, W), "labels": np.arange(4), "segmentation_masks": masks}
    transform = MixupTransform(methods=[GridMix(1.0)], num_classes={"labels": 4}, seed=1)
    out = transform(element)
    source = np.asarray(out["images"])[..., 0] // 10_000
    assert np.asarray(out["segmentation_masks"]).dtype == np.int32
    expected = np.where(source == 0, 255, source)
    np.testing.assert_array_equal(np.asarray(out["segmentation_masks"]), expected)


# ---------------------------------------------------------------- the choice and the draws


def test_switch_prob_is_split_equally_between_cutmix_and_gridmix():
    n = 6000
    params = sample_mix_params(
        np.array([2, 2], "int32"), n, None, True,
        methods=[Mixup(1.0), CutMix(1.0), GridMix(1.0)],
        method_probs=[1 - 0.6, 0.6 / 2, 0.6 / 2],  # switch_prob 0.6 split between the two
        image_size=(H, W),
    )  # fmt: skip
    grid_rows = params.holes[:, 3] < params.holes[:, 1]
    cut_rows = params.cut & ~grid_rows
    counts = [(~params.cut).sum(), cut_rows.sum(), grid_rows.sum()]
    assert stats.chisquare(counts, np.array([0.4, 0.3, 0.3]) * n).pvalue > P_MIN


def reference_shares(alpha, count, rng, height=32, width=32, holes=(2, 6)):
    """GridMix's realised partner shares from NumPy's own generator: the published
    algorithm (GridMixup / OpenMixup `rand_grid`, crop clipped to the image)."""
    shares = []
    for _ in range(count):
        lam = rng.beta(alpha, alpha)
        n = rng.integers(holes[0], holes[1] + 1)
        area = rng.uniform(0.5, 1.0) * height * width
        aspect = rng.uniform(0.5, 2.0)
        cut_w = int(math.sqrt(area / aspect))
        cut_h = min(max(int(cut_w * aspect), 2), height)
        cut_w = min(max(cut_w, 2), width)
        n = max(min(n, cut_w // 2), 1)
        cell = math.ceil(cut_w / n)
        hole = min(max(int(cell * math.sqrt(1 - lam)), 1), cell - 1)
        mask = hole_rectangles_mask(height, width, (0, 0, cut_h, cut_w), cell, hole)
        shares.append(mask.mean())
    return np.array(shares)


@pytest.mark.parametrize("alpha", [0.4, 2.0])
def test_the_realised_shares_follow_the_published_algorithm(alpha):
    ours = sample_mix_params(
        np.array([5, int(alpha * 10)], "int32"), 3000, None, True, methods=[GridMix(alpha)],
        image_size=(32, 32),
    ).partner_weight  # fmt: skip
    reference = reference_shares(alpha, 3000, np.random.default_rng(int(alpha * 10)))
    assert stats.ks_2samp(ours, reference).pvalue > P_MIN
    assert abs(ours.mean() - reference.mean()) < 0.01


# ---------------------------------------------------------------- errors


def test_gridmix_mixes_pairs_only():
    with pytest.raises(ValueError, match="GridMix mixes one partner's pixels.*gridmix_alpha=1.0"):
        MixupTransform(methods=[Mixup(1.0, num_mixed=3), GridMix(1.0)])
    with pytest.raises(ValueError, match="num_mixed=3 with gridmix_alpha=1.0"):
        sample_mix_params(np.array([0, 1]), 8, None,
                          methods=[Mixup(1.0, num_mixed=3), GridMix(1.0)],
                          image_size=(8, 8))  # fmt: skip


def test_gridmix_holes_must_be_an_integer_range():
    with pytest.raises(ValueError, match=r"GridMix: `holes` must be \(low, high\) with 1 <= low"):
        MixupLayer(methods=[GridMix(1.0, holes=(5, 2))])
    with pytest.raises(TypeError, match="GridMix: `holes` must be a pair of integers"):
        GridMix(holes=4)


def test_gridmix_alpha_can_be_scheduled_only_on_a_mixer_built_with_it():
    transform = MixupTransform(methods=[Mixup(1.0), GridMix(1.0)])
    transform.gridmix_alpha = 0.0
    (gridmix,) = [m for m in transform.get_config()["methods"] if m["class_name"] == "GridMix"]
    assert gridmix["config"]["alpha"] == 1.0  # rebuilt with GridMix traced
    transform.gridmix_alpha = 0.5
    with pytest.raises(ValueError, match="`gridmix_alpha` can only be scheduled on a mixer"):
        MixupTransform(methods=[Mixup(1.0), GridMix(0.0)]).gridmix_alpha = 0.5


def test_gridmix_refuses_masked_sequences():
    layer = MixupLayer(methods=[GridMix(1.0)])
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Embedding(10, 4, mask_zero=True), layer,
         keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)]
    )  # fmt: skip
    model.compile(optimizer="sgd", loss=MixupLoss("sparse_categorical_crossentropy", layer=layer))
    with pytest.raises(ValueError, match="GridMix mixes regions of images"):
        model.train_on_batch(np.array([[1, 2, 0, 0, 0]] * 4), np.array([0, 1, 0, 1]))

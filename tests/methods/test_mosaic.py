"""Mosaic (`keras_mixup/_src/core/methods/mosaic.py`): the tiles from injected offsets, the
pixels against keras-cv's construction (the 2H x 2W canvas of the four sources, cropped)
done by hand, channels first, each box's geometry at every edge (inside its tile, across
the tile's edge, outside it, under `min_box_visibility`, padding, relative formats, ragged
input), integer segmentation masks as they are, the draws (the centre's Beta, three
independent permutations), Mosaic with mixup in one recipe, errors (exact target weights,
the same draws on every binding and the layer under XLA: test_pasting.py).

The record of box bugs in other Mosaics (kornia's `RandomMosaic`: height and width
swapped, box offsets swapped, boxes ignoring the output size, phantom `[0, 0, 1, 1]`
boxes) is covered by an image that is not square, a centre with different offsets along
the two axes, boxes clipped at the image's outer edges, and padding that stays padding.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_mixup import MixParams, MixupTransform, sample_mix_params
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.core.elements import parse_element
from keras_mixup._src.core.methods.mosaic import mosaic_tiles
from keras_mixup._src.core.mixing import blend, blend_tensor
from keras_mixup.methods import Mixup, Mosaic
from tests.images import coded_images

P_MIN = 1e-3
H, W = 20, 16
PAD = [-1.0, -1.0, -1.0, -1.0]


def params_of(centres, permutations):
    """Mosaic's parameters for centres `[n, 2]` (cy, cx) and partners `[3, n]`."""
    centres, perms = np.int32(centres), np.int32(permutations)
    cy, cx = centres[:, 0], centres[:, 1]
    shares = np.stack([cy * cx, cy * (W - cx), (H - cy) * cx, (H - cy) * (W - cx)]) / (H * W)
    zeros, n = np.zeros_like(cy), len(cy)
    return MixParams(
        mix_weight=np.float32(shares[0]), permutation=perms[0],
        more_weights=np.float32(shares[2:]), more_permutations=perms[1:],
        box=np.stack([zeros, zeros, cy, cx], axis=1), cut=np.ones(n, bool),
        partner_weight=np.float32(shares[1]), tiled=np.ones(n, bool),
    )  # fmt: skip


def canvas_window(images, params):
    """keras-cv's construction: the example, then its partners, at the top left, top
    right, bottom left and bottom right of a 2H x 2W canvas; the H x W window whose
    top-left corner is (H - cy, W - cx)."""
    out = []
    for i in range(len(images)):
        partners = [params.permutation[i], *params.more_permutations[:, i]]
        tiles = [images[i]] + [images[p] for p in partners]
        canvas = np.concatenate(
            [np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0
        )
        cy, cx = params.box[i, 2:]
        out.append(canvas[H - cy : 2 * H - cy, W - cx : 2 * W - cx])
    return np.stack(out)


ROTATIONS = [[1, 2, 3, 0], [2, 3, 0, 1], [3, 0, 1, 2]]  # partners 1, 2, 3 of example 0


# ---------------------------------------------------------------- tiles and pixels, exactly


def test_the_tiles_from_injected_offsets():
    """Offsets (0.5, 0.25) of 20 x 16: centre (10, 4); (0.999, 0.0): (19, 0), the left
    tiles empty; (1, 1): (20, 16), the example alone."""
    cy, cx, shares = mosaic_tiles(
        np.float32([[0.5, 0.999, 1.0], [0.25, 0.0, 1.0]]), (H, W), ops=NUMPY
    )
    np.testing.assert_array_equal(cy, [10, 19, 20])
    np.testing.assert_array_equal(cx, [4, 0, 16])
    np.testing.assert_allclose(
        shares.T, [[40 / 320, 120 / 320, 40 / 320, 120 / 320], [0, 304 / 320, 0, 16 / 320],
                   [1, 0, 0, 0]], atol=1e-7,
    )  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_the_pixels_are_keras_cv_s_canvas_window(dtype):
    """Centres with different offsets along the two axes (a swap of H and W, or of the
    offsets, would show), at the image's edges, and the tiles' target weights."""
    images = coded_images(4, H, W) if dtype == "float32" else np.arange(4 * H * W * 3)
    images = images.reshape(4, H, W, -1).astype(dtype) if dtype == "uint8" else images
    params = params_of([[10, 4], [1, 15], [20, 16], [0, 0]], ROTATIONS)
    mixed = np.asarray(blend(images, params, dtype="float32"))
    np.testing.assert_array_equal(mixed, canvas_window(images, params).astype("float32"))
    np.testing.assert_array_equal(mixed[2], images[2])  # centre (H, W): the example alone
    np.testing.assert_array_equal(mixed[3], images[2])  # centre (0, 0): its third partner
    targets = np.asarray(blend(np.eye(4, dtype="float32"), params, per_pixel=False))
    np.testing.assert_allclose(targets[0], [40 / 320, 120 / 320, 40 / 320, 120 / 320])
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)


def test_channels_first_images_and_per_pixel_weights_move_with_the_pixels():
    images = coded_images(4, H, W)
    params = params_of([[7, 11], [13, 3], [5, 5], [19, 1]], ROTATIONS)
    expected = canvas_window(images, params)
    first = blend_tensor(np.transpose(images, [0, 3, 1, 2]), params, channels_first=True, ops=NUMPY)
    np.testing.assert_array_equal(np.transpose(first, [0, 2, 3, 1]), expected)
    weights = images[..., 0]  # per-pixel sample weights [B, H, W] follow their pixels
    spec = MixupTransform(methods=[Mosaic(1.0)], num_classes=4).spec
    parts, _ = parse_element((images, np.arange(4), weights), "test")
    out = spec.apply(parts, params, feature_dtype="float32", ops=NUMPY)
    np.testing.assert_array_equal(out.sample_weight, expected[..., 0])


@pytest.mark.parametrize("method", ["mosaic", "resizemix"])
def test_pixels_move_shard_by_shard_and_with_unknown_channels(method):
    """Two shards (partners within each, as the sampler draws them for a data-parallel
    step): each shard gathers from its own rows, with the same result as one gather from
    the batch; a TensorFlow graph that knows no static size moves the same pixels."""
    images = coded_images(4, H, W)
    within_shards = [[1, 0, 3, 2], [1, 0, 2, 3], [0, 1, 3, 2]]
    params = params_of([[7, 11], [13, 3], [5, 5], [19, 1]], within_shards)
    if method == "resizemix":
        params = params._replace(
            box=np.int32([[1, 4, 11, 12], [0, 0, 20, 16], [13, 9, 20, 16], [2, 2, 5, 9]]),
            tiled=None, resized=np.ones(4, bool), more_weights=None, more_permutations=None,
        )  # fmt: skip
    whole = blend_tensor(images, params, ops=NUMPY)
    np.testing.assert_array_equal(blend_tensor(images, params, shards=2, ops=NUMPY), whole)
    if method == "mosaic":
        np.testing.assert_array_equal(whole, canvas_window(images, params))
    as_tf = MixParams(*(None if v is None else tf.constant(v) for v in params))
    unknown = tf.function(
        lambda x: blend_tensor(x, as_tf, ops=TENSORFLOW),
        input_signature=[tf.TensorSpec([None, None, None, None], tf.float32)],
    )
    np.testing.assert_array_equal(unknown(tf.constant(images)).numpy(), whole)


def test_integer_segmentation_masks_follow_the_pixels_as_they_are():
    rng = np.random.default_rng(1)
    masks = rng.integers(0, 4, (4, H, W)).astype("int32")
    masks[0, :3] = 255  # the void label stays 255
    element = {"images": coded_images(4, H, W), "labels": np.arange(4), "segmentation_masks": masks}
    transform = MixupTransform(methods=[Mosaic(1.0)], num_classes={"labels": 4},
                               ignore_class=255, seed=4)  # fmt: skip
    out = transform(element)
    assert out["segmentation_masks"].dtype == np.int32
    source = np.asarray(out["images"])[..., 0].astype(int)
    b, y, x = source // 10_000, source // 100 % 100, source % 100  # where each pixel came from
    np.testing.assert_array_equal(out["segmentation_masks"], masks[b, y, x])
    assert len(np.unique(b[0])) > 1


# ---------------------------------------------------------------- boxes


def boxes_element(boxes, labels):
    return {"images": np.zeros((4, H, W, 3), "float32"), "labels": np.arange(4),
            "bounding_boxes": {"boxes": np.float32(boxes), "labels": np.int32(labels)}}  # fmt: skip


# xyxy on 20 x 16; example 0 with centre (10, 4) gets image 1 top right, 2 bottom left, 3
# bottom right. Shifts (dy, dx) and tiles (y, x): image 0 (-10, -12) in [0, 10) x [0, 4);
# image 1 (-10, +4) in [0, 10) x [4, 16); image 2 (+10, -12) in [10, 20) x [0, 4); image 3
# (+10, +4) in [10, 20) x [4, 16).
BOXES = [
    [[13, 12, 15, 18], [0, 0, 6, 8], [10, 15, 14, 20]],  # inside; outside; across x = 0
    [[0, 9, 4, 11], [2, 0, 6, 6], PAD],  # across y = 0 (half shows); outside
    [[12, 0, 16, 10], [0, 0, 13, 4], PAD],  # the whole tile; 1 / 13 shows (< 0.1): dropped
    [[10, 8, 16, 12], PAD, PAD],  # across both outer edges: 4 of 24 pixels show
]
LABELS = [[1, 2, 3], [4, 5, -1], [6, 7, -1], [8, -1, -1]]


def test_each_source_s_boxes_move_into_its_tile_and_are_clipped_to_it():
    params = params_of([[10, 4], [10, 4], [10, 4], [10, 4]], ROTATIONS)
    spec = MixupTransform(methods=[Mosaic(1.0)], num_classes=4,
                          bounding_box_format="xyxy").spec  # fmt: skip
    parts, _ = parse_element((boxes_element(BOXES, LABELS),), "test")
    out = spec.apply(parts, params, feature_dtype="float32", ops=NUMPY).bounding_boxes
    assert out["boxes"].shape == (4, 12, 4)
    np.testing.assert_array_equal(out["labels"][0], [1, -1, 3, 4, -1, -1, 6, -1, -1, 8, -1, -1])
    expected = [[1, 2, 3, 8], PAD, [0, 5, 2, 10], [4, 0, 8, 1], PAD, PAD,
                [0, 10, 4, 20], PAD, PAD, [14, 18, 16, 20], PAD, PAD]  # fmt: skip
    np.testing.assert_allclose(out["boxes"][0], expected)
    shares = [0.125] * 3 + [0.375] * 3 + [0.125] * 3 + [0.375] * 3
    kept = out["labels"][0] != -1
    np.testing.assert_allclose(out["mix_weights"][0], np.where(kept, shares, 0.0))
    # no phantom boxes: every padding row stays padding, everywhere
    padding = out["labels"] == -1
    np.testing.assert_array_equal(out["boxes"][padding], np.full((padding.sum(), 4), -1.0))
    assert (out["mix_weights"][padding] == 0).all()


@pytest.mark.parametrize("bounding_box_format", ["rel_yxyx", "center_xywh", "rel_xywh"])
def test_boxes_in_every_format_move_as_in_pixels(bounding_box_format):
    if not hasattr(keras.utils, "bounding_boxes"):  # Keras < 3.8 (the floor)
        pytest.skip("keras.utils.bounding_boxes.convert_format is not in this Keras")
    convert = keras.utils.bounding_boxes.convert_format
    params = params_of([[10, 4]] * 4, ROTATIONS)
    boxes = np.float32(BOXES)
    real = np.int32(LABELS) != -1
    given = np.where(real[..., None], convert(boxes, "xyxy", bounding_box_format,
                                              height=H, width=W), -1.0)  # fmt: skip
    spec = MixupTransform(methods=[Mosaic(1.0)], num_classes=4,
                          bounding_box_format=bounding_box_format).spec  # fmt: skip
    parts, _ = parse_element((boxes_element(given, LABELS),), "test")
    out = spec.apply(parts, params, feature_dtype="float32", ops=NUMPY).bounding_boxes
    kept = out["labels"][0] != -1
    back = np.asarray(
        convert(out["boxes"][0][kept], bounding_box_format, "xyxy", height=H, width=W)
    )
    np.testing.assert_allclose(back, [[1, 2, 3, 8], [0, 5, 2, 10], [4, 0, 8, 1], [0, 10, 4, 20],
                                      [14, 18, 16, 20]], atol=1e-4)  # fmt: skip


def test_drawn_mosaics_keep_every_box_inside_its_tile_and_the_image():
    """Random centres and partners, ragged boxes through tf.data under XLA: each kept box
    lies inside its source's tile, shows at least min_box_visibility of itself, and the
    padding is padding."""
    rng = np.random.default_rng(2)
    n, per_image = 8, 5
    corners = rng.uniform(0, [W, H, W, H], (n, per_image, 4)).astype("float32")
    boxes = np.concatenate([np.minimum(corners[..., :2], corners[..., 2:]),
                            np.maximum(corners[..., :2], corners[..., 2:]) + 1], -1)  # fmt: skip
    counts = [5, 0, 3, 1, 5, 2, 4, 5]
    ragged = {
        "boxes": tf.ragged.constant(
            [b[:c].tolist() for b, c in zip(boxes, counts, strict=True)],
            ragged_rank=1,
            dtype=tf.float32,
        ),  # fmt: skip
        "labels": tf.ragged.constant([list(range(c)) for c in counts], dtype=tf.int32),
    }
    element = {"images": coded_images(n, H, W), "labels": np.arange(n), "bounding_boxes": ragged}
    transform = MixupTransform(methods=[Mosaic(1.0)], per_example=True, num_classes=n,
                               bounding_box_format="xyxy", seed=5)  # fmt: skip
    dataset = tf.data.Dataset.from_tensors(element).map(transform)  # XLA
    checked = 0
    for out in dataset.repeat(4):
        images, got = out["images"].numpy(), out["bounding_boxes"]
        labels, mixed = got["labels"].numpy(), got["boxes"].numpy()
        assert mixed.shape == (n, 4 * per_image, 4)
        for i in range(n):
            for j in np.flatnonzero(labels[i] != -1):
                x1, y1, x2, y2 = mixed[i, j]
                assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H, mixed[i, j]
                # the box's pixels all come from its own source image
                source = j // per_image
                rows = slice(int(np.floor(y1)), int(np.ceil(y2)))
                cols = slice(int(np.floor(x1)), int(np.ceil(x2)))
                owners = images[i, rows, cols, 0] // 10_000
                tile = {0: images[i, 0, 0, 0], 1: images[i, 0, -1, 0],
                        2: images[i, -1, 0, 0], 3: images[i, -1, -1, 0]}[source] // 10_000  # fmt: skip
                assert (owners == tile).all()
                checked += 1
        assert (mixed[labels == -1] == -1).all()
    assert checked > 20


# ---------------------------------------------------------------- the draws


@pytest.mark.parametrize("alpha", [0.4, 1.0, 5.0])
def test_the_centre_s_offsets_within_their_range_follow_beta(alpha):
    """Both offsets, on an image large enough that floor() moves them by < 1e-4."""
    size, low, high = 10_007, 0.2, 0.7
    params = sample_mix_params(np.array([3, alpha * 10], "int32"), 2000, None, per_example=True,
                               methods=[Mosaic(alpha, offset=(low, high))],
                               image_size=(size, size + 2))  # fmt: skip
    assert params.tiled.all()
    for axis, side in ((2, size), (3, size + 2)):
        u = (params.box[:, axis] / side - low) / (high - low)
        assert stats.kstest(u, stats.beta(alpha, alpha).cdf).pvalue > P_MIN
    assert stats.pearsonr(params.box[:, 2], params.box[:, 3]).pvalue > P_MIN


def test_the_three_partners_are_independent_uniform_permutations():
    n, rounds = 4, 600
    pairs = np.zeros((n, n, n), int)
    for seed in range(rounds):
        params = sample_mix_params(np.array([seed, 9], "int32"), n, None, methods=[Mosaic(1.0)],
                                   image_size=(H, W))  # fmt: skip
        partners = [params.permutation, *params.more_permutations]
        for p in partners:
            np.testing.assert_array_equal(np.sort(p), np.arange(n))
        pairs[tuple(p[0] for p in partners)] += 1
    expected = np.full(pairs.size, rounds / pairs.size)
    assert stats.chisquare(pairs.ravel(), expected).pvalue > P_MIN


def test_mosaic_and_mixup_in_one_recipe():
    """Per example, Mosaic rows carry four sources' boxes and mixup rows two (the further
    slots padding); every row's targets sum to 1; the choice follows method_probs."""
    rng = np.random.default_rng(3)
    n = 64
    element = {
        "images": coded_images(n, H, W),
        "labels": np.arange(n) % 5,
        "bounding_boxes": {"boxes": np.tile(np.float32([[[2, 3, 14, 17]]]), (n, 1, 1)),
                           "labels": rng.integers(0, 5, (n, 1)).astype("int32")},
    }  # fmt: skip
    transform = MixupTransform(methods=[Mixup(1.0), Mosaic(1.0)], method_probs=[1 - 0.3, 0.3],
                               per_example=True, num_classes=5, bounding_box_format="xyxy",
                               seed=6)  # fmt: skip
    out = transform(element)
    np.testing.assert_allclose(np.asarray(out["labels"]).sum(axis=1), 1.0, rtol=1e-5)
    labels = np.asarray(out["bounding_boxes"]["labels"])
    assert labels.shape == (n, 4)
    tiled = (np.asarray(out["images"])[..., 0] % 1 == 0).all(axis=(1, 2))  # whole pixels
    assert 5 <= (~tiled).sum() and 5 <= tiled.sum()
    assert (labels[~tiled, 2:] == -1).all()  # mixup rows: the further slots are padding
    # an unmixed batch has the same shape
    unmixed = MixupTransform(methods=[Mosaic(1.0)], prob=0.0, num_classes=5,
                             bounding_box_format="xyxy")(element)  # fmt: skip
    assert np.asarray(unmixed["bounding_boxes"]["labels"]).shape == (n, 4)


def test_mosaic_options_are_checked():
    with pytest.raises(ValueError, match=r"num_mixed=3 with mosaic_alpha=1.0"):
        MixupTransform(methods=[Mixup(1.0, num_mixed=3), Mosaic(1.0)])
    with pytest.raises(ValueError, match=r"Mosaic: `offset` must be \(a, b\) with 0.0 < a"):
        MixupTransform(methods=[Mixup(1.0), Mosaic(1.0, offset=(0.0, 0.5))])
    with pytest.raises(ValueError, match=r"image_size"):
        sample_mix_params(np.array([1, 2]), 4, None, methods=[Mosaic(1.0)])
    with pytest.raises(ValueError, match=r"methods of mosaic_alpha > 0.* shape \(4, 8\)"):
        MixupTransform(methods=[Mosaic(1.0)], num_classes=4)(
            np.zeros((4, 8), "float32"), np.arange(4)
        )


def test_mosaic_on_grain_batches_of_keras_s_element_dict():
    """Grain's random_map: NumPy batches, the same seed and record the same mosaic, boxes
    in the four-source shape."""
    grain = pytest.importorskip("grain")
    records = [
        {"images": coded_images(8, H, W)[i], "labels": np.int32(i % 3),
         "bounding_boxes": {"boxes": np.float32([[1, 2, 9, 14]]), "labels": np.int32([i % 3])}}
        for i in range(8)
    ]  # fmt: skip
    transform = MixupTransform(methods=[Mosaic(1.0)], num_classes=3,
                               bounding_box_format="xyxy")  # fmt: skip
    batches = grain.MapDataset.source(records).batch(4).random_map(transform, seed=7)
    first, again = batches[0], batches[0]
    np.testing.assert_array_equal(first["images"], again["images"])
    assert first["bounding_boxes"]["boxes"].shape == (4, 4, 4)
    source = first["images"][..., 0] // 10_000
    # four tiles from the batch (an example is its own partner in all three with p = 1/64)
    assert sum(len(np.unique(s)) > 1 for s in source) >= 3
    np.testing.assert_allclose(first["labels"].sum(axis=1), 1.0, rtol=1e-6)


def test_a_centre_on_the_corner_empties_the_partners_tiles_and_drops_their_boxes():
    """Centre (H, W): the example fills the output; its boxes stay where they were, the
    partners' tiles are empty, their boxes padding, their weights 0."""
    params = params_of([[H, W]] * 4, ROTATIONS)
    spec = MixupTransform(methods=[Mosaic(1.0)], num_classes=4,
                          bounding_box_format="xyxy").spec  # fmt: skip
    parts, _ = parse_element((boxes_element(BOXES, LABELS),), "test")
    out = spec.apply(parts, params, feature_dtype="float32", ops=NUMPY)
    boxes = out.bounding_boxes
    np.testing.assert_array_equal(boxes["labels"][0], [1, 2, 3] + [-1] * 9)
    np.testing.assert_allclose(boxes["boxes"][0, :3], BOXES[0])
    np.testing.assert_allclose(boxes["mix_weights"][0], [1, 1, 1] + [0] * 9)
    np.testing.assert_allclose(out.labels, np.eye(4))

"""Bounding boxes (`core/boxes.py`) with exact values from injected parameters: mixup
concatenates every source's boxes with their labels and weights, a source of weight 0 and
an example paired with itself, CutMix clipping the partner's boxes to the pasted region and
cutting it out of the example's own, `min_box_visibility`, k-way and per-example draws,
ragged boxes in tf.data, mixed precision (GridMix, FMix and SmoothMix boxes: their own
test files)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixParams, MixupTransform
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core import boxes as box_rules
from keras_mixup._src.core.structures import Parts
from tests.images import dict_element

B, H, W = 4, 8, 10
RNG = np.random.default_rng(0)


def _element(**kwargs):
    return dict_element(B, H, W, rng=RNG, **kwargs)


# ---------------------------------------------------------------- box geometry, exact


def params(own, partner, permutation, box=None, cut=None):
    n = len(own)
    return MixParams(
        mix_weight=np.asarray(own, np.float32),
        permutation=np.asarray(permutation, np.int32),
        partner_weight=np.asarray(partner, np.float32),
        box=None if box is None else np.asarray(box, np.int32).reshape(n, 4),
        cut=None if cut is None else np.asarray(cut, bool),
    )


def mixed_boxes(boxes, labels, p, fmt="yxyx", size=(H, W), visibility=0.1):
    return box_rules.mix_boxes(
        {"boxes": np.asarray(boxes, np.float32), "labels": np.asarray(labels, np.int32)},
        p,
        bounding_box_format=fmt,
        image_size=size,
        min_box_visibility=visibility,
        partner_rows=lambda t, perm: np.take(t, perm, axis=0),
        ops=NUMPY,
    )


def test_mixup_concatenates_every_source_images_boxes_with_their_labels_and_weights():
    boxes = [[[0, 0, 2, 2], [-1, -1, -1, -1]], [[3, 3, 6, 6], [1, 1, 2, 2]]]
    labels = [[5, -1], [7, 8]]
    out = mixed_boxes(boxes, labels, params([0.7, 0.6], [0.3, 0.4], [1, 0]))
    np.testing.assert_array_equal(out["labels"], [[5, -1, 7, 8], [7, 8, 5, -1]])
    np.testing.assert_array_equal(
        out["boxes"][0], [[0, 0, 2, 2], [-1] * 4, [3, 3, 6, 6], [1, 1, 2, 2]]
    )
    np.testing.assert_allclose(out["mix_weights"], [[0.7, 0, 0.3, 0.3], [0.6, 0.6, 0.4, 0]])


def test_a_source_with_weight_zero_is_not_in_the_image_and_its_boxes_are_padding():
    out = mixed_boxes(
        [[[0, 0, 2, 2]], [[1, 1, 3, 3]]], [[1], [2]], params([1.0, 0.8], [0.0, 0.2], [1, 0])
    )
    np.testing.assert_array_equal(out["labels"], [[1, -1], [2, 1]])
    np.testing.assert_array_equal(out["boxes"][0, 1], [-1, -1, -1, -1])


@pytest.mark.parametrize("cut", [False, True])
def test_an_example_paired_with_itself_keeps_its_boxes_once_whole_with_weight_one(cut):
    """Its image is unchanged (mixup of itself, or a box of itself pasted in place): its
    boxes come once, whole, weight 1, not twice (mixup) or with a piece of the same box
    (CutMix). Found by the replay of Keras's cut_mix_test."""
    boxes, labels = [[[0, 0, 8, 8]], [[1, 1, 3, 3]]], [[5], [6]]
    region = [[1, 1, 8, 8], [1, 1, 8, 8]] if cut else None
    p = params([15 / 64, 0.7], [49 / 64, 0.3], [0, 1], region, [True, True] if cut else None)
    out = mixed_boxes(boxes, labels, p, size=(8, 8))
    np.testing.assert_array_equal(out["labels"], [[5, -1], [6, -1]])
    np.testing.assert_allclose(out["boxes"][:, 0], [[0, 0, 8, 8], [1, 1, 3, 3]])
    np.testing.assert_allclose(out["mix_weights"], [[1, 0], [1, 0]], atol=1e-6)


# region (top, left, bottom, right) = (2, 2, 6, 6) pasted from the partner into example 0
REGION = [[2, 2, 6, 6], [0, 0, 0, 0]]


@pytest.mark.parametrize(
    "partner_box, expected, kept",
    [
        ([3, 3, 5, 5], [3, 3, 5, 5], True),  # inside the region: as it is
        ([0, 0, 4, 4], [2, 2, 4, 4], True),  # half in: clipped to the region (visible 1/4)
        ([0, 0, 8, 8], [2, 2, 6, 6], True),  # around the region: the region itself (1/4)
        ([7, 7, 9, 9], None, False),  # outside: dropped
        ([0, 0, 2.5, 9], None, False),  # a sliver inside (0.5 x 4 of 2.5 x 9: 8.9 %): dropped
    ],
)
def test_cutmix_clips_the_partners_boxes_to_the_pasted_region(partner_box, expected, kept):
    boxes = [[[-1, -1, -1, -1]], [partner_box]]
    labels = [[-1], [4]]
    p = params([0.84, 1.0], [0.16, 0.0], [1, 0], REGION, [True, False])
    out = mixed_boxes(boxes, labels, p, size=(10, 10))
    assert out["labels"][0, 1] == (4 if kept else -1)
    if kept:
        np.testing.assert_allclose(out["boxes"][0, 1], expected)
        assert out["mix_weights"][0, 1] == np.float32(0.16)


@pytest.mark.parametrize(
    "own_box, expected, kept",
    [
        ([0, 0, 2, 2], [0, 0, 2, 2], True),  # outside the region: untouched
        ([3, 3, 5, 5], None, False),  # covered: dropped
        ([1, 3, 4, 5], [1, 3, 2, 5], True),  # covered across its width from below: shrunk
        ([3, 1, 5, 4], [3, 1, 5, 2], True),  # covered across its height from the right: shrunk
        ([0, 0, 8, 8], [0, 0, 8, 8], True),  # the region inside it: its extent stays (3/4 visible)
        ([2, 1, 6, 2.2], [2, 1, 6, 2], True),  # all but a sliver covered... 0.2 of 1.2 left: kept
    ],
)
def test_cutmix_removes_the_pasted_region_from_the_examples_own_boxes(own_box, expected, kept):
    boxes = [[own_box], [[-1, -1, -1, -1]]]
    labels = [[3], [-1]]
    p = params([0.84, 1.0], [0.16, 0.0], [1, 0], REGION, [True, False])
    out = mixed_boxes(boxes, labels, p, size=(10, 10))
    assert out["labels"][0, 0] == (3 if kept else -1)
    if kept:
        np.testing.assert_allclose(out["boxes"][0, 0], expected, atol=1e-6)


def test_min_box_visibility_is_the_share_of_the_area_a_box_must_keep():
    boxes, labels = [[[-1] * 4], [[0, 0, 4, 4]]], [[-1], [9]]  # 1/4 of it inside the region
    p = params([0.84, 1.0], [0.16, 0.0], [1, 0], REGION, [True, False])
    assert mixed_boxes(boxes, labels, p, size=(10, 10), visibility=0.25)["labels"][0, 1] == 9
    assert mixed_boxes(boxes, labels, p, size=(10, 10), visibility=0.26)["labels"][0, 1] == -1


@pytest.mark.parametrize("fmt", box_rules.FORMATS)
def test_every_format_round_trips_and_gives_the_same_geometry(fmt):
    corners = np.array([[[1.0, 2.0, 5.0, 9.0]]], np.float32)  # yxyx in pixels
    boxes = box_rules.from_corners([corners[..., i] for i in range(4)], fmt, 10, 20, ops=NUMPY)
    back = np.stack(box_rules.to_corners(boxes, fmt, 10, 20, ops=NUMPY), axis=-1)
    np.testing.assert_allclose(back, corners, rtol=1e-6)
    p = params([0.84, 1.0], [0.16, 0.0], [1, 0], REGION, [True, False])
    both = np.concatenate([np.full_like(boxes, -1), boxes])
    out = mixed_boxes(both, [[-1], [1]], p, fmt=fmt, size=(10, 20))
    clipped = np.stack(box_rules.to_corners(out["boxes"][:, 1:], fmt, 10, 20, ops=NUMPY), -1)
    np.testing.assert_allclose(clipped[0, 0], [2, 2, 5, 6], rtol=1e-6)


def test_boxes_follow_their_images_under_k_way_and_per_example_draws():
    element = _element(boxes_per_image=1)
    element["bounding_boxes"]["boxes"] = np.arange(B, dtype="float32")[:, None, None] * np.ones(
        (1, 1, 4), "float32"
    )
    element["bounding_boxes"]["labels"] = np.arange(B, dtype="int32")[:, None]
    for options in ({"num_mixed": 3, "per_example": True}, {"per_example": True}):
        transform = MixupTransform(alpha=1.0, bounding_box_format="xyxy", seed=3, **options)
        seed = np.array([1, 2], np.int32)
        out = transform._elements.mix((element,), seed=seed)
        replay = transform.spec.draw(
            seed,
            Parts(element["images"]),
            transform.spec.runtime_values(),
            owner="",
            ops=NUMPY,
        )
        # an image paired with itself keeps its box once (its partner's slot: padding)
        alone = replay.permutation == np.arange(B)
        sources = [np.arange(B), np.where(alone, -1, replay.permutation)]
        if replay.more_permutations is not None:
            sources += list(replay.more_permutations)
        expected = np.stack(sources, axis=1)  # the image each box came from, in order
        np.testing.assert_array_equal(out["bounding_boxes"]["labels"], expected)
        np.testing.assert_array_equal(out["bounding_boxes"]["boxes"][..., 0], expected)


def test_ragged_boxes_in_tf_data_are_padded_as_keras_pads_them_and_the_box_path_compiles():
    element = _element()
    ragged = {
        "boxes": tf.ragged.constant(
            [[[1, 1, 3, 3], [4, 4, 7, 7]], [[2, 2, 5, 5]], [], [[0, 0, 1, 1]]],
            ragged_rank=1,
            dtype=tf.float32,
        ),
        "labels": tf.ragged.constant([[0, 1], [2], [], [1]], dtype=tf.int32),
    }
    dataset = tf.data.Dataset.from_tensors({**element, "bounding_boxes": ragged})
    transform = MixupTransform(
        alpha=0.5, cutmix_alpha=1.0, bounding_box_format="xyxy", seed=0
    )  # XLA
    out = next(iter(dataset.map(transform)))["bounding_boxes"]
    assert out["boxes"].shape == (B, 4, 4) and out["labels"].shape == (B, 4)
    assert np.all(out["labels"].numpy()[2, :2] == -1)  # an empty image stays empty


def test_mixed_precision_images_keep_the_policy_and_boxes_stay_float32(policy):
    policy("mixed_bfloat16")
    out = MixupTransform(alpha=1.0, bounding_box_format="xyxy", seed=0)(_element())
    assert str(out["images"].dtype) == "bfloat16"
    assert str(out["bounding_boxes"]["boxes"].dtype) == "float32"

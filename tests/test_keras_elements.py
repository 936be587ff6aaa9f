"""Drop-in for Keras 3 pipelines (issue 23): Keras's element dict (images, labels, bounding
boxes, segmentation masks), `keras.layers.Pipeline`, Grain and NumPy batches, and box
geometry with exact values from injected parameters."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixParams, MixupLayer, MixupLoss, MixupTransform
from keras_mixup._src import boxes as box_rules
from keras_mixup._src.ops import NUMPY

B, H, W = 4, 8, 10
RNG = np.random.default_rng(0)


def dict_element(with_boxes=True, with_masks=False, boxes_per_image=2):
    element = {
        "images": RNG.integers(0, 255, (B, H, W, 3)).astype("uint8"),
        "labels": np.eye(3, dtype="float32")[[0, 1, 2, 0]],
    }
    if with_boxes:
        boxes = np.tile(
            np.array([[1, 1, 4, 3], [5, 4, 9, 7]], "float32")[:boxes_per_image], (B, 1, 1)
        )  # xyxy
        labels = np.tile(np.arange(boxes_per_image, dtype="int32"), (B, 1))
        labels[1, 1:] = -1  # image 1 has one box, the rest is padding
        boxes[labels == -1] = -1
        element["bounding_boxes"] = {"boxes": boxes, "labels": labels}
    if with_masks:
        element["segmentation_masks"] = RNG.integers(0, 4, (B, H, W, 1)).astype("int32")
    return element


def shapes(structure):
    return keras.tree.map_structure(
        lambda t: (tuple(np.shape(t)), str(np.asarray(t).dtype)), structure
    )


# ---------------------------------------------------------------- Keras's format, side by side


@pytest.mark.parametrize(
    "peer, ours", [("MixUp", {"alpha": 1.0}), ("CutMix", {"alpha": 0.0, "cutmix_alpha": 1.0})]
)
def test_same_keys_shapes_and_dtypes_as_keras_own_layers(peer, ours):
    """keras.layers.MixUp / CutMix on the same dict: the images and labels come out with the
    same keys, shapes and dtypes (Keras's boxes differ: its MixUp concatenates boxes on the
    box axis but labels on the batch axis, and its CutMix raises for boxes; ours are below)."""
    element = dict_element(with_boxes=False)
    element["images"] = element["images"].astype("float32")
    keras_out = getattr(keras.layers, peer)(seed=0)(
        {k: tf.constant(v) for k, v in element.items()}, training=True
    )
    ours_out = next(iter(tf.data.Dataset.from_tensors(element).map(MixupTransform(seed=0, **ours))))
    assert shapes({k: v.numpy() for k, v in ours_out.items()}) == shapes(
        {k: keras.ops.convert_to_numpy(v) for k, v in keras_out.items()}
    )


@pytest.mark.parametrize("front", ["numpy", "tf.data map", "tf.data apply", "layer in tf.data"])
def test_a_dict_element_comes_back_as_a_dict_with_its_keys(front):
    element = dict_element(with_masks=True)
    options = dict(
        alpha=1.0,
        num_classes={"labels": 3, "segmentation_masks": 4},
        bounding_box_format="xyxy",
        seed=0,
    )
    if front == "numpy":
        out = MixupTransform(**options)(element)
    else:
        dataset = tf.data.Dataset.from_tensors(element)
        mixer = MixupLayer(**options) if front.startswith("layer") else MixupTransform(**options)
        dataset = dataset.apply(mixer) if front.endswith("apply") else dataset.map(mixer)
        out = keras.tree.map_structure(lambda t: t.numpy(), next(iter(dataset)))
    assert list(out) == list(element)
    assert out["images"].shape == (B, H, W, 3) and out["labels"].shape == (B, 3)
    assert out["segmentation_masks"].shape == (B, H, W, 4)  # one-hot, float32
    assert str(out["segmentation_masks"].dtype) == "float32"
    np.testing.assert_allclose(out["segmentation_masks"].sum(-1), 1.0, rtol=1e-6)
    assert out["bounding_boxes"]["boxes"].shape == (B, 4, 4)  # own 2 + partner's 2
    assert set(out["bounding_boxes"]) == {"boxes", "labels", "mix_weights"}


def test_unknown_keys_and_boxes_without_a_format_are_errors_naming_them():
    element = dict_element()
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['extra'\]"):
        MixupTransform(seed=0)({**element, "extra": element["labels"]})
    with pytest.raises(ValueError, match=r"'bounding_boxes' but no `bounding_box_format`.*'xyxy'"):
        MixupTransform(seed=0)(element)
    with pytest.raises(ValueError, match=r"`bounding_box_format` must be one of"):
        MixupTransform(bounding_box_format="xyxz")


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
    element = dict_element(boxes_per_image=1)
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
            __import__("keras_mixup")._src.structures.Parts(element["images"]),
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
    element = dict_element()
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
    out = MixupTransform(alpha=1.0, bounding_box_format="xyxy", seed=0)(dict_element())
    assert str(out["images"].dtype) == "bfloat16"
    assert str(out["bounding_boxes"]["boxes"].dtype) == "float32"


# ---------------------------------------------------------------- masks, channels first


def test_segmentation_masks_are_cut_pixel_by_pixel_with_the_image():
    element = dict_element(with_boxes=False, with_masks=True)
    element["images"] = np.broadcast_to(
        np.arange(B, dtype="uint8")[:, None, None, None], (B, H, W, 1)
    ).copy()
    element["segmentation_masks"] = np.broadcast_to(
        np.arange(B, dtype="int32")[:, None, None, None], (B, H, W, 1)
    ).copy()
    transform = MixupTransform(
        alpha=0.0, cutmix_alpha=1.0, num_classes={"labels": 3, "segmentation_masks": B}, seed=5
    )
    out = transform(element)
    source_of_pixel = out["images"][..., 0].astype(int)  # each image's pixels name their source
    np.testing.assert_array_equal(out["segmentation_masks"].argmax(-1), source_of_pixel)
    np.testing.assert_allclose(out["segmentation_masks"].max(-1), 1.0)


def test_channels_first_images_are_cut_on_their_height_and_width_axes():
    images = np.broadcast_to(
        np.arange(B, dtype="float32")[:, None, None, None], (B, 3, H, W)
    ).copy()
    labels = np.arange(B) % 3
    transform = MixupTransform(
        alpha=0.0, cutmix_alpha=1.0, num_classes=3, data_format="channels_first", seed=1
    )
    x, y = transform(images, labels)
    assert x.shape == (B, 3, H, W)
    np.testing.assert_array_equal(x[:, 0], x[:, 2])  # every channel cut with the same box
    kept = (x[:, 0] == images[:, 0]).mean(axis=(1, 2))
    np.testing.assert_allclose(
        y[np.arange(B), labels], kept, atol=1e-6
    )  # label weight = pixel share


# ---------------------------------------------------------------- Pipeline, Grain, a model


def test_keras_pipeline_with_the_layer_in_tf_data_and_in_a_model():
    element = dict_element()
    element["images"] = element["images"].astype("float32")
    pipeline = keras.layers.Pipeline(
        [keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy", seed=0),
         MixupLayer(alpha=1.0, bounding_box_format="xyxy", seed=0)]
    )  # fmt: skip
    out = next(iter(tf.data.Dataset.from_tensors(element).map(pipeline)))
    assert out["bounding_boxes"]["labels"].shape == (B, 4)
    assert not np.allclose(out["labels"].numpy(), element["labels"])  # mixed in the pipeline
    mixup = MixupLayer(alpha=1.0, seed=0)
    model = keras.Sequential(
        [keras.Input((H, W, 3)), keras.layers.Pipeline([keras.layers.RandomFlip(seed=0), mixup]),
         keras.layers.Flatten(), keras.layers.Dense(3)]
    )  # fmt: skip
    model.compile("sgd", MixupLoss("categorical_crossentropy", layer=mixup, from_logits=True))
    loss = model.train_on_batch(element["images"], element["labels"])
    assert np.isfinite(loss) and mixup.record.params is not None  # the loss followed the layer


def test_grain_random_map_is_deterministic_per_record_and_resumes_from_a_checkpoint():
    grain = pytest.importorskip("grain")
    images = RNG.integers(0, 255, (24, 4, 4, 1)).astype("uint8")
    labels = (np.arange(24) % 3).astype("int32")
    records = [(images[i], labels[i]) for i in range(24)]
    transform = MixupTransform(alpha=1.0, num_classes=3)

    def pipeline():
        return grain.MapDataset.source(records).batch(4).random_map(transform, seed=7)

    first = [pipeline()[i] for i in range(6)]
    again = [pipeline()[i] for i in range(6)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(first[0][1], np.eye(3)[labels[:4]])  # it mixed
    iterator = iter(pipeline().to_iter_dataset())
    next(iterator), next(iterator)
    state = iterator.get_state()
    rest = [next(iterator) for _ in range(3)]
    resumed = iter(pipeline().to_iter_dataset())
    resumed.set_state(state)
    for a in rest:
        b = next(resumed)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_grain_map_of_the_layer_on_numpy_batches():
    grain = pytest.importorskip("grain")
    records = [(RNG.random((4, 4, 3)).astype("float32"), np.int32(i % 3)) for i in range(8)]
    layer = MixupLayer(alpha=1.0, num_classes=3, seed=0)
    x, y = grain.MapDataset.source(records).batch(4).map(layer)[0]
    assert isinstance(x, np.ndarray) and y.shape == (4, 3)


def test_review_fixes_smoothing_extra_box_keys_and_a_scheduled_cutmix_round_trip(tmp_path):
    # label smoothing touches class targets only, not a regression target beside them
    transform = MixupTransform(alpha=0.0, num_classes={"cls": 3, "box": None}, label_smoothing=0.3)
    _, y = transform(
        np.zeros((4, 2), "float32"), {"cls": np.arange(4) % 3, "box": np.ones((4, 4), "float32")}
    )
    np.testing.assert_allclose(y["box"], 1.0)
    np.testing.assert_allclose(y["cls"].min(), 0.1, rtol=1e-6)
    # unknown per-box keys would fall out of alignment: an error naming them
    element = dict_element()
    element["bounding_boxes"]["scores"] = np.ones((B, 2), "float32")
    with pytest.raises(ValueError, match=r"\['scores'\] beside 'boxes' and 'labels'"):
        MixupTransform(bounding_box_format="xyxy")(element)
    # a layer saved with cutmix_alpha scheduled to 0 still traces CutMix after loading
    layer = MixupLayer(alpha=0.5, cutmix_alpha=1.0, seed=0, name="scheduled_cutmix")
    model = keras.Sequential(
        [keras.Input((H, W, 3)), layer, keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    model.compile("sgd", MixupLoss("categorical_crossentropy", layer=layer, from_logits=True))
    layer.cutmix_alpha = 0.0
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras").layers[0]
    assert loaded.spec.traces("cutmix_alpha") and loaded.cutmix_alpha == 0.0
    loaded.cutmix_alpha = 1.0  # the schedule resumes


@pytest.mark.parametrize("mixed", [True, False], ids=["training", "inference"])
def test_channels_first_per_pixel_targets_of_a_loss_keep_the_predictions_layout(mixed):
    """`[B, 1, H, W]` class ids become `[B, K, H, W]` targets, like the predictions,
    whether the step mixed them (training) or not (evaluate, params=None)."""
    spec = MixupLayer(alpha=1.0, data_format="channels_first").spec
    ids = np.arange(B * H * W, dtype="int32").reshape(B, 1, H, W) % 3
    weights = np.linspace(0.1, 1.0, B).astype("float32")
    params = (
        MixParams(mix_weight=weights, permutation=np.roll(np.arange(B), 1).astype("int32"))
        if mixed
        else None
    )
    targets, _ = spec.mix_targets(
        params, ids, width=3, integers="class_ids", sample_weight=None, name="y", ops=NUMPY
    )
    one_hot = np.moveaxis(np.eye(3, dtype="float32")[ids[:, 0]], -1, 1)  # [B, 3, H, W]
    expected = (
        weights[:, None, None, None] * one_hot
        + (1 - weights[:, None, None, None]) * one_hot[np.roll(np.arange(B), 1)]
        if mixed
        else one_hot
    )
    np.testing.assert_allclose(targets, expected, atol=1e-6)


@pytest.mark.parametrize("form", ["tf.data", "numpy"])
def test_the_layer_in_a_pipeline_writes_floating_features_once_in_its_compute_dtype(policy, form):
    """float64 features come out in the compute dtype (bfloat16), blended with the
    weights the targets carry, in tf.data and on NumPy alike."""
    policy("mixed_bfloat16")
    x, y = np.eye(B, dtype="float64"), np.arange(B)  # row i's entries: its weights
    layer = MixupLayer(alpha=1.0, num_classes=B, seed=0)
    if form == "tf.data":
        out_x, out_y = next(iter(tf.data.Dataset.from_tensors((x, y)).map(layer)))
        out_x, out_y = out_x.numpy(), out_y.numpy()
    else:
        out_x, out_y = layer((x, y), training=True)
    assert str(out_x.dtype) == "bfloat16" and str(out_y.dtype) == "float32"
    assert np.count_nonzero(out_y.max(axis=1) < 1) > 0  # mixed
    np.testing.assert_allclose(out_x.astype("float32"), out_y, atol=4e-3)  # bfloat16's step

"""Segmentation as segmentation pipelines use it (issue 28 item 3): where each pixel
comes from one source (CutMix alone, or targets="dominant"), integer masks keep their
dtype and values, the ignore label 255 included (as Keras's own CutMix keeps them,
keras-team/keras#20857); under mixup they stay one-hot targets; per-pixel sample
weights are cut pixel by pixel under CutMix.

Each image is constant (example i is i + 1 everywhere), so every output pixel names
its source: the assertions read the mixing from the pixels, not from our own record."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupLayer, MixupTransform

B, H, W = 6, 12, 12
RNG = np.random.default_rng(0)
IMAGES = np.broadcast_to(np.arange(1, B + 1, dtype="float32")[:, None, None, None], (B, H, W, 1))
MASKS = RNG.integers(0, 3, (B, H, W)).astype("int32")
MASKS[:, 0, :] = 255  # the "void" label of VOC / Cityscapes-style data
LABELS = np.arange(B, dtype="int32")  # example i is class i: the label names the source


def element(masks=MASKS):
    return {"images": IMAGES.copy(), "labels": LABELS, "segmentation_masks": masks}


def source_of(images):
    """The source example of every pixel `[B, H, W]` (exact under CutMix: copied pixels)."""
    return np.rint(np.asarray(images)[..., 0]).astype(int) - 1


CUTMIX_ALONE = dict(alpha=0.0, cutmix_alpha=1.0, num_classes={"labels": B}, seed=3)


def cutmix_fronts():
    transform = MixupTransform(**CUTMIX_ALONE)
    layer = MixupLayer(**CUTMIX_ALONE)
    return {
        "transform eager": lambda e: transform(e),
        "transform tf.data": lambda e: next(iter(tf.data.Dataset.from_tensors(e).map(transform))),
        "layer tf.data": lambda e: next(iter(tf.data.Dataset.from_tensors(e).map(layer))),
        "layer NumPy": lambda e: layer(e),
    }


@pytest.mark.parametrize("front", list(cutmix_fronts()))
@pytest.mark.parametrize("dtype", ["int32", "uint8", "int64"])
def test_cutmix_alone_pastes_integer_masks_exactly_with_the_ignore_label(front, dtype):
    out = cutmix_fronts()[front](element(MASKS.astype(dtype)))
    masks = np.asarray(out["segmentation_masks"])
    assert masks.dtype == np.dtype(dtype) and masks.shape == (B, H, W)
    source = source_of(out["images"])
    assert (source != np.arange(B)[:, None, None]).any()  # something was cut
    expected = MASKS[source, np.arange(H)[None, :, None], np.arange(W)[None, None, :]]
    np.testing.assert_array_equal(masks, expected.astype(dtype))
    assert set(np.unique(masks)) <= {0, 1, 2, 255}
    assert (masks[:, 0, :] == 255).all()  # void stays void, no class invented
    # the labels' weights are each source's share of the pixels, exactly
    shares = np.stack([(source == j).mean(axis=(1, 2)) for j in range(B)], axis=1)
    np.testing.assert_allclose(np.asarray(out["labels"]), shares, atol=1e-6)


def test_sparse_categorical_crossentropy_with_ignore_class_reads_the_pasted_masks():
    out = MixupTransform(**CUTMIX_ALONE)(element())
    masks = np.asarray(out["segmentation_masks"])
    logits = RNG.normal(size=(B, H, W, 3)).astype("float32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    value = float(keras.ops.convert_to_numpy(loss(masks, logits)))
    valid = masks != 255
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, np.where(valid, masks, 0)[..., None], -1)[..., 0]
    assert value == pytest.approx(-(picked * valid).sum() / valid.sum(), rel=1e-5)


def test_dominant_targets_keep_the_dominant_sources_mask():
    transform = MixupTransform(
        alpha=1.0, targets="dominant", per_example=True, num_classes={"labels": B}, seed=1
    )
    out = transform(element())
    dominant = np.argmax(np.asarray(out["labels"]), axis=1)
    assert (dominant != np.arange(B)).any()
    masks = np.asarray(out["segmentation_masks"])
    assert masks.dtype == np.int32
    np.testing.assert_array_equal(masks, MASKS[dominant])


def test_mixup_still_needs_num_classes_for_integer_masks_and_names_the_routes():
    with pytest.raises(
        ValueError,
        match=r"num_classes.*CutMix, GridMix or FMix without soft edges, alone \(alpha=0.*dominant",
    ):
        MixupTransform(alpha=1.0, num_classes={"labels": B}, seed=0)(element())
    masks = np.where(MASKS == 255, 0, MASKS)
    out = MixupTransform(alpha=1.0, num_classes={"labels": B, "segmentation_masks": 3}, seed=0)(
        element(masks)
    )
    soft = np.asarray(out["segmentation_masks"])
    assert soft.shape == (B, H, W, 3) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("front", ["transform", "layer"])
def test_per_pixel_sample_weights_are_cut_pixel_by_pixel(front):
    weights = RNG.random((B, H, W)).astype("float32")
    stage = (MixupTransform if front == "transform" else MixupLayer)(
        alpha=0.0, cutmix_alpha=1.0, num_classes=B, seed=5
    )
    images, targets, mixed_weights = stage((IMAGES.copy(), LABELS, weights))
    source = source_of(images)
    assert (source != np.arange(B)[:, None, None]).any()
    expected = weights[source, np.arange(H)[None, :, None], np.arange(W)[None, None, :]]
    np.testing.assert_allclose(np.asarray(mixed_weights), expected, atol=1e-6)
    assert np.asarray(targets).shape == (B, B)


def test_ignore_class_under_mixup_gives_void_pixels_no_class_mass():
    """Soft masks: the void pixels one-hot encode to zero rows, so each mixed pixel's
    targets sum to the weight of its labelled sources (read from the images)."""
    transform = MixupTransform(
        alpha=1.0,
        per_example=True,
        ignore_class=255,
        num_classes={"labels": B, "segmentation_masks": 3},
        seed=2,
    )
    out = transform(element())
    soft = np.asarray(out["segmentation_masks"])
    own = np.asarray(out["labels"])  # example i's own weight, and its partner's
    weights = own[np.arange(B), np.arange(B)]
    partner = np.argmax(own - np.eye(B) * 2, axis=1)
    labelled = (MASKS != 255).astype("float32")
    expected_mass = (
        weights[:, None, None] * labelled + (1 - weights)[:, None, None] * labelled[partner]
    )
    np.testing.assert_allclose(soft.sum(-1), expected_mass, atol=1e-5)
    assert (soft[:, 0, :] == 0).all()  # void in every source: no mass at all
    one_hot = np.where(labelled[..., None] > 0, np.eye(3)[np.where(MASKS == 255, 0, MASKS)], 0)
    expected = (
        weights[:, None, None, None] * one_hot
        + (1 - weights)[:, None, None, None] * one_hot[partner]
    )
    np.testing.assert_allclose(soft, expected, atol=1e-5)


def test_without_ignore_class_the_void_label_raises_naming_it():
    with pytest.raises(ValueError, match=r"first offending value is 255"):
        MixupTransform(alpha=1.0, num_classes={"labels": B, "segmentation_masks": 3}, seed=0)(
            element()
        )


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2.5, TypeError), (True, TypeError)])
def test_ignore_class_is_validated(bad, error):
    with pytest.raises(error, match=r"ignore_class"):
        MixupLayer(ignore_class=bad)


def test_ignore_class_survives_the_layer_config():
    config = MixupLayer(alpha=0.5, ignore_class=255).get_config()
    assert config["ignore_class"] == 255
    assert MixupLayer.from_config(config).get_config()["ignore_class"] == 255
    transform = MixupTransform(ignore_class=255)
    assert transform.get_config()["ignore_class"] == 255


def test_ignore_class_in_a_tf_data_graph_passes_the_checks_and_zeroes_void_pixels():
    transform = MixupTransform(
        alpha=1.0, ignore_class=255, num_classes={"labels": B, "segmentation_masks": 3}, seed=0
    )
    out = next(iter(tf.data.Dataset.from_tensors(element()).map(transform)))
    soft = out["segmentation_masks"].numpy()
    assert (soft[:, 0, :] == 0).all() and soft.shape == (B, H, W, 3)
    bad = element(np.where(MASKS == 255, 7, MASKS).astype("int32"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"first offending value is\]? \[?7"):
        next(iter(tf.data.Dataset.from_tensors(bad).map(transform)))

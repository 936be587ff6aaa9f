"""Drop-in for Keras 3 pipelines (issue 23): Keras's element dict (images, labels, bounding
boxes, segmentation masks), `keras.layers.Pipeline`, Grain and NumPy batches (the boxes'
geometry: test_boxes.py)."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixParams, MixupLayer, MixupLoss, MixupTransform
from keras_mixup._src.bindings.ops import NUMPY
from tests.images import dict_element, shapes

B, H, W = 4, 8, 10
RNG = np.random.default_rng(0)


def _element(**kwargs):
    return dict_element(B, H, W, rng=RNG, **kwargs)


# ---------------------------------------------------------------- Keras's format, side by side


@pytest.mark.parametrize(
    "peer, ours", [("MixUp", {"alpha": 1.0}), ("CutMix", {"alpha": 0.0, "cutmix_alpha": 1.0})]
)
def test_same_keys_shapes_and_dtypes_as_keras_own_layers(peer, ours):
    """keras.layers.MixUp / CutMix on the same dict: the images and labels come out with the
    same keys, shapes and dtypes (Keras's boxes differ: its MixUp concatenates boxes on the
    box axis but labels on the batch axis, and its CutMix raises for boxes; ours are below)."""
    element = _element(with_boxes=False)
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
    element = _element(with_masks=True)
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
    element = _element()
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['extra'\]"):
        MixupTransform(seed=0)({**element, "extra": element["labels"]})
    with pytest.raises(ValueError, match=r"'bounding_boxes' but no `bounding_box_format`.*'xyxy'"):
        MixupTransform(seed=0)(element)
    with pytest.raises(ValueError, match=r"`bounding_box_format` must be one of"):
        MixupTransform(bounding_box_format="xyxz")


# ---------------------------------------------------------------- masks, channels first


def test_segmentation_masks_are_cut_pixel_by_pixel_with_the_image():
    element = _element(with_boxes=False, with_masks=True)
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
    element = _element()
    element["images"] = element["images"].astype("float32")
    pipeline = keras.layers.Pipeline(
        [keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy", seed=0),
         MixupLayer(alpha=1.0, bounding_box_format="xyxy", seed=0)]
    )  # fmt: skip
    out = next(iter(tf.data.Dataset.from_tensors(element).map(pipeline)))
    assert out["bounding_boxes"]["labels"].shape == (B, 4)
    assert not np.allclose(out["labels"].numpy(), element["labels"])  # mixed in the pipeline
    mixup = MixupLayer(alpha=1.0, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.Sequential(
            [keras.Input((H, W, 3)), keras.layers.Pipeline([keras.layers.RandomFlip(seed=0), mixup]),
             keras.layers.Flatten(), keras.layers.Dense(3)]
        )  # fmt: skip
    # Keras builds the Pipeline by running it on symbolic inputs: the layer sees shape
    # inference there, draws nothing and asks for no loss (else Keras warns it cannot build)
    assert not [w for w in caught if "unbuilt state" in str(w.message)], caught
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
    element = _element()
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

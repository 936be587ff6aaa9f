"""keras_mixup composed with Keras 3's image preprocessing layers (issue "Composes with
the Keras ecosystem", item 1).

Keras's layers pass labels on as float32 (`RandomFlip` turns the ids `[0, 1, 2]` into
`[0., 1., 2.]`), which keras_mixup reads as class ids (tests/core/test_float_class_ids.py
covers four layers and the label rules). Here every image preprocessing layer of the
installed Keras that takes Keras's element dict is placed before and after
`MixupLayer` (in a `keras.layers.Pipeline` mapped over tf.data) and `MixupTransform`
(`dataset.map`), with integer ids and with one-hot labels, and:

- the targets are one-hot mixtures, `own * onehot(y) + (1 - own) * onehot(y[partner])`,
  whose weights and partners are read from the targets themselves (every example has
  its own class, so a target row names its sources), and the mixed images are the
  same mixtures of the images that entered the mixup stage;
- integer ids and one-hot labels give bit-identical elements (same seeds).

Also: the layer and the transform over Grain after a Keras layer, and boxes through
`RandomFlip` then `MixupLayer(bounding_box_format="xyxy")`.

The layers run on the TensorFlow backend in tf.data (Keras's preprocessing layers
always do there); the JAX and PyTorch backends (a Keras layer called on NumPy batches
in Grain returns the backend's tensors) would need fresh processes, as
tests/backends/check_layer.py does, and are not run here.
"""

import inspect
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupLayer, MixupTransform

B, H, W, K = 8, 8, 8, 8
SEED = 1  # the Keras layers' seed
MIX_SEED = 3  # the mixup stage's seed
RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (B, H, W, 3)).astype("float32")
# distinct class ids: a mixed target row names its two sources (own class, partner's)
IDS = RNG.permutation(K)[:B].astype("int32")
ONE_HOT = np.eye(K, dtype="float32")[IDS]
LABELS = {"ids": IDS, "one_hot": ONE_HOT}  # the label forms

_L = keras.layers
# Every image preprocessing layer of Keras 3.15 that takes the element dict
# {"images", "labels", ...}, with arguments that change an 8x8 image.
KERAS_LAYERS = {
    "AugMix": lambda: _L.AugMix(seed=SEED),
    "AutoContrast": lambda: _L.AutoContrast(),
    "CenterCrop": lambda: _L.CenterCrop(6, 6),
    "Equalization": lambda: _L.Equalization(),
    "RandAugment": lambda: _L.RandAugment(seed=SEED),
    "RandomBrightness": lambda: _L.RandomBrightness(0.3, seed=SEED),
    "RandomColorDegeneration": lambda: _L.RandomColorDegeneration(0.5, seed=SEED),
    "RandomColorJitter": lambda: _L.RandomColorJitter(
        brightness_factor=0.2,
        contrast_factor=0.3,
        saturation_factor=0.3,
        hue_factor=0.2,
        seed=SEED,
    ),
    "RandomContrast": lambda: _L.RandomContrast(0.5, seed=SEED),
    "RandomCrop": lambda: _L.RandomCrop(6, 6, seed=SEED),
    "RandomElasticTransform": lambda: _L.RandomElasticTransform(factor=1.0, scale=0.5, seed=SEED),
    "RandomErasing": lambda: _L.RandomErasing(factor=1.0, seed=SEED),
    "RandomFlip": lambda: _L.RandomFlip(seed=SEED),
    "RandomGaussianBlur": lambda: _L.RandomGaussianBlur(factor=1.0, seed=SEED),
    "RandomHue": lambda: _L.RandomHue(0.5, seed=SEED),
    "RandomInvert": lambda: _L.RandomInvert(factor=0.5, seed=SEED),
    "RandomPerspective": lambda: _L.RandomPerspective(factor=1.0, scale=0.5, seed=SEED),
    "RandomPosterization": lambda: _L.RandomPosterization(factor=(1, 8), seed=SEED),
    "RandomRotation": lambda: _L.RandomRotation(0.3, seed=SEED),
    "RandomSaturation": lambda: _L.RandomSaturation(0.5, seed=SEED),
    "RandomSharpness": lambda: _L.RandomSharpness(0.5, seed=SEED),
    "RandomShear": lambda: _L.RandomShear(x_factor=0.3, y_factor=0.3, seed=SEED),
    "RandomTranslation": lambda: _L.RandomTranslation(0.2, 0.2, seed=SEED),
    "RandomZoom": lambda: _L.RandomZoom(0.3, seed=SEED),
    "Resizing": lambda: _L.Resizing(6, 6),
    "Solarization": lambda: _L.Solarization(addition_factor=0.5, threshold_factor=0.5, seed=SEED),
}
# The image preprocessing layers left out, and why (Keras 3.15):
SKIPPED = {
    # its base class's `transform_labels` raises NotImplementedError: it takes images only
    "ContrastLimitedAdaptiveHistogramEqualization": "Keras: cannot take a dict with 'labels'",
    # `get_random_transformation` reads `.shape` of the dict ('dict' object has no
    # attribute 'shape'): a Keras bug, it takes images only
    "RandomGrayscale": "Keras: cannot take the element dict (reads its .shape)",
    # mixers themselves: they mix the labels; composing two mixups is not this matrix
    "CutMix": "a mixing layer itself (its labels are mixed, not passed on)",
    "MixUp": "a mixing layer itself (its labels are mixed, not passed on)",
    # acts on 'bounding_boxes' alone (and needs them): covered by no image case
    "MaxNumBoundingBoxes": "pads bounding boxes only; needs 'bounding_boxes'",
}


def _layer_params():
    params = []
    for name in sorted(KERAS_LAYERS):
        marks = () if hasattr(keras.layers, name) else pytest.mark.skip(reason="not in this Keras")
        params.append(pytest.param(name, marks=marks, id=name))
    return params


LAYER_PARAMS = _layer_params()


def test_the_matrix_names_every_image_preprocessing_layer_of_this_keras():
    """A Keras release that adds an image preprocessing layer makes this fail: add it to
    KERAS_LAYERS (or to SKIPPED, with the reason)."""
    image_layers = {
        name
        for name, value in vars(keras.layers).items()
        if inspect.isclass(value) and "image_preprocessing" in value.__module__
    }
    assert image_layers <= set(KERAS_LAYERS) | set(SKIPPED), image_layers - set(KERAS_LAYERS)


def _sources(targets, ids=IDS):
    """Each row's own weight and partner, read from mixed one-hot targets of distinct
    class ids (partner = the row itself where the row is unmixed)."""
    rows = np.arange(len(ids))
    own = targets[rows, ids]
    others = targets.copy()
    others[rows, ids] = 0.0
    position = np.argsort(ids)  # class -> example (ids are a permutation of range(K))
    # a row paired with itself has all its mass on its class (lam + (1 - lam), which
    # float32 may round below 1)
    partner = np.where(others.max(-1) > 0, position[others.argmax(-1)], rows)
    return own, partner


def assert_mixture(out, before_mixup, ids=IDS):
    """`out`'s targets are one-hot mixtures of two examples with one weight for the
    batch, and its images are the same mixtures of `before_mixup` (the images that
    entered the mixup stage)."""
    targets = out["labels"]
    assert targets.dtype == np.float32 and targets.shape == (len(ids), K)
    own, partner = _sources(targets, ids)
    one_hot = np.eye(K, dtype="float32")[ids]
    expected = own[:, None] * one_hot + (1 - own[:, None]) * one_hot[partner]
    np.testing.assert_allclose(targets, expected, rtol=0, atol=1e-6)
    assert sorted(partner.tolist()) == list(range(len(ids))), partner  # a permutation
    mixed = partner != np.arange(len(ids))
    assert mixed.sum() >= 2, own  # the draw mixes the batch
    np.testing.assert_allclose(own[mixed], own[mixed][0], rtol=1e-6)  # one lambda per batch
    weight = own.reshape(-1, 1, 1, 1)
    images = weight * before_mixup + (1 - weight) * before_mixup[partner]
    assert out["images"].dtype == np.float32
    np.testing.assert_allclose(out["images"], images, rtol=1e-5, atol=1e-3)


def assert_identical(a, b):
    flat_a, flat_b = keras.tree.flatten_with_path(a), keras.tree.flatten_with_path(b)
    assert [p for p, _ in flat_a] == [p for p, _ in flat_b]
    for (path, x), (_, y) in zip(flat_a, flat_b, strict=True):
        np.testing.assert_array_equal(x, y, err_msg=str(path))


# The mixup stages, made once: each compiles its draw-and-mix once (seconds on this
# machine) and every layer's graph reuses them. Every graph calls each of them exactly
# once, so their generators (all seeded MIX_SEED) stay in step: in any one graph they
# all draw the same parameters, and the layer and the transform, which share the
# sampler, give bit-identical elements.
_MIXERS = {}


def mixers():
    if not _MIXERS:
        for position in ("before", "after"):
            _MIXERS[f"{position}/layer"] = MixupLayer(alpha=1.0, num_classes=K, seed=MIX_SEED)
            _MIXERS[f"{position}/transform"] = MixupTransform(
                alpha=1.0, num_classes=K, seed=MIX_SEED
            )
        _MIXERS["before/layer/one_hot"] = MixupLayer(alpha=1.0, num_classes=K, seed=MIX_SEED)
    return _MIXERS


# Keras layers whose graphs have thousands of ops (seconds to trace, each call, on this
# machine): they run before MixupTransform only, on integer ids; their labels take the
# base class's path, which the other layers check in every position (AugMix and
# RandAugment apply other layers of this list).
HEAVY = {"AugMix", "RandAugment", "RandomElasticTransform"}


def _seeded(stage, element):
    """`stage(element)` with Python's `random` seeded: AugMix picks its chain's layers
    with it when traced, so that every AugMix instance then transforms alike."""
    random.seed(0)
    return stage(element)


_OUTPUTS = {}


def outputs(name):
    """Every composition of Keras layer `name` with the mixup stages, in one tf.data
    graph (each composition as `dataset.map` would trace it), run once:

    - "augmented": the Keras layer alone on integer ids;
    - "before/transform": that element through `MixupTransform` (the transform's call);
    - "before/layer", "before/layer/one_hot": `Pipeline([keras_layer, MixupLayer])` on
      integer ids and on one-hot labels;
    - "mixed": `MixupTransform` alone, "after/transform": then the Keras layer;
    - "after/layer": `Pipeline([MixupLayer, keras_layer])`.
    """
    if name in _OUTPUTS:
        return _OUTPUTS[name]
    stages = mixers()
    heavy = name in HEAVY
    keras_layers = [KERAS_LAYERS[name]() for _ in range(1 if heavy else 5)]
    if not heavy:
        before = keras.layers.Pipeline([keras_layers[1], stages["before/layer"]])
        before_one_hot = keras.layers.Pipeline([keras_layers[2], stages["before/layer/one_hot"]])
        after = keras.layers.Pipeline([stages["after/layer"], keras_layers[4]])

    def graph(images, ids, one_hot):
        with_ids = {"images": images, "labels": ids}
        with_one_hot = {"images": images, "labels": one_hot}
        out = {"augmented": _seeded(keras_layers[0], with_ids)}
        out["before/transform"] = stages["before/transform"](out["augmented"])
        out["mixed"] = stages["after/transform"](with_ids)
        if heavy:  # the stages this graph leaves out still draw once (in step)
            out["unused/before"] = stages["before/layer"](with_ids)
            out["unused/one_hot"] = stages["before/layer/one_hot"](with_one_hot)
            out["unused/after"] = stages["after/layer"](with_ids)
        else:
            out["before/layer"] = _seeded(before, with_ids)
            out["before/layer/one_hot"] = _seeded(before_one_hot, with_one_hot)
            out["after/transform"] = _seeded(keras_layers[3], out["mixed"])
            out["after/layer"] = _seeded(after, with_ids)
        return out

    dataset = tf.data.Dataset.from_tensors((IMAGES, IDS, ONE_HOT)).map(graph)
    result = keras.tree.map_structure(lambda t: t.numpy(), next(iter(dataset)))
    _OUTPUTS[name] = result
    return result


def _light(name):
    if name in HEAVY:
        pytest.skip(f"{name}: before MixupTransform only (HEAVY: seconds to trace a call)")


@pytest.mark.parametrize("name", LAYER_PARAMS)
def test_ids_made_floats_by_a_keras_layer_are_mixed_by_the_transform(name):
    """Keras layer, then MixupTransform: the ids the layer made floats are mixed with
    the weights and partners of the layer's output images."""
    out = outputs(name)
    augmented = out["augmented"]
    assert augmented["labels"].dtype == np.float32  # what Keras does to the ids
    np.testing.assert_array_equal(augmented["labels"], IDS)
    assert_mixture(out["before/transform"], augmented["images"])


@pytest.mark.parametrize("name", LAYER_PARAMS)
def test_a_keras_layer_then_mixup_layer_in_a_pipeline(name):
    """Pipeline([keras_layer, MixupLayer]): the same mixtures of the Keras layer's
    output (bit-identical to the transform's, which shares the sampler and seed)."""
    _light(name)
    out = outputs(name)
    assert_mixture(out["before/layer"], out["augmented"]["images"])
    assert_identical(out["before/layer"], out["before/transform"])


@pytest.mark.parametrize("name", LAYER_PARAMS)
def test_one_hot_labels_through_a_keras_layer_mix_like_integer_ids(name):
    _light(name)
    out = outputs(name)
    assert_identical(out["before/layer/one_hot"], out["before/layer"])


@pytest.mark.parametrize("name", LAYER_PARAMS)
def test_a_keras_layer_after_mixup_passes_the_mixed_targets_on(name):
    """MixupTransform, then the Keras layer; Pipeline([MixupLayer, keras_layer]): the
    Keras layer gets float targets [B, K] and passes them on unchanged."""
    _light(name)
    out = outputs(name)
    assert_mixture(out["mixed"], IMAGES)
    np.testing.assert_array_equal(out["after/transform"]["labels"], out["mixed"]["labels"])
    assert_identical(out["after/layer"], out["after/transform"])


# ---------------------------------------------------------------- Grain


@pytest.mark.parametrize("front", ["layer", "transform"])
def test_grain_keras_layer_then_mixup(front):
    """A Grain MapDataset of Keras dicts: RandomFlip on the NumPy batches (eager Keras:
    TensorFlow tensors out, made NumPy again; labels keep their dtype there), then the
    layer (`map`) or the transform (`random_map`), on integer ids, on the float ids a
    Keras layer gives in tf.data, and on one-hot labels: bit-identical mixtures of the
    flipped images."""
    grain = pytest.importorskip("grain")

    def flip(element):
        out = keras.layers.RandomFlip(seed=SEED)(element)
        return keras.tree.map_structure(keras.ops.convert_to_numpy, out)

    def batches(labels):
        rows = [{"images": IMAGES[i], "labels": labels[i]} for i in range(B)]
        return grain.MapDataset.source(rows).batch(B).map(flip)

    reference = batches(IDS)[0]
    np.testing.assert_array_equal(reference["labels"], IDS)
    assert not np.array_equal(reference["images"], IMAGES)  # flipped
    outs = {}
    for form, labels in {"ids": IDS, "float_ids": IDS.astype("float32"), **LABELS}.items():
        if front == "layer":
            dataset = batches(labels).map(MixupLayer(alpha=1.0, num_classes=K, seed=MIX_SEED))
        else:
            transform = MixupTransform(alpha=1.0, num_classes=K, seed=MIX_SEED)
            dataset = batches(labels).random_map(transform, seed=1)
        outs[form] = dataset[0]
        assert isinstance(outs[form]["images"], np.ndarray)
    assert_mixture(outs["ids"], reference["images"])
    assert_identical(outs["float_ids"], outs["ids"])
    assert_identical(outs["one_hot"], outs["ids"])


# ---------------------------------------------------------------- boxes


def test_boxes_through_random_flip_then_mixup_layer_stay_with_their_labels():
    """RandomFlip (boxes "xyxy") then MixupLayer(bounding_box_format="xyxy") in one
    Pipeline over tf.data: every mixed image carries its own boxes and its partner's,
    each with its class label and its source's weight, inside the image."""
    n = 2
    corner = RNG.integers(0, 4, (B, n, 2)).astype("float32")
    size = RNG.integers(1, 5, (B, n, 2)).astype("float32")
    boxes = np.concatenate([corner, corner + size], axis=-1)  # x1 y1 x2 y2 inside 8x8
    box_labels = np.repeat(IDS[:, None], n, axis=1)  # each box is its image's class
    element = {
        "images": IMAGES,
        "labels": IDS,
        "bounding_boxes": {"boxes": boxes, "labels": box_labels},
    }

    mixup = MixupLayer(alpha=1.0, num_classes=K, bounding_box_format="xyxy", seed=MIX_SEED)
    flip, flip_again = (
        keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy", seed=SEED)
        for _ in range(2)
    )
    pipeline = keras.layers.Pipeline([flip, mixup])
    dataset = tf.data.Dataset.from_tensors(element).map(lambda e: (flip_again(e), pipeline(e)))
    flipped, out = keras.tree.map_structure(lambda t: t.numpy(), next(iter(dataset)))
    assert not np.array_equal(flipped["bounding_boxes"]["boxes"], boxes)  # some were flipped
    assert_mixture(out, flipped["images"])
    own, partner = _sources(out["labels"])
    mixed = partner != np.arange(B)
    lam = own[mixed][0]  # the batch's weight (a row paired with itself has it too)
    got = out["bounding_boxes"]
    assert got["boxes"].shape == (B, 2 * n, 4) and got["labels"].shape == (B, 2 * n)
    expected_boxes = np.concatenate(
        [flipped["bounding_boxes"]["boxes"], flipped["bounding_boxes"]["boxes"][partner]], axis=1
    )
    np.testing.assert_allclose(got["boxes"], expected_boxes, atol=1e-5)
    np.testing.assert_array_equal(
        got["labels"], np.concatenate([box_labels, box_labels[partner]], 1)
    )
    # each box keeps its source's weight, which its image's target gives its class
    weights = np.repeat([[lam] * n + [1 - lam] * n], B, axis=0)
    np.testing.assert_allclose(got["mix_weights"], weights, atol=1e-6)
    classes = got["labels"].astype("int64")
    np.testing.assert_allclose(
        got["mix_weights"][mixed],
        np.take_along_axis(out["labels"], classes, axis=1)[mixed],
        atol=1e-6,
    )
    x1, y1, x2, y2 = np.moveaxis(got["boxes"], -1, 0)
    assert np.all((0 <= x1) & (x1 < x2) & (x2 <= W) & (0 <= y1) & (y1 < y2) & (y2 <= H))

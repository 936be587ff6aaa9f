"""Keras's own test cases for `keras.layers.MixUp` and `keras.layers.CutMix`, replayed against
`MixupLayer` wherever the contract is the same.

Replayed: `keras/src/layers/preprocessing/image_preprocessing/mix_up_test.py` (`MixUpTest`) and
`cut_mix_test.py` (`CutMixTest`) of Keras 3.15.1 (as installed, with TensorFlow 2.21.0), written
again from their behaviour, not copied. Each test names the Keras case it replays. Keras's
`MixUp(alpha)` is `MixupLayer(alpha=alpha)`; its `CutMix(factor)` is
`MixupLayer(alpha=0.0, cutmix_alpha=factor)` here (the distributions differ: Keras draws
alpha itself from U(0, factor); only the contract is compared).

- Keras's `run_layer_test` (config and serialization round trips, weights, seed generators,
  symbolic and eager calls, the training step, mixed precision) is spelled out.
- Keras's injected transformations (`transform_images(..., transformation={...})`) are
  replayed by injecting `MixParams` into `keras_mixup.blend` or the layer's own application
  (`layer.spec.apply`), side by side with Keras's own `transform_*` on the same values, or by
  recovering the parameters a layer drew from its seed generator (`layer.spec.draw`).
- In tf.data the parameters are read back from the output: every image of a batch has a
  class of its own, so its mixed label names its partner and its weight.

Where keras_mixup differs on purpose (features alone or images alone in a pipeline, an
unbatched element, an eager call without `training=`, a training step without `MixupLoss`,
the first axis always the batch), the test asserts keras_mixup's error and its words, or
its value, and what Keras 3.15.1 does beside it where that is cheap to measure.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixParams, MixupLayer, MixupLoss, blend
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.core.methods import METHODS
from keras_mixup._src.core.structures import Parts

B, H, W = 4, 8, 8
RNG = np.random.default_rng(0)  # module data only; each test draws its own
IMAGES = RNG.random((B, H, W, 3)).astype("float32")
ONE_HOT = np.eye(B, dtype="float32")  # a class per image: a mixed label names its sources

# Keras's MixUp(alpha=0.2) and CutMix(factor=1.0, seed=1), as MixupLayer arguments
MIXUP = {"alpha": 0.2}
CUTMIX = {"alpha": 0.0, "cutmix_alpha": 1.0, "seed": 1}
CONFIGS = pytest.mark.parametrize("options", [MIXUP, CUTMIX], ids=["MixUp", "CutMix"])


def to_numpy(structure):
    return keras.tree.map_structure(keras.ops.convert_to_numpy, structure)


def first_batch(element, layer, batch=B):
    """`Dataset.from_tensor_slices(element).batch(batch).map(layer)`, first batch, NumPy."""
    dataset = tf.data.Dataset.from_tensor_slices(element).batch(batch).map(layer)
    return to_numpy(next(iter(dataset)))


def sources_of(labels):
    """(own weight `[B]`, partner `[B]`) read off the mixed labels of `ONE_HOT`."""
    own = np.diag(labels).copy()
    rest = labels.copy()
    np.fill_diagonal(rest, 0.0)
    partner = np.where(rest.max(axis=1) > 0, rest.argmax(axis=1), np.arange(len(labels)))
    assert sorted(partner) == list(range(len(labels)))  # the partners are a permutation
    return own, partner


def params(weights, permutation, box=None, cut=None):
    return MixParams(
        mix_weight=np.asarray(weights, "float32"),
        permutation=np.asarray(permutation, "int32"),
        box=None if box is None else np.asarray(box, "int32"),
        cut=None if cut is None else np.asarray(cut, bool),
    )


class LayerModel(keras.Model):
    """Keras's `run_layer_test` training check: a model that only calls the layer."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def call(self, x, training=False):
        return self.layer(x, training=training)


class SumLoss(keras.losses.Loss):
    """Keras's training-check loss: the sum of the outputs."""

    def __call__(self, y_true, y_pred, sample_weight=None):
        return keras.ops.sum(y_pred)


def fit_one_step(layer, loss, x, *, jit_compile):
    model = LayerModel(layer)
    model.compile(optimizer="sgd", loss=loss, jit_compile=jit_compile)

    def batches():
        while True:
            yield x, x

    return model.fit(batches(), steps_per_epoch=1, verbose=0).history["loss"][0]


# ------------------------------------------------- MixUpTest / CutMixTest.test_layer (contract)


@CONFIGS
def test_layer_config_and_serialization_round_trip(options):
    """run_layer_test's run_class_serialization_test: from_config(get_config()) and
    serialize / deserialize through JSON give the same configuration and attributes."""
    layer = MixupLayer(**options)
    config = layer.get_config()
    for name, value in options.items():
        assert config[name] == value
    revived = MixupLayer.from_config(config)
    assert json.dumps(revived.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    assert set(dir(revived)) == set(dir(layer))
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    assert serialized["registered_name"] == "keras_mixup>MixupLayer"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is MixupLayer
    assert json.dumps(restored.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    for name, value in options.items():
        assert getattr(restored, name) == value


def test_layer_weights_seed_generators_and_build():
    """run_layer_test's build asserts. Keras's MixUp has no weights; MixupLayer has no
    trainable weight and one float32 non-trainable weight per run-time setting (what
    AlphaScheduler assigns): 0.2.0's four first, in their saved order, then the alphas
    of the methods added since, each 0 (off) by default; and one seed generator; it is
    built at instantiation."""
    layer = MixupLayer(alpha=0.2, seed=0)
    assert layer.built
    assert layer.trainable_weights == []
    names = [v.path.split("/")[-1] for v in layer.non_trainable_weights]
    assert names[:4] == ["alpha", "cutmix_alpha", "switch_prob", "prob"]
    added = names[4:]
    assert added == [m.alpha for m in METHODS[2:]]  # each method after CutMix, in order
    assert {v.dtype for v in layer.weights} == {"float32"}
    np.testing.assert_allclose(
        to_numpy(layer.non_trainable_weights), [0.2, 0.0, 0.5, 1.0] + [0.0] * len(added)
    )
    generators = [v for v in vars(layer).values() if isinstance(v, keras.random.SeedGenerator)]
    assert len(generators) == 1
    layer.build((8, 3, 4, 3))
    assert layer.built


@CONFIGS
def test_layer_symbolic_and_eager_calls_keep_the_input_shape(options):
    """run_layer_test with input_shape=(8, 3, 4, 3), expected_output_shape=(8, 3, 4, 3).
    Difference: called eagerly without `training=`, Keras's layers mix (their `training`
    defaults to True); MixupLayer is then a model's input in inference, the identity."""
    symbolic = MixupLayer(**options)(keras.KerasTensor((8, 3, 4, 3)))
    assert tuple(symbolic.shape) == (8, 3, 4, 3) and symbolic.dtype == "float32"
    assert MixupLayer(**options).compute_output_shape((8, 3, 4, 3)) == (8, 3, 4, 3)
    x = np.random.default_rng(1).random((8, 3, 4, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(MixupLayer(**options)(x))
    assert out.shape == (8, 3, 4, 3)
    np.testing.assert_array_equal(out, x)
    keras_layer = keras.layers.MixUp(alpha=0.2, seed=0)
    assert not np.allclose(keras.ops.convert_to_numpy(keras_layer(x)), x)  # Keras 3.15.1


def test_layer_training_check_without_a_mixup_loss_raises_our_error():
    """run_layer_test's training check (a model calling the layer, loss = sum of outputs)
    passes for Keras's MixUp, which then trains the 'mix inputs only' ablation. MixupLayer
    refuses a training step with no MixupLoss bound, and says what to do."""
    x = np.random.default_rng(1).random((8, 3, 4, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"no MixupLoss is bound to it.*inputs_only=True"):
        fit_one_step(MixupLayer(alpha=0.2, seed=0), SumLoss(), x, jit_compile=False)


@CONFIGS
def test_layer_training_check_with_its_mixup_loss(options):
    """The training check (Keras's jit_compile="auto") with the loss bound. With y_true = x,
    the targets the loss mixes must be the mixed inputs themselves, so the MSE is exactly 0:
    the loss followed the layer's lambda, partners (and CutMix box, pixel by pixel) in the
    step. (Under jit_compile=True Keras 3.15.1's layers fail on CPU too, its Beta sampler
    has no XLA kernel; keras_mixup's XLA steps are in test_layer.py.)"""
    x = np.random.default_rng(1).random((8, 3, 4, 3)).astype("float32")
    layer = MixupLayer(**options)
    loss = fit_one_step(layer, MixupLoss("mean_squared_error", layer=layer), x, jit_compile="auto")
    assert layer.record.params is not None  # the step mixed
    assert loss == pytest.approx(0.0, abs=1e-10)


def test_layer_training_check_inputs_only_runs_keras_check_as_it_is():
    """Keras's training check itself, with `inputs_only=True` (the ablation on purpose):
    one lambda per batch and a permutation keep the sum of the batch, so the loss (the sum
    of the outputs) equals the sum of the inputs."""
    x = np.random.default_rng(1).random((8, 3, 4, 3)).astype("float32")
    layer = MixupLayer(alpha=0.2, seed=3, inputs_only=True)
    loss = fit_one_step(layer, SumLoss(), x, jit_compile=False)
    assert layer.record.params is not None
    assert loss == pytest.approx(float(x.sum()), rel=1e-5)


@CONFIGS
def test_layer_mixed_precision_check(options):
    """run_layer_test's mixed-precision check: outputs in the compute dtype, as the output
    spec says, in inference and in a mixing step; the variables stay float32."""
    layer = MixupLayer(**options, inputs_only=True, dtype="mixed_float16")
    x = np.random.default_rng(1).random((8, 3, 4, 3)).astype("float32")
    spec = layer.compute_output_spec(keras.KerasTensor(x.shape, dtype="float32"))
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == spec.dtype == "float16"
    out = layer(x, training=True)
    assert keras.backend.standardize_dtype(out.dtype) == spec.dtype == "float16"
    assert {v.dtype for v in layer.weights} == {"float32"}


def test_layer_supports_masking_unlike_keras():
    """run_layer_test(supports_masking=False) for Keras's layers. MixupLayer supports Keras
    masks (padded sequences are mixed with the union mask): in inference the mask passes
    through unchanged."""
    assert keras.layers.MixUp().supports_masking is False
    layer = MixupLayer(alpha=0.2)
    assert layer.supports_masking is True
    mask = np.array([[True, True, False]] * 2)
    layer(np.ones((2, 3, 4), "float32"), training=False)
    np.testing.assert_array_equal(layer.compute_mask(np.ones((2, 3, 4)), mask), mask)


# ------------------------------------------ test_mix_up_inference / test_cut_mix_inference


@CONFIGS
def test_inference_on_an_unbatched_image_is_the_identity(options):
    """An unbatched integer image with training=False comes back with the same values (as a
    float32 image: the compute dtype, in every mode)."""
    image = np.random.default_rng(1).integers(0, 255, size=(16, 16, 3))
    out = MixupLayer(**options)(image, training=False)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), image)


def test_an_unbatched_element_in_a_pipeline_raises_our_error():
    """Keras's layers accept an unbatched image (rank 3: a batch of one). A keras_mixup
    pipeline element must be batched: the error says to call dataset.batch() first."""
    element = {"images": IMAGES, "labels": np.arange(B)}
    unbatched = tf.data.Dataset.from_tensor_slices(element)
    with pytest.raises(ValueError, match=r"this element is not batched\. Call dataset\.batch"):
        unbatched.map(MixupLayer(num_classes=B))  # raised when the map function is traced
    one = {"images": IMAGES[0], "labels": ONE_HOT[0]}  # NumPy, one image and its one-hot label
    with pytest.raises(ValueError, match=r"share the batch \(first\) dimension.*dataset\.batch"):
        MixupLayer(seed=0)(one)


def test_in_a_model_the_first_axis_is_the_batch_even_for_a_rank_3_image():
    """Difference: in training Keras treats a rank-3 input as one unbatched image (MixUp
    pairs it with itself: unchanged). MixupLayer mixes any features, so the first axis is
    always the batch: a (16, 16, 3) input is 16 rows of (16, 3), mixed with each other."""
    image = np.random.default_rng(1).random((16, 16, 3)).astype("float32")
    keras_out = keras.layers.MixUp(seed=0)(image, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_out), image, atol=1e-6)
    layer = MixupLayer(alpha=1.0, seed=5, inputs_only=True)
    seed = keras.ops.convert_to_numpy(layer.seed_generator.state)
    out = keras.ops.convert_to_numpy(layer(image, training=True))
    drawn = layer.spec.draw(seed, Parts(image), layer.spec.runtime_values(), owner="", ops=NUMPY)
    np.testing.assert_allclose(out, blend(image, drawn), atol=1e-6)
    assert not np.allclose(out, image)


# ------------- test_mix_up_basic_functionality[_channel_first], test_cut_mix_basic (injected)


@pytest.mark.parametrize("shape", [(1, 16, 16, 3), (1, 3, 16, 16)], ids=["last", "first"])
def test_weight_one_and_itself_as_partner_is_the_identity(shape):
    """Keras: transformation {"mix_weight": 1, "permutation_order": [0]} returns the image.
    Ours: the same injected parameters, and a batch of one through the layer (nothing to
    mix with), images and labels alike."""
    x = np.random.default_rng(1).random(shape).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(blend(x, params([1.0], [0]))), x)
    layer = MixupLayer(alpha=1.0, seed=0, inputs_only=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=True)), x)
    out = MixupLayer(alpha=1.0, seed=0)({"images": x, "labels": ONE_HOT[:1]})
    np.testing.assert_array_equal(out["images"], x)
    np.testing.assert_array_equal(out["labels"], ONE_HOT[:1])


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_injected_mixup_weights_match_keras_transform_images(data_format):
    """Keras: mix_weight 0.2, permutation [1, 0, 2, 3] changes the batch and keeps its
    shape. Ours: exact values 0.2 x + 0.8 x[perm] (rows 2 and 3, their own partners, stay),
    equal to Keras's own transform_images and transform_labels on the same values."""
    shape = (4, 16, 16, 3) if data_format == "channels_last" else (4, 3, 16, 16)
    x = np.random.default_rng(1).random(shape).astype("float32")
    p = params([0.2] * 4, [1, 0, 2, 3])
    layer = MixupLayer(alpha=0.2, data_format=data_format)
    out = layer.spec.apply(Parts(x, ONE_HOT), p, feature_dtype="float32", ops=NUMPY)
    np.testing.assert_allclose(out.features, 0.2 * x + 0.8 * x[[1, 0, 2, 3]], atol=1e-6)
    np.testing.assert_allclose(out.features[2:], x[2:], atol=1e-6)  # their own partners
    assert not np.allclose(out.features[:2], x[:2])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(blend(x, p)), out.features, atol=1e-7)
    peer = keras.layers.MixUp(alpha=0.2, data_format=data_format)
    transformation = {"mix_weight": np.float32(0.2), "permutation_order": np.array([1, 0, 2, 3])}
    keras_images = peer.transform_images(x, transformation=transformation)
    np.testing.assert_allclose(out.features, keras.ops.convert_to_numpy(keras_images), atol=1e-6)
    keras_labels = peer.transform_labels(ONE_HOT, transformation=transformation)
    np.testing.assert_allclose(out.labels, keras.ops.convert_to_numpy(keras_labels), atol=1e-6)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_injected_cutmix_box_matches_keras_batch_masks(data_format):
    """Keras's test_cut_mix_basic: a ones and a zeros 2x2 image, a one-pixel mask each
    ((0, 1) and (1, 0)), permutation [0, 1]: each image pastes its own pixel, unchanged.
    Ours: the same pixels as boxes (top, left, bottom, right); with permutation [0, 1] the
    batch is unchanged; with [1, 0] each image gets its partner's pixel, exactly as Keras's
    transform_images with the same masks; the labels mixed with the weight 3/4 (the share
    kept, 1 - 1/4) as Keras's transform_labels mixes them."""
    first = data_format == "channels_first"
    ones, zeros = np.ones((2, 2, 1)), np.zeros((2, 2, 1))
    x = np.stack([ones, zeros]).astype("float32")
    masks = np.zeros((2, 2, 2, 1), bool)
    masks[0, 0, 1] = masks[1, 1, 0] = True
    if first:
        x, masks = x.transpose(0, 3, 1, 2), masks.transpose(0, 3, 1, 2)
    layer = MixupLayer(alpha=0.0, cutmix_alpha=1.0, data_format=data_format)
    boxes = [[0, 1, 1, 2], [1, 0, 2, 1]]
    for permutation in ([0, 1], [1, 0]):
        p = params([0.75, 0.75], permutation, boxes, [True, True])
        labels = np.eye(2, dtype="float32")
        out = layer.spec.apply(Parts(x, labels), p, feature_dtype="float32", ops=NUMPY)
        peer = keras.layers.CutMix(data_format=data_format)
        transformation = {
            "batch_masks": masks,
            "mix_weight": np.full((2, 1, 1, 1), 0.75, "float32"),
            "permutation_order": np.array(permutation),
        }
        expected = keras.ops.convert_to_numpy(peer.transform_images(x, transformation))
        np.testing.assert_array_equal(out.features, expected)
        if permutation == [0, 1]:
            np.testing.assert_array_equal(out.features, x)
        else:
            np.testing.assert_array_equal(out.features, np.where(masks, x[::-1], x))
            np.testing.assert_allclose(out.labels, [[0.75, 0.25], [0.25, 0.75]])
            keras_labels = peer.transform_labels(np.eye(2, dtype="float32"), transformation)
            np.testing.assert_allclose(out.labels, keras.ops.convert_to_numpy(keras_labels))


# ------------------------------------------ the elements of the tf.data, boxes and masks cases

MASKS = RNG.integers(0, 3, (B, H, W, 1)).astype("int32")  # 3 segmentation classes
NUM_CLASSES = {"labels": B, "segmentation_masks": 3}
# xyxy boxes, a different pair for each image; their labels name the image: 10 i + k
PAIRS_OF_BOXES = np.array([[[i, 0, i + 3, 3], [4, i, 8, i + 3]] for i in range(B)], "float32")
WHOLE_IMAGE_BOXES = np.tile(np.array([[[0, 0, W, H]]], "float32"), (B, 1, 1))


def full_element(boxes):
    """Keras's element dict with every key: IMAGES, ONE_HOT, `boxes`, MASKS."""
    n = boxes.shape[1]
    box_labels = (10 * np.arange(B)[:, None] + np.arange(n)[None]).astype("int32")
    return {
        "images": IMAGES,
        "labels": ONE_HOT,
        "bounding_boxes": {"boxes": boxes, "labels": box_labels},
        "segmentation_masks": MASKS,
    }


def as_tensors(element, dtype=None):
    cast = (lambda v: tf.constant(v)) if dtype is None else (lambda v: tf.constant(v, dtype))
    return keras.tree.map_structure(cast, element)


@pytest.fixture(scope="module")
def mixup_out():
    """One tf.data batch of `full_element(PAIRS_OF_BOXES)` mixed by mixup (one pipeline for
    the images, labels, boxes and masks cases: each pipeline costs seconds to build)."""
    layer = MixupLayer(alpha=1.0, num_classes=NUM_CLASSES, bounding_box_format="xyxy", seed=0)
    return first_batch(full_element(PAIRS_OF_BOXES), layer)


@pytest.fixture(scope="module")
def cutmix_out():
    """The same with CutMix, on `full_element(WHOLE_IMAGE_BOXES)` as a NumPy batch (Grain's
    and a Python generator's path: the same draw and application code as in tf.data, bound
    to NumPy; a CutMix tf.data pipeline costs this file 5 to 15 seconds to build)."""
    layer = MixupLayer(
        alpha=0.0, cutmix_alpha=1.0, num_classes=NUM_CLASSES, bounding_box_format="xyxy", seed=2
    )
    return to_numpy(layer(full_element(WHOLE_IMAGE_BOXES)))


def pasted_pixels(mixed, images, partner):
    """bool `[B, H, W]`: the pixels each mixed image took from its partner, checked to be
    the partner's pixels (the image's own elsewhere), the same across channels."""
    pasted = (mixed != images).any(axis=-1)
    for i in range(len(images)):
        np.testing.assert_array_equal(mixed[i][pasted[i]], images[partner[i]][pasted[i]])
        np.testing.assert_array_equal(mixed[i][~pasted[i]], images[i][~pasted[i]])
    return pasted


def bounding_rectangle(pasted):
    """(top, left, bottom, right) of the True pixels, checked to fill that rectangle."""
    rows, cols = np.nonzero(pasted)
    top, left, bottom, right = rows.min(), cols.min(), rows.max() + 1, cols.max() + 1
    assert pasted[top:bottom, left:right].all()
    return top, left, bottom, right


# ---------------------------------------------------------------- test_tf_data_compatibility


@pytest.mark.parametrize(
    "peer, options, element",
    [
        ("MixUp", MIXUP, IMAGES[:2]),
        ("CutMix", CUTMIX, IMAGES[:2]),
        ("MixUp", MIXUP, {"images": IMAGES[:2]}),
    ],
    ids=["MixUp-images", "CutMix-images", "MixUp-dict-of-images"],
)
def test_images_alone_in_tf_data_raise_our_error_where_keras_maps_them(peer, options, element):
    """Keras maps its layers over batches of images alone (the images mixed, no labels to
    follow them). keras_mixup refuses: a mixed image needs its mixed label."""
    keras_out = first_batch(element, getattr(keras.layers, peer)(seed=0), batch=2)
    images = keras_out["images"] if isinstance(element, dict) else keras_out
    assert images.shape == (2, H, W, 3)  # Keras 3.15.1 maps them
    if isinstance(element, dict):
        match = r"got a dict with 'images' alone, so there are no labels to mix"
    else:
        match = r"in a data pipeline expects elements of the form .*got features alone"
    with pytest.raises(ValueError, match=match):
        first_batch(element, MixupLayer(**options), batch=2)


def test_dict_element_in_tf_data_mixes_images_and_labels_with_the_same_weights(mixup_out):
    """Keras's test only runs the map; ours checks the values: every mixed image is
    w x_i + (1 - w) x_partner with the weight and partner its label carries, one weight for
    the batch; the keys come back in their order, the labels as float32 targets."""
    out = mixup_out
    assert list(out) == ["images", "labels", "bounding_boxes", "segmentation_masks"]
    assert out["images"].shape == IMAGES.shape and out["labels"].dtype == np.float32
    np.testing.assert_allclose(out["labels"].sum(axis=1), 1.0, atol=1e-6)
    own, partner = sources_of(out["labels"])
    mixed = partner != np.arange(B)
    assert mixed.any() and np.ptp(own[mixed]) < 1e-6  # one lambda per batch
    w = own[:, None, None, None]
    np.testing.assert_allclose(out["images"], w * IMAGES + (1 - w) * IMAGES[partner], atol=1e-5)


def test_dict_element_cutmix_pastes_a_box_worth_its_label_weight(cutmix_out):
    """Keras's CutMix test_tf_data_compatibility (on a NumPy batch, see `cutmix_out`), with
    values: every pixel is the image's own
    or its partner's (the same box across channels), the pasted pixels form one rectangle,
    and the label weight is exactly the share of pixels kept."""
    own, partner = sources_of(cutmix_out["labels"])
    assert (partner != np.arange(B)).any()
    pasted = pasted_pixels(cutmix_out["images"], IMAGES, partner)
    for i in range(B):
        if pasted[i].any():
            bounding_rectangle(pasted[i])
        assert own[i] == pytest.approx(1 - pasted[i].mean(), abs=1e-6)


def test_channels_first_cutmix_cuts_height_and_width():
    """Keras's CutMix test_tf_data_compatibility with data_format="channels_first" (the
    Keras test's other image format): the box is cut on the H and W axes of [B, C, H, W]
    images, worth its label weight (on a NumPy batch, see `cutmix_out`)."""
    layer = MixupLayer(alpha=0.0, cutmix_alpha=1.0, data_format="channels_first", seed=2)
    out = layer({"images": IMAGES.transpose(0, 3, 1, 2), "labels": ONE_HOT})
    assert out["images"].shape == (B, 3, H, W)
    own, partner = sources_of(out["labels"])
    assert (partner != np.arange(B)).any()
    pasted = pasted_pixels(out["images"].transpose(0, 2, 3, 1), IMAGES, partner)
    np.testing.assert_allclose(own, 1 - pasted.mean(axis=(1, 2)), atol=1e-6)
    for i in np.nonzero(pasted.any(axis=(1, 2)))[0]:
        bounding_rectangle(pasted[i])


# ------------------------------ test_mix_up_bounding_boxes / test_mix_up_tf_data_bounding_boxes

# Keras's boxes (xyxy, images 10 x 8): [2, 1, 4, 3] and [6, 4, 8, 6] with labels 1 and 2, mixed
# with permutation [1, 0] and weights 0.5; Keras expects the rows [2, 1, 4, 3, 6, 4, 8, 6] and
# [6, 4, 8, 6, 2, 1, 4, 3] (its unbatched boxes treated as a batch of two, concatenated on the
# last axis). Batched here (one box per image), the same numbers on the box axis.
KERAS_EXPECTED_BOXES = [[2, 1, 4, 3, 6, 4, 8, 6], [6, 4, 8, 6, 2, 1, 4, 3]]


def keras_box_element():
    return {
        "images": np.random.default_rng(1).random((2, 10, 8, 3)).astype("float32"),
        "bounding_boxes": {
            "boxes": np.array([[[2, 1, 4, 3]], [[6, 4, 8, 6]]], "float32"),
            "labels": np.array([[1], [2]], "int32"),
        },
    }


def check_keras_box_replay(boxes):
    np.testing.assert_array_equal(np.reshape(boxes["boxes"], (2, 8)), KERAS_EXPECTED_BOXES)
    np.testing.assert_array_equal(boxes["labels"], [[1, 2], [2, 1]])
    np.testing.assert_allclose(boxes["mix_weights"], np.full((2, 2), 0.5))


def test_injected_boxes_replay_keras_expected_values():
    element = keras_box_element()
    layer = MixupLayer(seed=42, bounding_box_format="xyxy")
    parts = Parts(element["images"], bounding_boxes=element["bounding_boxes"])
    out = layer.spec.apply(parts, params([0.5, 0.5], [1, 0]), feature_dtype="float32", ops=NUMPY)
    check_keras_box_replay(out.bounding_boxes)
    # a dict of images and boxes without labels is a whole element, as for Keras
    drawn = MixupLayer(alpha=1.0, seed=42, bounding_box_format="xyxy")(element)
    assert drawn["bounding_boxes"]["boxes"].shape == (2, 2, 4)


def test_injected_boxes_in_tf_data_replay_keras_expected_values():
    layer = MixupLayer(seed=42, bounding_box_format="xyxy")
    injected = MixParams(
        *(None if v is None else tf.constant(v) for v in params([0.5] * 2, [1, 0]))
    )

    @tf.autograph.experimental.do_not_convert  # the library's code is graph code as it is
    def mix_boxes(element):
        parts = Parts(element["images"], bounding_boxes=element["bounding_boxes"])
        mixed = layer.spec.apply(parts, injected, feature_dtype="float32", ops=TENSORFLOW)
        return mixed.bounding_boxes

    dataset = tf.data.Dataset.from_tensors(keras_box_element()).map(mix_boxes)
    check_keras_box_replay(to_numpy(next(iter(dataset))))


def test_boxes_in_tf_data_stay_aligned_with_their_labels_and_images(mixup_out):
    """Keras's MixUp concatenates the boxes on the box axis but their labels on the batch
    axis ([B, 2N, 4] boxes, [2B, N] labels: misaligned). keras_mixup: every image keeps its
    own N boxes and gets its partner's N, with their labels and the weight of their image."""
    n = PAIRS_OF_BOXES.shape[1]
    source = full_element(PAIRS_OF_BOXES)
    no_masks = {k: v for k, v in source.items() if k != "segmentation_masks"}
    keras_out = keras.layers.MixUp(seed=0, bounding_box_format="xyxy")(as_tensors(no_masks))
    assert tuple(keras_out["bounding_boxes"]["labels"].shape) == (2 * B, n)  # Keras 3.15.1
    boxes, source = mixup_out["bounding_boxes"], source["bounding_boxes"]
    assert boxes["boxes"].shape == (B, 2 * n, 4) and boxes["labels"].shape == (B, 2 * n)
    label_weight, partner = sources_of(mixup_out["labels"])
    assert sorted(partner) == list(range(B)) and (partner != np.arange(B)).any()
    np.testing.assert_array_equal(boxes["labels"][:, :n], source["labels"])
    np.testing.assert_array_equal(boxes["boxes"][:, :n], source["boxes"])
    paired = partner != np.arange(B)  # an image paired with itself: its boxes once, weight 1
    np.testing.assert_array_equal(boxes["labels"][paired, n:], source["labels"][partner[paired]])
    np.testing.assert_array_equal(boxes["boxes"][paired, n:], source["boxes"][partner[paired]])
    assert (boxes["labels"][~paired, n:] == -1).all()
    own = boxes["mix_weights"][:, :1]
    np.testing.assert_allclose(boxes["mix_weights"][:, :n], np.repeat(own, n, 1))
    np.testing.assert_allclose(
        boxes["mix_weights"][paired, n:], np.repeat(1 - own[paired], n, 1), atol=1e-6
    )
    np.testing.assert_allclose(own[~paired], 1.0)
    np.testing.assert_allclose(own[paired, 0], label_weight[paired], atol=1e-6)


def test_cutmix_boxes_are_clipped_to_the_pasted_region_where_keras_raises(cutmix_out):
    """Keras's CutMix raises NotImplementedError for boxes. keras_mixup: a partner's box
    that covers the whole image becomes the pasted region itself (kept when it is at least
    min_box_visibility = 10 % of its area), with the partner's weight."""
    with pytest.raises(NotImplementedError):
        keras.layers.CutMix(seed=0, bounding_box_format="xyxy")(
            as_tensors(full_element(WHOLE_IMAGE_BOXES))
        )
    boxes = cutmix_out["bounding_boxes"]
    assert boxes["boxes"].shape == (B, 2, 4)
    own, partner = sources_of(cutmix_out["labels"])
    pasted = pasted_pixels(cutmix_out["images"], IMAGES, partner)
    kept = 0
    for i in np.nonzero(partner != np.arange(B))[0]:  # an image paired with itself: unchanged
        if pasted[i].mean() < 0.1:
            assert boxes["labels"][i, 1] == -1  # dropped: padding
            continue
        kept += 1
        top, left, bottom, right = bounding_rectangle(pasted[i])
        np.testing.assert_allclose(boxes["boxes"][i, 1], [left, top, right, bottom])  # xyxy
        assert boxes["labels"][i, 1] == 10 * partner[i]
        assert boxes["mix_weights"][i, 1] == pytest.approx(1 - own[i], abs=1e-6)
    assert kept > 0
    for i in np.nonzero(partner == np.arange(B))[0]:  # unchanged: its own box, whole, weight 1
        assert boxes["labels"][i, 1] == -1
        assert boxes["mix_weights"][i, 0] == pytest.approx(1.0)


# ---------------------------------------------------------------------- segmentation masks


def test_mixup_masks_are_one_hot_mixed_with_the_label_weights(mixup_out):
    """Keras's MixUp turns (B, H, W, 1) masks into (B, H, W, B). keras_mixup: integer masks
    with num_classes come out one-hot (B, H, W, M), mixed with the images' weights."""
    element = {"images": IMAGES, "labels": ONE_HOT, "segmentation_masks": MASKS}
    keras_out = keras.layers.MixUp(seed=0)(as_tensors(element, "float32"))
    assert tuple(keras_out["segmentation_masks"].shape) == (B, H, W, B)  # Keras 3.15.1
    masks = mixup_out["segmentation_masks"]
    assert masks.shape == (B, H, W, 3) and masks.dtype == np.float32
    own, partner = sources_of(mixup_out["labels"])
    one_hot = np.eye(3, dtype="float32")[MASKS[..., 0]]
    w = own[:, None, None, None]
    np.testing.assert_allclose(masks, w * one_hot + (1 - w) * one_hot[partner], atol=1e-6)


def test_cutmix_masks_are_cut_pixel_by_pixel_with_the_image(cutmix_out):
    """Keras's CutMix cuts masks with the images' 3-channel masks: (B, H, W, 1) masks come out
    (B, H, W, 3). keras_mixup: each pixel's one-hot class is its source image's class."""
    element = {"images": IMAGES, "labels": ONE_HOT, "segmentation_masks": MASKS}
    keras_out = keras.layers.CutMix(seed=0)(as_tensors(element, "float32"))
    assert tuple(keras_out["segmentation_masks"].shape) == (B, H, W, 3)  # Keras 3.15.1
    masks = cutmix_out["segmentation_masks"]
    assert masks.shape == (B, H, W, 3)
    _, partner = sources_of(cutmix_out["labels"])
    pasted = pasted_pixels(cutmix_out["images"], IMAGES, partner)
    expected = np.where(pasted, MASKS[partner][..., 0], MASKS[..., 0])
    np.testing.assert_array_equal(masks.argmax(axis=-1), expected)
    np.testing.assert_array_equal(masks.max(axis=-1), 1.0)

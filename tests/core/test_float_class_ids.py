"""Class ids that arrive as floats (issue 28, item 1): Keras 3's preprocessing layers pass
labels on as float32, so a floating label with no class axis that is given a `num_classes`
is class ids: whole numbers are one-hot encoded exactly as integer ids are, anything else
is an error naming the label and the value, and one `num_classes` for several labels, one
of which is such a floating label, is an error asking for the nest form."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupLayer, MixupTransform

B, H, W, K = 8, 6, 6, 4
RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 255, (B, H, W, 3)).astype("uint8")
IDS = (np.arange(B) % K).astype("int32")


def _batches(labels):
    return tf.data.Dataset.from_tensor_slices({"images": IMAGES, "labels": labels}).batch(B)


@pytest.mark.parametrize(
    "keras_layer",
    [
        lambda: keras.layers.RandomFlip("horizontal", seed=1),
        lambda: keras.layers.RandomTranslation(0.2, 0.2, seed=1),
        lambda: keras.layers.RandomContrast(0.5, seed=1),
        lambda: keras.layers.Resizing(H, W),
    ],
    ids=["RandomFlip", "RandomTranslation", "RandomContrast", "Resizing"],
)
@pytest.mark.parametrize("front", ["layer_in_pipeline", "transform_apply"])
def test_ids_made_floats_by_a_keras_layer_mix_like_integer_ids(keras_layer, front):
    augmented = next(iter(_batches(IDS).map(keras_layer())))
    assert augmented["labels"].dtype == tf.float32  # what Keras does to the ids

    def mixed(labels):
        element = {"images": augmented["images"], "labels": labels}
        dataset = tf.data.Dataset.from_tensors(element)
        if front == "layer_in_pipeline":
            mixer = keras.layers.Pipeline([MixupLayer(alpha=1.0, num_classes=K, seed=3)])
            return next(iter(dataset.map(mixer)))
        return next(iter(dataset.apply(MixupTransform(alpha=1.0, num_classes=K, seed=3))))

    from_floats = mixed(augmented["labels"])
    from_ints = mixed(tf.cast(augmented["labels"], "int32"))
    assert from_floats["labels"].shape == (B, K)
    np.testing.assert_array_equal(from_floats["labels"].numpy(), from_ints["labels"].numpy())
    np.testing.assert_array_equal(from_floats["images"].numpy(), from_ints["images"].numpy())
    np.testing.assert_allclose(from_floats["labels"].numpy().sum(-1), 1.0, rtol=1e-6)


def test_readme_pipeline_example_with_integer_ids():
    """The README's first Pipeline example, mapped over integer ids: one-hot mixtures."""
    augment = keras.layers.Pipeline(
        [
            keras.layers.RandomFlip("horizontal", seed=0),
            MixupLayer(alpha=0.2, num_classes=80, seed=0),
        ]
    )
    out = next(iter(_batches(IDS).map(augment)))
    labels = out["labels"].numpy()
    assert labels.shape == (B, 80)
    np.testing.assert_allclose(labels.sum(-1), 1.0, rtol=1e-6)
    # each row's mass lies on its own class and (at most) one partner's
    assert np.all((labels > 0).sum(-1) <= 2) and np.all(labels[np.arange(B), IDS] > 0)


@pytest.mark.parametrize("bad, shown", [(1.5, "1.5"), (7.0, "7.0"), (-1.0, "-1.0")])
def test_float_ids_that_are_not_class_ids_raise_naming_the_value(bad, shown):
    labels = np.array([0.0, 1.0, bad, 3.0], "float32")
    x = np.zeros((4, 3), "float32")
    with pytest.raises(
        ValueError,
        match=rf"`labels` are floating labels .*whole numbers in \[0, {K}\).*value is {shown}",
    ):
        MixupTransform(num_classes=K, seed=0)(x, labels)  # NumPy batch, eager
    with pytest.raises(tf.errors.InvalidArgumentError, match="whole numbers in"):
        next(iter(tf.data.Dataset.from_tensors((x, labels)).apply(MixupTransform(num_classes=K))))


def test_one_num_classes_for_ids_made_floats_beside_a_regression_target_raises():
    x = np.zeros((4, 3), "float32")
    labels = {
        "cls": np.array([0.0, 1, 2, 3], "float32"),
        "reg": np.array([0.5, 1, 2, 3], "float32"),
    }
    with pytest.raises(ValueError, match=r"will not guess.*\{'cls': 8, 'reg': None\}"):
        MixupTransform(num_classes=K, seed=0)(x, labels)
    _, mixed = MixupTransform(num_classes={"cls": K, "reg": None}, seed=0)(x, labels)
    assert mixed["cls"].shape == (4, K) and mixed["reg"].shape == (4,)


def test_float_targets_keep_their_meaning():
    """One-hot floats, binary floats without num_classes and [B, 1] floats with
    num_classes=1 stay targets."""
    x = np.zeros((4, 3), "float32")
    one_hot = np.eye(K, dtype="float32")[[0, 1, 2, 3]]
    _, mixed = MixupTransform(num_classes=K, seed=0)(x, one_hot)
    assert mixed.shape == (4, K)
    _, binary = MixupTransform(seed=0)(x, np.array([0.0, 1, 1, 0], "float32"))
    assert binary.shape == (4,)
    _, one_unit = MixupTransform(num_classes=1, seed=0)(
        x, np.array([[0.0], [1], [1], [0]], "float32")
    )
    assert one_unit.shape == (4, 1)


def test_the_pipeline_or_model_decision_reads_keras_s_public_calls():
    """Issue 28 item 5: the decision uses no private Keras module (the before-stop check
    greps for `keras.src`): called directly, the layer is outermost; called by another
    layer's `__call__`, it is inside a model; under a layer's `compute_output_spec` it is
    shape inference, where nothing is drawn."""
    from keras_mixup._src.fronts import call_context

    seen = {}

    class Probe(MixupLayer):
        def __call__(self, *args, **kwargs):
            seen["outermost"] = call_context.outermost_call()
            return super().__call__(*args, **kwargs)

        def call(self, inputs, training=None, mask=None):
            seen["shapes"] = call_context.shape_inference()
            return super().call(inputs, training=training, mask=mask)

    class Wrapper(keras.layers.Layer):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def call(self, inputs):
            return self.inner(inputs, training=True)

    x = np.zeros((4, 3), "float32")
    probe = Probe(alpha=0.5, inputs_only=True, seed=0)
    probe(x, training=True)
    assert seen == {"outermost": True, "shapes": False}
    Wrapper(probe)(x)
    assert seen == {"outermost": False, "shapes": False}
    Wrapper(probe)(keras.KerasTensor((4, 3)))  # symbolic: Keras infers the output's shape
    assert seen == {"outermost": False, "shapes": True}
    source = Path(call_context.__file__).read_text()
    assert "keras.src" not in source

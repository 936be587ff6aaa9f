"""The one element parser (`core/elements.py`) where users meet it: the layer in tf.data
rejects a dict or features alone with advice that names the keys, float labels of the
wrong width raise, errors in the map form are the library's message, and ragged and sparse
input get the library's error naming the component (from the "nothing silently wrong"
rounds)."""

import traceback

import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupLayer, MixupTransform

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 5)).astype("float32")
Y = np.arange(8) % 3


# ---------------------------------------------------------------- elements in tf.data


def test_layer_in_tf_data_rejects_a_dict_element_naming_its_keys():
    dataset = tf.data.Dataset.from_tensor_slices({"pixels": X, "target": Y}).batch(4)
    with pytest.raises(
        ValueError, match=r"keys \['pixels', 'target'\].*lambda d: \(d\['pixels'\], d\['target'\]\)"
    ):
        dataset.map(MixupLayer(num_classes=3))


def test_layer_in_tf_data_rejects_features_alone():
    dataset = tf.data.Dataset.from_tensor_slices(X).batch(4)
    with pytest.raises(ValueError, match=r"got features alone .* no labels to mix"):
        dataset.map(MixupLayer(num_classes=3))


def test_dict_advice_uses_the_dataset_keys():
    dataset = tf.data.Dataset.from_tensor_slices({"image": X, "meta": X[:, :2], "label": Y}).batch(
        4
    )
    with pytest.raises(
        ValueError, match=r"\{'image': d\['image'\], 'meta': d\['meta'\]\}, d\['label'\]"
    ):
        dataset.map(MixupTransform(num_classes=3))
    dataset = tf.data.Dataset.from_tensor_slices({"a": X, "b": Y}).batch(4)
    with pytest.raises(
        ValueError, match=r"d\[<features key>\], d\[<labels key>\]\)\) with your keys \('a', 'b'\)"
    ):
        dataset.map(MixupTransform(num_classes=3))


@pytest.mark.parametrize("front", ["transform", "layer"])
def test_float_labels_of_another_width_than_num_classes_raise(front):
    one_hot = np.eye(5, dtype="float32")[np.arange(8) % 5]
    dataset = tf.data.Dataset.from_tensor_slices((X, one_hot)).batch(4)
    stage = MixupTransform(num_classes=10) if front == "transform" else MixupLayer(num_classes=10)
    with pytest.raises(
        ValueError, match=r"5 entries on their class \(last\) axis .* num_classes=10"
    ):
        dataset.map(stage)


def test_errors_in_the_map_form_are_the_library_message_not_an_autograph_summary():
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)
    with pytest.raises(ValueError) as caught:
        dataset.map(MixupTransform())
    assert str(caught.value).startswith("`labels` are integer class ids")


# ---------------------------------------------------------------- 3. ragged and sparse


def _last_line(error: BaseException) -> str:
    return traceback.format_exception(error)[-1]


@pytest.mark.parametrize("form", ["map", "apply"])
def test_ragged_features_get_the_library_error_naming_the_component(form):
    tokens = tf.ragged.constant([[1, 2, 3], [4], [5, 6], [7, 8, 9, 10]])
    dataset = tf.data.Dataset.from_tensor_slices(({"tokens": tokens}, [0, 1, 0, 1])).ragged_batch(2)
    transform = MixupTransform(alpha=1.0, num_classes=2, seed=0)
    with pytest.raises(TypeError) as caught:
        dataset.map(transform) if form == "map" else dataset.apply(transform)
    last = _last_line(caught.value)
    assert "features['tokens']" in last and "ragged" in last and "padded_batch" in last, last
    assert ".to_tensor()" in last


@pytest.mark.parametrize("form", ["map", "apply"])
def test_a_var_len_feature_gets_the_library_error_with_sparse_advice(form):
    def example(values, label):
        features = {
            "tokens": tf.train.Feature(int64_list=tf.train.Int64List(value=values)),
            "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        }
        return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()

    records = [example([1, 2, 3], 0), example([4], 1), example([5, 6], 0), example([7], 1)]
    spec = {"tokens": tf.io.VarLenFeature(tf.int64), "label": tf.io.FixedLenFeature([], tf.int64)}
    dataset = (
        tf.data.Dataset.from_tensor_slices(records)
        .batch(2)
        .map(lambda r: tf.io.parse_example(r, spec))
        .map(lambda d: ({"tokens": d["tokens"]}, d["label"]))
    )
    transform = MixupTransform(alpha=1.0, num_classes=2, seed=0)
    with pytest.raises(TypeError) as caught:
        dataset.map(transform) if form == "map" else dataset.apply(transform)
    last = _last_line(caught.value)
    assert "features['tokens']" in last and "sparse" in last and "tf.sparse.to_dense" in last, last


def test_the_layer_in_tf_data_names_ragged_labels_too():
    labels = tf.ragged.constant([[0], [1, 1], [0], [1]])
    dataset = tf.data.Dataset.from_tensor_slices((X[:4], labels)).ragged_batch(2)
    with pytest.raises(TypeError, match=r"`labels`: it is a ragged tensor"):
        dataset.map(MixupLayer(alpha=1.0, num_classes=2))

"""The label rules (`core/labels.py`) for several labels: one `num_classes` applies to the
class ids of a multi-task label, a nest gives each label its own and must match the labels,
and one-hot widths are still checked (from the "nothing silently wrong" rounds)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupTransform

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 5)).astype("float32")


# ---------------------------------------------------------------- 2. multi-task labels


def multi_task_batch(cls_dtype="int32"):
    classes = (np.arange(8) % 8).astype(cls_dtype)
    boxes = RNG.random((8, 4)).astype("float32")
    return X, {"cls": classes, "box": boxes}


@pytest.mark.parametrize("num_classes", [8, {"cls": 8, "box": None}])
@pytest.mark.parametrize("front", ["numpy", "tf.data"])
def test_one_num_classes_applies_to_the_class_ids_of_a_multi_task_label(num_classes, front):
    transform = MixupTransform(alpha=1.0, num_classes=num_classes, seed=0)
    x, y = multi_task_batch()
    if front == "numpy":
        _, mixed = transform(x, y)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).map(transform)
        _, mixed = next(iter(dataset))
        mixed = {k: v.numpy() for k, v in mixed.items()}
    assert mixed["cls"].shape == (8, 8) and mixed["box"].shape == (8, 4)
    np.testing.assert_allclose(mixed["cls"].sum(axis=1), 1.0, rtol=1e-6)
    # the regression target is the same convex combination of rows as the class target:
    # example i is class i, so row i of the class target holds its weight on each example
    assert np.count_nonzero(mixed["cls"].max(axis=1) < 1) > 0  # mixed
    np.testing.assert_allclose(mixed["box"], mixed["cls"] @ y["box"], atol=1e-5)


def test_per_output_num_classes_still_checks_one_hot_widths():
    transform = MixupTransform(alpha=1.0, num_classes={"cls": 8, "box": None}, seed=0)
    x, y = multi_task_batch()
    y["cls"] = np.eye(5, dtype="float32")[np.arange(8) % 5]
    with pytest.raises(
        ValueError, match=r"`labels\['cls'\]` are floating targets with 5 .*num_classes=8"
    ):
        transform(x, y)


def test_a_nest_of_num_classes_must_match_the_labels():
    transform = MixupTransform(alpha=1.0, num_classes={"classes": 8}, seed=0)
    with pytest.raises(ValueError, match=r"structure of the labels.*labels\['box'\]"):
        transform(*multi_task_batch())

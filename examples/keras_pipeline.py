"""
Title: From keras.layers.MixUp and CutMix to keras_mixup, in a keras.layers.Pipeline
Description: Swap Keras's MixUp / CutMix for keras_mixup in the same Pipeline, on the same
element dict; train both. Offline, about a minute on 2 CPU cores.
Install: pip install ".[examples]"
"""

"""
## Introduction

Keras 3's preprocessing layers compose with `keras.layers.Pipeline` and map over
`tf.data` datasets of dict elements: `{"images": ..., "labels": ...}` (plus
`"bounding_boxes"` and `"segmentation_masks"`). `keras_mixup.MixupLayer` takes the same
dict and goes in the same place, so moving from `keras.layers.MixUp` / `CutMix` is a
one-line change. What changes with it: integer class ids are one-hot encoded
(`num_classes`), alpha means what the paper means (0 is no mixing; 8 and 32 work), the
sampler compiles under XLA, CutMix's weight is the exact share of pixels, boxes stay
aligned with their labels, and inside a model the targets are mixed too (`MixupLoss`).

## Setup
"""

import json
import os
from pathlib import Path

from _support.tensorflow_log import filter_start_up_noise

# TensorFlow's C++ log: errors only. Its start-up lines about a missing GPU driver (one of them
# an "error") show whatever the level: filter_start_up_noise drops them (examples/_support).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
filter_start_up_noise()

import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_mixup

SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"  # the test suite's short run
EPOCHS = 6 if SMOKE_TEST else 25
BATCH_SIZE = 64
OUTPUT = Path("runs/tutorial_keras_pipeline")
keras.utils.set_random_seed(0)

"""
## The element dict Keras's layers take

Images as floats in [0, 1]; labels one-hot, the form `keras.layers.MixUp` needs.
Real Fashion-MNIST instead (28x28, uint8): `from _support.real_images import load`, then
`x_train, y_train, x_test, y_test, source = load("fashion_mnist")`, as `manifold_mixup.py` does.
"""

digits = load_digits()
images = (digits.images / 16.0).astype("float32")[..., None]
x_train, x_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=500, stratify=digits.target, random_state=0
)
one_hot = np.eye(10, dtype="float32")


def dataset(augment, labels=one_hot[y_train]):
    return (
        tf.data.Dataset.from_tensor_slices({"images": x_train, "labels": labels})
        .shuffle(len(x_train), seed=0)
        .batch(BATCH_SIZE)
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        .map(lambda d: (d["images"], d["labels"]))  # model.fit takes (x, y)
        .prefetch(tf.data.AUTOTUNE)
    )


"""
## Before and after: one line of the Pipeline

The same pipeline with Keras's `MixUp`, then with keras_mixup's layer. `MixupLayer` in a
pipeline mixes the whole element (images and labels together), as Keras's layer does.
"""

shift = keras.layers.RandomTranslation(0.1, 0.1, seed=0)
keras_pipeline = keras.layers.Pipeline([shift, keras.layers.MixUp(alpha=0.2, seed=0)])
ours_pipeline = keras.layers.Pipeline([shift, keras_mixup.MixupLayer(alpha=0.2, seed=0)])
# CutMix the same way: keras.layers.CutMix() -> keras_mixup.MixupLayer(alpha=0, cutmix_alpha=1)

_, keras_targets = next(iter(dataset(keras_pipeline)))
_, ours_targets = next(iter(dataset(ours_pipeline)))
print("target rows sum to one:", bool(np.allclose(ours_targets.numpy().sum(axis=1), 1.0)))

"""
Integer class ids: keras_mixup one-hot encodes them (`num_classes`). Keras 3.15's `MixUp`
casts them and broadcasts them against its per-example weights inside `dataset.map`,
silently (the labels of a batch of 64 come out 64 x 64):
"""

with_ids = keras.layers.Pipeline([keras.layers.MixUp(alpha=0.2, seed=0)])
ours_ids = keras.layers.Pipeline([keras_mixup.MixupLayer(alpha=0.2, num_classes=10, seed=0)])
for name, augment in (("keras.layers.MixUp", with_ids), ("keras_mixup", ours_ids)):
    try:
        _, targets = next(iter(dataset(augment, labels=y_train)))
        print(f"{name} with class ids: targets of shape {tuple(targets.shape)}")
    except Exception as error:  # a future Keras may raise instead
        print(f"{name} with class ids: {type(error).__name__}")

"""
## Training on both pipelines

The same small CNN, from the same initial weights. The targets are mixed one-hot rows:
categorical cross-entropy, and `MixupAccuracy` as the training metric.
"""


def small_cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


initial_weights = small_cnn().get_weights()
results = {}
for name, augment in (("keras.layers.MixUp", keras_pipeline), ("keras_mixup", ours_pipeline)):
    model = small_cnn()
    model.set_weights(initial_weights)
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras_mixup.MixupAccuracy()],
    )
    model.fit(dataset(augment), epochs=EPOCHS, verbose=0, shuffle=False)  # the pipeline shuffles
    predictions = model.predict(x_test, verbose=0).argmax(axis=1)
    results[name] = 100 * float(np.mean(predictions != y_test))

"""
## Inside a model

A `Pipeline` can also sit inside the model, where it sees the inputs only. Keras's
`MixUp` then mixes the images and never the labels (the paper's "mix inputs only"
ablation, which does not work); with keras_mixup, `MixupLoss` follows the `MixupLayer`
wherever it sits and mixes the targets with the same weights and partners:
"""

mixup = keras_mixup.MixupLayer(alpha=0.2, seed=0)
in_model = keras.Sequential(
    [keras.Input((8, 8, 1)), keras.layers.Pipeline([shift, mixup]), small_cnn()]
)
in_model.compile(
    optimizer=keras.optimizers.Adam(2e-3),
    loss=keras_mixup.MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
)
in_model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
results["keras_mixup in the model"] = 100 * float(
    np.mean(in_model.predict(x_test, verbose=0).argmax(axis=1) != y_test)
)

"""
## Results

Test error on the clean test digits (chance: 90 %); one run each at toy scale.
"""

for name, error in results.items():
    print(f"{name:<28}{error:>6.1f} % test error")
OUTPUT.mkdir(parents=True, exist_ok=True)
(OUTPUT / "results.json").write_text(json.dumps({"test_error_percent": results}, indent=2))

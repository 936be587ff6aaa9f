"""
Title: mixup in a tf.data pipeline, with model.fit and a Keras Applications model
Description: Train MobileNetV2 with and without mixup, mixing in the input pipeline.
Runs offline on 2 CPU cores in a few minutes (scikit-learn's digits, no download).
Install: pip install ".[examples]"
"""

"""
## Introduction

mixup (Zhang et al., ICLR 2018) trains on convex combinations of pairs of examples and
their labels: `x~ = lam * x_i + (1 - lam) * x_j`, `y~ = lam * y_i + (1 - lam) * y_j` with
`lam ~ Beta(alpha, alpha)`. With `keras_mixup.MixupTransform` the mixing happens in the
`tf.data` pipeline, so any model trains on it with a plain `model.fit`. Here the model is
a `keras.applications.MobileNetV2` built from scratch (`weights=None`), trained twice from
the same initial weights: once on the plain pipeline (ERM), once with mixup.

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

# The test suite runs every tutorial with KERAS_MIXUP_SMOKE_TEST=1: a few steps only.
SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"
EPOCHS = 6 if SMOKE_TEST else 30
ALPHA = 0.4
BATCH_SIZE = 64
NUM_CLASSES = 10
OUTPUT = Path("runs/tutorial_tf_data")
keras.utils.set_random_seed(0)

"""
## Prepare the dataset

The 8x8 digits become 32x32 RGB uint8 images, the smallest input MobileNetV2 takes.
`MixupTransform` one-hot encodes the integer labels (`num_classes`) and mixes images and
targets of each batch with one `lam` and a random pairing. `dataset.apply(...)` gives every
batch its own stateless seed, so the batches are the same in every run.
Real Fashion-MNIST instead (28x28, uint8): `from _support.real_images import load`, then
`x_train, y_train, x_test, y_test, source = load("fashion_mnist")`, as `manifold_mixup.py` does.
"""

digits = load_digits()
images = np.repeat(np.kron(digits.images, np.ones((4, 4)))[..., None], 3, axis=-1)
images = (images * 255 / 16).astype("uint8")
x_train, x_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=500, stratify=digits.target, random_state=0
)


def train_dataset(alpha):
    return (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=0)
        .batch(BATCH_SIZE)
        .apply(keras_mixup.MixupTransform(alpha=alpha, num_classes=NUM_CLASSES, seed=0))
        .prefetch(tf.data.AUTOTUNE)
    )


erm_data, mixup_data = train_dataset(0.0), train_dataset(ALPHA)
_, erm_targets = next(iter(erm_data))
_, mixup_targets = next(iter(mixup_data))
print("largest target of the first ERM batch:  ", float(tf.reduce_max(erm_targets)))
print(
    "smallest row maximum, first mixup batch:",
    float(tf.reduce_min(tf.reduce_max(mixup_targets, axis=1))),
)

"""
## Model

Keras Applications models end in a softmax: they output probabilities, so the loss takes
`from_logits=False` (the default). The targets are mixed one-hot rows, so the loss is the
*categorical* cross-entropy, and the training metric is `MixupAccuracy`, the weight the
mixed target puts on the predicted class (plain accuracy is not defined for soft targets).

One setting matters at this scale, with or without mixup: `keras.applications` builds its
`BatchNormalization` layers with `momentum=0.999`, made for ImageNet's thousands of steps an
epoch. Here an epoch is 21 steps, and moving averages that keep 99.9 % of their value per step
stay near their initial values for the whole run; inference uses them, so the model predicts
one class and errs 90 % on the test set while it errs about 10 % in training mode. With
`momentum=0.9` the averages follow the weights.
"""


def build_model():
    backbone = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=NUM_CLASSES
    )
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9  # see above: 0.999 never settles in 21 steps an epoch
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 127.5, offset=-1),  # MobileNetV2 expects [-1, 1]
            backbone,
        ]
    )


initial_weights = build_model().get_weights()

"""
## Training with and without mixup
"""

results = {}
for name, data in (("ERM", erm_data), (f"mixup alpha={ALPHA}", mixup_data)):
    model = build_model()
    model.set_weights(initial_weights)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=[keras_mixup.MixupAccuracy()],
    )
    # shuffle=False: the tf.data pipeline shuffles (Keras would say it ignores shuffle=True)
    history = model.fit(data, epochs=EPOCHS, verbose=2, shuffle=False)
    predictions = model.predict(x_test, verbose=0).argmax(axis=1)
    results[name] = {
        "test_error_percent": 100 * float(np.mean(predictions != y_test)),
        "last_training_mixup_accuracy": history.history["mixup_accuracy"][-1],
    }

"""
## Results

One run each, on a toy-sized data set (1,297 training images, chance is 90 % test error):
the numbers show the workflow, not the paper's effect size (see docs/results.md for the
reproductions). Both runs should end far below chance; on this data set mixup with
`alpha=0.4` is not expected to win in 30 epochs (the paper trains for hundreds).
"""

print(f"\n{'run':<20}{'test error':>12}{'train MixupAccuracy':>22}")
for name, result in results.items():
    print(
        f"{name:<20}{result['test_error_percent']:>11.1f}%{result['last_training_mixup_accuracy']:>22.3f}"
    )
OUTPUT.mkdir(parents=True, exist_ok=True)
summary = {
    "results": results,
    "erm_max_target": float(tf.reduce_max(erm_targets)),
    "mixup_min_row_max": float(tf.reduce_min(tf.reduce_max(mixup_targets, axis=1))),
}
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))

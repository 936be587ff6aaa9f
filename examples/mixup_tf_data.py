"""
Title: mixup in a tf.data pipeline, with model.fit and a Keras Applications model
Description: Train MobileNetV2 with and without mixup, mixing in the input pipeline.
Runs offline on 2 CPU cores in a few minutes (scikit-learn's digits, no download).
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_mixup

# The test suite runs every tutorial with KERAS_MIXUP_SMOKE_TEST=1: a few steps only.
SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"
EPOCHS = 2 if SMOKE_TEST else 30
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
"""


def build_model():
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 127.5, offset=-1),  # MobileNetV2 expects [-1, 1]
            keras.applications.MobileNetV2(
                input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=NUM_CLASSES
            ),
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
    history = model.fit(data, epochs=EPOCHS, verbose=2)
    predictions = model.predict(x_test, verbose=0).argmax(axis=1)
    results[name] = {
        "test_error_percent": 100 * float(np.mean(predictions != y_test)),
        "last_training_mixup_accuracy": history.history["mixup_accuracy"][-1],
    }

"""
## Results

One run each, on a toy-sized data set: the numbers show the workflow, not the paper's
effect size (see docs/results.md for the reproductions).
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

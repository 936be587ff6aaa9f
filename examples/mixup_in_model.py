"""
Title: mixup inside a model, with MixupLayer, MixupLoss and MixupAccuracy
Description: Mix inputs in the train step and targets in the loss; read the right
training accuracy. Offline, about a minute on 2 CPU cores.
Install: pip install ".[examples]"
"""

"""
## Introduction

A Keras layer only sees the inputs, but mixup must mix the targets with the same `lam` and
the same partners. `keras_mixup.MixupLayer` mixes its inputs in training steps and keeps a
record of what it drew; `MixupLoss`, bound to the layer, mixes `y_true` with exactly that
in the same step (one XLA cluster under `jit_compile=True`, one `jax.jit` program on JAX).
In evaluation and prediction the layer is the identity.

Plain `"accuracy"` compares the predictions on *mixed* inputs with *unmixed* labels, so it
reads low during training. `MixupAccuracy(layer=mixup)` weighs each prediction by the mixed
target, the lambda-weighted accuracy of the authors' code, and is plain accuracy in
evaluation. This tutorial trains one model and shows both.

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
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_mixup

SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"  # the test suite's short run
EPOCHS = 2 if SMOKE_TEST else 40
ALPHA = 1.0
OUTPUT = Path("runs/tutorial_in_model")
keras.utils.set_random_seed(0)

"""
## Prepare the dataset

Integer class ids stay integers: `MixupLoss` one-hot encodes them to the width of the
predictions, so the sparse loss is fine here.
Real Fashion-MNIST instead (28x28, uint8): `from _support.real_images import load`, then
`x_train, y_train, x_test, y_test, source = load("fashion_mnist")`, as `manifold_mixup.py` does.
"""

digits = load_digits()
images = (digits.images / 16.0).astype("float32")[..., None]
x_train, x_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=500, stratify=digits.target, random_state=0
)

"""
## Model

The `MixupLayer` goes right after the input. A model with several inputs uses one layer for
all of them (`mixup([image, metadata])`), so that one loss can follow it.
"""

mixup = keras_mixup.MixupLayer(alpha=ALPHA, seed=0)
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        mixup,
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras_mixup.MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
    metrics=[keras_mixup.MixupAccuracy(layer=mixup), "accuracy"],
)

"""
## Training
"""

history = model.fit(x_train, y_train, batch_size=64, epochs=EPOCHS, verbose=2)

"""
## Results

In training, `accuracy` counts a prediction right only if it matches the label of the
example that was mixed *into*; `mixup_accuracy` credits it with the target's weight. On
the clean training set (where the layer does not mix), both are the model's accuracy.
"""

train_eval = model.evaluate(x_train, y_train, verbose=0, return_dict=True)
test_eval = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
summary = {
    "training_accuracy_last_epoch": history.history["accuracy"][-1],
    "training_mixup_accuracy_last_epoch": history.history["mixup_accuracy"][-1],
    "clean_training_set_accuracy": train_eval["accuracy"],
    "test_accuracy": test_eval["accuracy"],
    "evaluation_metrics_agree": abs(test_eval["accuracy"] - test_eval["mixup_accuracy"]) < 1e-6,
    # what the layer does to a batch: mixes it in training, leaves it alone otherwise
    "inputs_mixed_in_training": not np.allclose(
        keras.ops.convert_to_numpy(mixup(x_train[:64], training=True)), x_train[:64]
    ),
    "identity_in_inference": bool(
        np.array_equal(
            keras.ops.convert_to_numpy(mixup(x_train[:64], training=False)), x_train[:64]
        )
    ),
}
print(
    f"training, last epoch:  accuracy {summary['training_accuracy_last_epoch']:.3f}, "
    f"MixupAccuracy {summary['training_mixup_accuracy_last_epoch']:.3f}"
)
print(f"clean training set:    accuracy {summary['clean_training_set_accuracy']:.3f}")
print(f"test set:              accuracy {summary['test_accuracy']:.3f}")
OUTPUT.mkdir(parents=True, exist_ok=True)
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))

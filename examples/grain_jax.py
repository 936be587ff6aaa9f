"""
Title: mixup in a Grain pipeline, training a JAX model (no TensorFlow)
Description: Grain, the input pipeline of JAX users, mixes NumPy batches with
`MixupTransform`; `model.fit` trains on it. Offline, under a minute on 2 CPU cores.
Install: pip install . "jax[cpu]" grain scikit-learn
"""

"""
## Introduction

On the JAX backend many pipelines are Grain pipelines of NumPy records, and TensorFlow is
not installed. keras_mixup needs neither tf.data nor TensorFlow there: `MixupTransform`
mixes NumPy batches with NumPy (the same sampler and blend as everywhere), and Grain's
`random_map` hands it a generator seeded by the pipeline's seed and the record's index,
so every batch is mixed the same way in every run, whatever the worker count, and a
checkpointed Grain iterator resumes where it stopped. `model.fit` takes the Grain dataset.

## Setup
"""

import json
import os
import random
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import grain
import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_mixup

SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"  # the test suite's short run
EPOCHS = 8 if SMOKE_TEST else 30
BATCH_SIZE = 64
OUTPUT = Path("runs/tutorial_grain_jax")
# Not `keras.utils.set_random_seed(0)`: it seeds TensorFlow too, importing it where it is
# installed (seconds of start-up, and its logs). On JAX, Keras draws its default seeds
# (initializers, the global SeedGenerator) from Python's `random`: these two suffice.
random.seed(0)
np.random.seed(0)

"""
## A Grain pipeline of NumPy records

Each record is one `(image, class id)` pair; Grain shuffles, batches, then mixes every batch
with `random_map`. `num_classes` one-hot encodes the ids, so the targets are float rows.
Real Fashion-MNIST instead (28x28, uint8): `from _support.real_images import load`, then
`x_train, y_train, x_test, y_test, source = load("fashion_mnist")`, as `manifold_mixup.py` does.
"""

digits = load_digits()
images = (digits.images / 16.0).astype("float32")[..., None]
x_train, x_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=500, stratify=digits.target, random_state=0
)
records = [(x_train[i], np.int32(y_train[i])) for i in range(len(x_train))]
mixup = keras_mixup.MixupTransform(alpha=0.4, num_classes=10)
train = (
    grain.MapDataset.source(records)
    .shuffle(seed=0)
    .batch(BATCH_SIZE)
    .random_map(mixup, seed=1)  # the generator of each batch: from the seed and its index
)
first_x, first_y = train[0]
print("a batch:", type(first_x).__name__, first_x.shape, first_y.shape)
print("the same batch again is identical:", bool(np.array_equal(train[0][1], first_y)))

"""
## Model and training

The targets are mixed one-hot rows, so the loss is the categorical cross-entropy and the
training metric `MixupAccuracy`. `repeat()` makes the pipeline endless, each pass shuffled and
mixed afresh (Grain reseeds its random transformations per epoch); `steps_per_epoch` says
where an epoch ends, since Keras cannot ask a Grain dataset its length; `shuffle=False`, as
Grain shuffles.
"""

model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(2e-3),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=[keras_mixup.MixupAccuracy()],
)
history = model.fit(
    train.repeat().to_iter_dataset(),
    epochs=EPOCHS,
    steps_per_epoch=len(train),
    shuffle=False,
    verbose=2,
)

"""
## Results

The test set is clean (no mixing): plain accuracy. Chance is 90 % error.
"""

test_error = 100 * float(np.mean(model.predict(x_test, verbose=0).argmax(axis=1) != y_test))
print(f"backend {keras.backend.backend()}; test error {test_error:.1f} % after {EPOCHS} epochs")
OUTPUT.mkdir(parents=True, exist_ok=True)
summary = {
    "backend": keras.backend.backend(),
    "test_error_percent": test_error,
    "last_mixup_accuracy": history.history["mixup_accuracy"][-1],
}
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))

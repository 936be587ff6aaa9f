"""
Title: The modern recipe: mixup 0.8 + CutMix 1.0, switch 0.5, label smoothing 0.1
Description: The mixing of the DeiT and ConvNeXt ImageNet recipes, in one MixupTransform,
on offline data. A look at the mixed batches, then ERM vs the recipe. Minutes on 2 CPU cores.
Install: pip install ".[examples]"
"""

"""
## Introduction

Modern image-classification recipes (DeiT, ConvNeXt) mix every batch with either mixup
(alpha 0.8) or CutMix (alpha 1.0, a box of the partner's pixels), half of the batches each,
on label-smoothed targets (0.1). With keras_mixup that is one transform; its CutMix gives
each example the exact share of its pixels it keeps as its target weight (the box is
clipped at the image border, and the weight follows the clipped area).

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
import matplotlib
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_mixup

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"  # the test suite's short run
EPOCHS = 2 if SMOKE_TEST else 60
BATCH_SIZE = 64
OUTPUT = Path("runs/tutorial_cutmix_recipe")
keras.utils.set_random_seed(0)

"""
## Prepare the dataset

The digits, upsampled to 24x24 so that CutMix's boxes have room.
Real Fashion-MNIST instead (28x28, uint8): `from _support.real_images import load`, then
`x_train, y_train, x_test, y_test, source = load("fashion_mnist")`, as `manifold_mixup.py` does.
"""

digits = load_digits()
images = np.kron(digits.images / 16.0, np.ones((3, 3))).astype("float32")[..., None]
x_train, x_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=500, stratify=digits.target, random_state=0
)
recipe = keras_mixup.MixupTransform(
    alpha=0.8,
    cutmix_alpha=1.0,
    switch_prob=0.5,
    label_smoothing=0.1,
    num_classes=10,
    per_example=True,  # each example draws its own method, weight and box
    seed=0,
)
plain = keras_mixup.MixupTransform(alpha=0.0, num_classes=10)  # ERM: one-hot targets only


def train_dataset(transform):
    return (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=0, reshuffle_each_iteration=True)
        .batch(BATCH_SIZE)
        .apply(transform)
        .prefetch(tf.data.AUTOTUNE)
    )


"""
## A look at the mixed batch

Each image's title is its mixed target: the two classes with the largest weights. CutMix
examples show a sharp box, mixup examples a blend.
"""

mixed_images, mixed_targets = next(iter(train_dataset(recipe)))
fig, axes = plt.subplots(2, 6, figsize=(9, 3.4))
for ax, image, target in zip(axes.flat, mixed_images.numpy(), mixed_targets.numpy(), strict=False):
    first, second = np.argsort(target)[::-1][:2]
    ax.imshow(image[..., 0], cmap="gray_r")
    ax.set_title(f"{first}: {target[first]:.2f}\n{second}: {target[second]:.2f}", fontsize=8)
    ax.axis("off")
fig.tight_layout()
OUTPUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUTPUT / "mixed_batch.png", dpi=110)

"""
## Model and training

A small CNN, trained from the same initial weights on plain batches and on the recipe's.
"""


def small_cnn():
    return keras.Sequential(
        [
            keras.Input((24, 24, 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


initial_weights = small_cnn().get_weights()
results = {}
for name, transform in (("ERM", plain), ("mixup + CutMix recipe", recipe)):
    model = small_cnn()
    model.set_weights(initial_weights)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras_mixup.MixupAccuracy()],
    )
    model.fit(train_dataset(transform), epochs=EPOCHS, verbose=2, shuffle=False)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    results[name] = {"test_error_percent": 100 * float(np.mean(predicted != y_test))}

"""
## Results

One seed on a toy data set: the workflow, not an effect size.
"""

for name, result in results.items():
    print(f"{name:<24} test error {result['test_error_percent']:.1f} %")
summary = {
    "results": results,
    "targets_sum_to_one": bool(np.allclose(mixed_targets.numpy().sum(axis=1), 1.0, atol=1e-5)),
    "smallest_target": float(mixed_targets.numpy().min()),  # label smoothing: >= 0.01
}
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))
print(f"wrote {OUTPUT / 'mixed_batch.png'} and {OUTPUT / 'results.json'}")

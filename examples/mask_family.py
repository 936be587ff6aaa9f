"""
Title: The mask family: CutMix, GridMix, FMix and SmoothMix
Description: Four ways to show a partner's pixels in an image, each one argument of the same
MixupTransform: what they look like, why their labels are exact, and a short training run
of each on offline data. Minutes on 2 CPU cores.
Install: pip install ".[examples]"
"""

"""
## Introduction

mixup blends two whole images; its mask-based relatives show a partner through a mask:

- **CutMix** (Yun et al. 2019): a rectangle;
- **GridMix** (Baek et al. 2021): the holes of a grid;
- **FMix** (Harris et al. 2020): a random low-frequency shape (a spectrum decaying as 1/f^3);
- **SmoothMix** (Lee et al. 2020): a soft Gaussian blob, no hard edge at all.

In keras_mixup each is one argument of `MixupTransform` (and `MixupLayer`). Whatever the mask,
an example's target weights are the shares of its pixels each source shows, computed from
the mask drawn. Here: the masks with `plot_batch`, that claim checked, a small CNN with each.

## Setup
"""

import json
import os
from pathlib import Path

from _support.tensorflow_log import filter_start_up_noise

# TensorFlow's C++ log: errors only; filter_start_up_noise drops its GPU-driver start-up lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
filter_start_up_noise()

import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_mixup
from keras_mixup import methods

SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"  # the test suite's short run
EPOCHS = 2 if SMOKE_TEST else 30
BATCH_SIZE = 64
OUTPUT = Path("runs/tutorial_mask_family")
OUTPUT.mkdir(parents=True, exist_ok=True)
keras.utils.set_random_seed(0)

"""
## The data and the four methods

The digits, upsampled to 24x24 so the masks have room (real images: `load("fashion_mnist")` of
`_support.real_images`, as in `manifold_mixup.py`); each method alone, one draw per example.
"""

digits = load_digits()
images = np.kron(digits.images / 16.0, np.ones((3, 3))).astype("float32")[..., None]
x_train, x_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=500, stratify=digits.target, random_state=0
)
METHODS = {"CutMix": methods.CutMix, "GridMix": methods.GridMix, "FMix": methods.FMix,
           "SmoothMix": methods.SmoothMix}  # fmt: skip


def transform(method: str, num_classes=10) -> keras_mixup.MixupTransform:
    return keras_mixup.MixupTransform(  # the method alone (no plain mixup), alpha 1
        methods=[METHODS[method](alpha=1.0)], per_example=True, num_classes=num_classes, seed=0
    )


"""
## What each mask looks like

`plot_batch` draws a mixed batch with the two largest target weights under each image. To
see where each pixel came from, the eight images drawn here get a background colour each
(the digit's strokes stay white), so a partner's pixels show in the partner's colour.
"""

batch = 8
palette = np.float32([[0.12, 0.47, 0.71], [1.0, 0.5, 0.05], [0.17, 0.63, 0.17], [0.84, 0.15, 0.16],
                      [0.58, 0.4, 0.74], [0.55, 0.34, 0.29], [0.89, 0.47, 0.76], [0.74, 0.74, 0.13]])  # fmt: skip
coloured = (1.0 - x_train[:batch]) * palette[:, None, None, :] + x_train[:batch]  # white strokes
for method in METHODS:
    mixed = transform(method)(coloured, y_train[:batch])
    keras_mixup.plot_batch(
        mixed, max_images=batch, columns=8, title=f"{method}: target weights under each image",
        path=OUTPUT / f"{method.lower()}.png",
    )  # fmt: skip

"""
## Exact target weights, whatever the mask

Keras's element dict can carry a segmentation mask beside the images. Here it marks every
pixel of image `i` with the id `i`, one-hot encoded (`num_classes` for the masks) and mixed
exactly as the images are: after mixing, the mean of an example's mask over its pixels is
the share of its pixels from each source, what its label should weigh that source by.
Summed by digit class, over 20 batches of each method, the largest difference from the
label targets is the headline number: zero up to float32 rounding.
"""

ids = tf.broadcast_to(tf.range(BATCH_SIZE)[:, None, None], (BATCH_SIZE, 24, 24))
marked = (
    tf.data.Dataset.from_tensor_slices((x_train, y_train))
    .batch(BATCH_SIZE, drop_remainder=True)
    .map(lambda x, y: {"images": x, "labels": y, "segmentation_masks": ids})
    .take(20)
)
exactness = {}
for method in METHODS:
    mixer = transform(method, num_classes={"labels": 10, "segmentation_masks": BATCH_SIZE})
    worst = 0.0
    for original, mixed in zip(marked, marked.map(mixer), strict=True):
        sources = mixed["segmentation_masks"].numpy()  # [B, H, W, B]: each pixel's sources
        shares = sources.mean(axis=(1, 2))  # [B, B]: example i's share from source j
        by_class = shares @ np.eye(10)[original["labels"].numpy()]  # summed by digit class
        worst = max(worst, float(np.abs(by_class - mixed["labels"].numpy()).max()))
    exactness[method] = worst
    print(f"{method:<10} largest |target weight - pixel share| over 20 batches: {worst:.1e}")

"""
## Training with each

A small CNN, from the same initial weights, on plain batches (ERM) and on each method's.
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


def train_dataset(mixer):
    return (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=0, reshuffle_each_iteration=True)
        .batch(BATCH_SIZE)
        .apply(mixer)
        .prefetch(tf.data.AUTOTUNE)
    )


initial_weights = small_cnn().get_weights()
runs = {"ERM": keras_mixup.MixupTransform(alpha=0.0, num_classes=10)} | {
    m: transform(m) for m in METHODS
}
results = {}
for name, mixer in runs.items():
    model = small_cnn()
    model.set_weights(initial_weights)
    model.compile(
        keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    model.fit(train_dataset(mixer), epochs=EPOCHS, verbose=0, shuffle=False)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    results[name] = 100 * float(np.mean(predicted != y_test))

"""
## Results

One seed on a toy data set, short runs: the workflow, not an effect size.
"""

for name, error in results.items():
    print(f"{name:<10} test error {error:.1f} % ({EPOCHS} epochs)")
summary = {"exactness": exactness, "test_error_percent": results, "epochs": EPOCHS}
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))
print(f"wrote {OUTPUT}/<method>.png and {OUTPUT / 'results.json'}")

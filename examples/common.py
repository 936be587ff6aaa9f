"""Shared pieces of the example scripts: offline digits data, a small CNN, training, output."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_mixup  # noqa: E402

NUM_CLASSES = 10


def load_digits_split(seed: int, noise: float = 0.0):
    """scikit-learn's digits as float32 8x8x1 images in [0, 1], a stratified 1,297 / 500 split.

    `noise` of the training labels are replaced by a uniformly random class (fixed
    by `seed`; some keep their class by chance). Returns
    (x_train, y_train, y_train_clean, x_test, y_test).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=500, stratify=digits.target, random_state=seed
    )
    rng = np.random.default_rng(seed)
    corrupt = rng.random(len(y_train)) < noise
    y_noisy = np.where(corrupt, rng.integers(0, NUM_CLASSES, len(y_train)), y_train)
    return x_train, y_noisy, y_train, x_test, y_test


def small_cnn(seed: int) -> keras.Model:
    """Two 3x3 convolutions, max-pooling, a 256-unit dense layer; outputs logits."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(NUM_CLASSES),
        ],
        name="small_cnn",
    )


def train_pipeline(x, y, *, alpha: float, batch_size: int, seed: int) -> tf.data.Dataset:
    """Shuffled, batched digits through MixupTransform (alpha = 0: plain ERM, same conversions)."""
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(keras_mixup.MixupTransform(alpha=alpha, num_classes=NUM_CLASSES, seed=seed))
        .prefetch(tf.data.AUTOTUNE)
    )


def fit_small_cnn(
    initial_weights, train_ds, *, epochs: int, learning_rate: float, validation_data=None, verbose=1
):
    """SGD with momentum 0.9, learning rate / 10 at 50 % and 75 % of training."""
    model = small_cnn(seed=0)
    model.set_weights(initial_weights)
    steps = int(train_ds.cardinality())
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [steps * epochs // 2, steps * epochs * 3 // 4],
        [learning_rate, learning_rate / 10, learning_rate / 100],
    )
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(train_ds, validation_data=validation_data, epochs=epochs, verbose=verbose)
    return model, history


def error_percent(model, x, labels) -> float:
    predictions = np.argmax(model.predict(x, verbose=0, batch_size=512), axis=1)
    return 100.0 * float(np.mean(predictions != labels))


def apply_quick_defaults(args, argv, defaults: dict) -> set:
    """Sets `args.<flag>` to `defaults[flag]` for every flag ("--epochs", ...) the
    command line did not give; returns the flags it gave."""
    import sys

    given = {token.split("=")[0] for token in (sys.argv[1:] if argv is None else argv)}
    for flag, value in defaults.items():
        if flag not in given:
            setattr(args, flag[2:].replace("-", "_"), value)
    return given


def write_results(output: Path, config: dict, results: dict) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    path = output / "results.json"
    config = {
        key: (str(value) if isinstance(value, Path) else value) for key, value in config.items()
    }
    path.write_text(json.dumps({"config": config, "results": results}, indent=2, default=float))
    return path


def mean_std(values) -> str:
    values = np.asarray(values, float)
    return f"{values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.1f}"

"""Training pieces shared by the paper reproductions.

- `CoupledSGD`: SGD whose weight decay is added to the gradient before momentum,
  as PyTorch's `SGD(weight_decay=...)` does (Keras's `weight_decay` is decoupled).
- `random_crop_flip`: per-example random crop after zero padding, and horizontal
  flips, vectorized over a batch (so the same function serves a plain pipeline
  and `NeighbourMixup(augment=...)`).
- `EpochEvaluation`: test error after every epoch (the paper reports the median
  of the last 10, the best and the last).
- `copy_matching_weights`, `summarize_curve`, `plot_curves`.
- `train_pipeline`, `fit_small_cnn`, `error_percent`: the digits quick profiles.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import keras_mixup
from examples.paper.data import NUM_CLASSES
from examples.paper.models import small_cnn


@keras.saving.register_keras_serializable(package="keras_mixup_examples")
class CoupledSGD(keras.optimizers.SGD):
    """SGD with L2 weight decay coupled to the gradient: `g <- g + wd * w`, then momentum.

    This is PyTorch's `torch.optim.SGD(weight_decay=wd)`, which the paper's code
    uses; `keras.optimizers.SGD(weight_decay=wd)` instead shrinks the weights
    outside the momentum (decoupled, as AdamW), which is a different optimizer.
    Every trainable variable is decayed (PyTorch's default: BatchNorm scales and
    offsets and biases included).
    """

    def __init__(
        self, learning_rate=0.01, momentum=0.0, nesterov=False, *, coupled_decay=0.0, **kwargs
    ):
        super().__init__(
            learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kwargs
        )
        if coupled_decay < 0:
            raise ValueError(f"`coupled_decay` must be >= 0; got {coupled_decay}.")
        self.coupled_decay = float(coupled_decay)

    def update_step(self, gradient, variable, learning_rate):
        if self.coupled_decay:
            gradient = gradient + keras.ops.cast(self.coupled_decay, variable.dtype) * variable
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "coupled_decay": self.coupled_decay}


def step_schedule(base_lr: float, milestones, steps_per_epoch: int, factor: float = 0.1):
    """Learning rate `base_lr`, multiplied by `factor` from the first step of each epoch
    in `milestones` (epochs counted from 0; PiecewiseConstantDecay switches after
    its boundary, hence the - 1)."""
    boundaries = [int(m) * steps_per_epoch - 1 for m in milestones]
    values = [base_lr * factor**i for i in range(len(boundaries) + 1)]
    if not boundaries:
        return base_lr
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def random_crop_flip(images, padding: int, flip: bool = True):
    """Per-example random crop of the original size after zero padding, and random
    horizontal flips, for a batch `[B, H, W, C]` (any dtype; zeros are black)."""
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    size, height, width = shape[0], shape[1], shape[2]
    padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    offsets = tf.random.uniform([2, size], 0, 2 * padding + 1, dtype=tf.int32)
    rows = offsets[0][:, None] + tf.range(height)[None, :]
    cols = offsets[1][:, None] + tf.range(width)[None, :]
    if flip:
        mirrored = tf.random.uniform([size]) < 0.5
        cols = tf.where(mirrored[:, None], tf.reverse(cols, axis=[1]), cols)
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(cropped, cols, axis=2, batch_dims=1)


class EpochEvaluation(keras.callbacks.Callback):
    """Top-k error (%) of the model on `dataset` after every epoch, kept in `errors[k]`
    and logged as `{log_name}_top{k}_error`."""

    def __init__(self, dataset, top_k=(1,), log_name: str = "test"):
        super().__init__()
        self.dataset = dataset
        self.log_name = log_name
        self.top_k = tuple(top_k)
        self.errors = {k: [] for k in self.top_k}

    def on_epoch_end(self, epoch, logs=None):
        errors = top_k_errors(self.model, self.dataset, self.top_k)
        for k in self.top_k:
            self.errors[k].append(errors[k])
        if logs is not None:
            for k in self.top_k:
                logs[f"{self.log_name}_top{k}_error"] = errors[k]


def top_k_errors(model, dataset, top_k=(1,)) -> dict:
    """Top-k error (%) of `model` over a dataset of (images, class ids)."""
    wrong = {k: 0 for k in top_k}
    total = 0
    for images, labels in dataset:
        logits = model(images, training=False)
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        for k in top_k:
            hit = tf.math.in_top_k(labels, tf.cast(logits, tf.float32), k)
            wrong[k] += int(tf.reduce_sum(1 - tf.cast(hit, tf.int32)))
        total += int(tf.shape(labels)[0])
    return {k: 100.0 * wrong[k] / max(total, 1) for k in top_k}


def copy_matching_weights(source: keras.Model, target: keras.Model) -> int:
    """Copies the weights of every layer of `target` that has a same-named layer
    with weights in `source` (so models that differ only by weight-free layers,
    a MixupLayer or a dropout layer, start from the same initialization).
    Returns the number of layers copied; raises if a trainable layer of `target`
    has no counterpart."""
    by_name = {layer.name: layer for layer in source.layers if layer.weights}
    copied = 0
    for layer in target.layers:
        if not layer.trainable_weights:
            continue
        if layer.name not in by_name:
            raise ValueError(f"layer {layer.name!r} has no counterpart in the source model")
        layer.set_weights(by_name[layer.name].get_weights())
        copied += 1
    return copied


def summarize_curve(errors) -> dict:
    """The paper's numbers for a test-error curve: median of the last 10 epochs, best, last."""
    errors = [float(e) for e in errors]
    return {
        "median_last_10": float(np.median(errors[-10:])) if errors else float("nan"),
        "best": min(errors) if errors else float("nan"),
        "last": errors[-1] if errors else float("nan"),
        "per_epoch": errors,
    }


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, ax, path: Path, title: str) -> None:
    """The common end of every figure here: title (smaller when long), legend, PNG."""
    ax.set_title(title, fontsize=12 if len(title) < 60 else 9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)


def plot_curves(curves: dict, path: Path, title: str, ylabel: str = "test error (%)") -> None:
    """One line per run (mean over seeds, shaded min..max when several)."""
    fig, ax = _pyplot().subplots(figsize=(7, 4))
    for name, runs in curves.items():
        runs = np.asarray(runs, float).reshape(-1, np.shape(runs)[-1])
        epochs = np.arange(1, runs.shape[1] + 1)
        ax.plot(epochs, runs.mean(axis=0), label=name)
        if len(runs) > 1:
            ax.fill_between(epochs, runs.min(axis=0), runs.max(axis=0), alpha=0.2)
    ax.set(xlabel="epoch", ylabel=ylabel)
    ax.grid(alpha=0.3)
    _finish(fig, ax, path, title)


def plot_rows(values: dict, path: Path, title: str, xlabel: str = "test error (%)") -> None:
    """One dot per "label | group" key (mean over seeds, a bar from min to max), rows top down
    in the order given, one colour per group (e.g. weight decay)."""
    labels = list(dict.fromkeys(key.split(" | ")[0] for key in values))
    groups = list(dict.fromkeys(key.split(" | ")[1] for key in values))
    fig, ax = _pyplot().subplots(figsize=(8, 0.32 * len(labels) + 1.2))
    offsets = np.linspace(-0.15, 0.15, len(groups))
    for colour, (offset, group) in enumerate(zip(offsets, groups, strict=True)):
        for row, label in enumerate(labels):
            seeds = np.asarray(values[f"{label} | {group}"], float)
            ax.errorbar(
                seeds.mean(),
                row + offset,
                xerr=[[seeds.mean() - seeds.min()], [seeds.max() - seeds.mean()]],
                fmt="o",
                ms=4,
                color=f"C{colour}",
                label=group if row == 0 else None,
            )
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel=xlabel)
    ax.grid(alpha=0.3, axis="x")
    _finish(fig, ax, path, title)


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
    initial_weights,
    train_ds,
    *,
    epochs: int,
    learning_rate: float,
    validation_data=None,
    verbose=1,
    input_shape=(8, 8, 1),
):
    """SGD with momentum 0.9, learning rate / 10 at 50 % and 75 % of training."""
    model = small_cnn(seed=0, input_shape=input_shape)
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
    history = model.fit(
        train_ds,
        validation_data=validation_data,
        epochs=epochs,
        verbose=verbose,
        shuffle=False,  # the pipeline shuffles
    )
    return model, history


def error_percent(model, x, labels) -> float:
    predictions = np.argmax(model.predict(x, verbose=0, batch_size=512), axis=1)
    return 100.0 * float(np.mean(predictions != labels))

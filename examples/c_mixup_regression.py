"""
Title: C-Mixup: partners by label distance for regression
Description: MixupTransform(pairing="c_mixup") on a generated nonlinear regression task,
against plain mixup and ERM. Offline, a few minutes on 2 CPU cores.
Install: pip install ".[examples]"
"""

"""
## Introduction

mixup mixes targets as it mixes inputs, `y~ = lam * y_i + (1 - lam) * y_j`: for a regression
target, a claim that the function is linear between `x_i` and `x_j`. Where it is not, two
distant examples give a mixed input with a wrong target, and the model learns that error.

C-Mixup (Yao et al., "C-Mixup: Improving Generalization in Regression", NeurIPS 2022) keeps
mixup's blend and changes the partners: example `j` is example `i`'s partner with
probability proportional to `exp(-(y_i - y_j)^2 / (2 bandwidth^2))` (their Eq. 6), so
examples mix mostly with examples of similar targets, where the function is nearly linear.
In keras_mixup: `MixupTransform(pairing="c_mixup", c_mixup_bandwidth=...)`.

Here a generated task where the function bends: ERM, mixup and C-Mixup on one small
training set, test RMSE over three seeds, the fitted curves in a plot.

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
import matplotlib
import numpy as np
import tensorflow as tf

import keras_mixup

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"  # the test suite's short run
EPOCHS = 60 if SMOKE_TEST else 200
SEEDS = (0, 1) if SMOKE_TEST else (0, 1, 2)
BATCH_SIZE, FEATURES = 32, 8
OUTPUT = Path("runs/tutorial_c_mixup")
OUTPUT.mkdir(parents=True, exist_ok=True)

"""
## The data

`FEATURES` Gaussian inputs; the target depends on one direction `t = w . x` through a
function that bends, `f(t) = tanh(2 t) + 0.3 t`, plus noise of standard deviation 0.05.
300 training examples, 3000 test examples. Targets are standardised with the training
set's mean and deviation, so that a bandwidth is in units of the targets' spread.
"""

rng = np.random.default_rng(0)
direction = rng.normal(size=FEATURES)
direction /= np.linalg.norm(direction)


def truth(t):
    return np.tanh(2.0 * t) + 0.3 * t


def examples(count):
    x = rng.normal(size=(count, FEATURES)).astype("float32")
    y = truth(x @ direction) + 0.05 * rng.normal(size=count)
    return x, y.astype("float32")


x_train, y_train = examples(300)
x_test, y_test = examples(3000)
mean, deviation = y_train.mean(), y_train.std()
y_train_standard = (y_train - mean) / deviation

"""
## The partners C-Mixup draws

One batch of 32 training examples, partners drawn by `sample_mix_params` (what both fronts
draw with) with each pairing: C-Mixup's partners have targets near the example's own.
"""

seed, batch = np.array([0, 1], "int32"), y_train_standard[:BATCH_SIZE]
for pairing, options in (("random", {}), ("c_mixup", {"labels": batch, "c_mixup_bandwidth": 0.2})):
    params = keras_mixup.sample_mix_params(seed, BATCH_SIZE, 2.0, pairing=pairing, **options)
    gap = np.abs(batch - batch[params.permutation]).mean()
    print(f"pairing={pairing!r:10s} mean |y_i - y_partner| = {gap:.3f} (standardised)")

"""
## Training

The same small MLP three ways: ERM, mixup with `alpha=2`, and C-Mixup with the same alpha
and `c_mixup_bandwidth=0.2`. The mixer is a `tf.data` map after batching.
"""


METHODS = {
    "ERM": None,
    "mixup": dict(alpha=2.0),
    "C-Mixup": dict(alpha=2.0, pairing="c_mixup", c_mixup_bandwidth=0.2),
}


def train(options, run_seed):
    keras.utils.set_random_seed(run_seed)
    dataset = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train_standard))
        .shuffle(len(x_train), seed=run_seed)
        .batch(BATCH_SIZE, drop_remainder=True)
    )
    if options is not None:
        dataset = dataset.map(keras_mixup.MixupTransform(**options, seed=run_seed))
    dense = [keras.layers.Dense(64, activation="relu") for _ in range(2)]
    model = keras.Sequential([keras.Input((FEATURES,)), *dense, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    model.fit(dataset.prefetch(2), epochs=EPOCHS, verbose=0, shuffle=False)  # tf.data shuffles
    return model


def predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))[:, 0] * deviation + mean


def rmse(model):
    return float(np.sqrt(np.mean((predict(model, x_test) - y_test) ** 2)))


results, models = {}, {}
for name, options in METHODS.items():
    results[name] = []
    for run_seed in SEEDS:  # one line per run as it ends: about 25 s each on 2 CPU cores
        models[name] = train(options, run_seed)
        results[name].append(rmse(models[name]))
        print(f"  {name} seed {run_seed}: test RMSE {results[name][-1]:.4f}", flush=True)
for name, values in results.items():
    print(f"{name:8s} test RMSE {np.mean(values):.4f} (mean over {len(values)} seeds)")

"""
## The fitted curves

Along the direction the target depends on (`x = t w`), the last seed's models against the
truth: mixup's targets lie on chords of the curve, which pull its fit where the curve bends.
"""

t = np.linspace(-2.5, 2.5, 200)
line = (t[:, None] * direction[None]).astype("float32")
fig, ax = plt.subplots(figsize=(7, 4.2))
ax.plot(t, truth(t), color="black", linewidth=2, label="f(t)")
for name, model in models.items():
    ax.plot(t, predict(model, line), label=f"{name} (RMSE {np.mean(results[name]):.3f})")
ax.set(
    xlabel="t = w . x", ylabel="target", title="Fits along the target's direction (generated data)"
)
ax.legend()
fig.tight_layout()
fig.savefig(OUTPUT / "fits.png", dpi=120)
print(f"wrote {OUTPUT / 'fits.png'}")

"""
## Results

On this project's 2-core CPU machine (commit adde7c9, the generated data above, 200 epochs,
three seeds), test RMSE: ERM 0.152, mixup 0.249, C-Mixup 0.094; the test suite's short run
(60 epochs, two seeds): 0.167, 0.256 and 0.127. Plain mixup is worse than no mixing here:
its targets lie on chords of a curve that bends. C-Mixup mixes examples whose targets are
close (0.11 standard deviations apart on average, against 1.43 for random partners), so its
chords hug the curve and mixing regularises. A toy task chosen to show the mechanism, not
the paper's results.
"""

rmse_means = {name: float(np.mean(values)) for name, values in results.items()}
summary = {"test_rmse": rmse_means, "test_rmse_per_seed": results, "epochs": EPOCHS}
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))

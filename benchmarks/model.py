"""In-model: a training step of a small CNN with and without MixupLayer, with and without XLA;
and with Manifold Mixup points (one at the input, or three: the input and after the first two
convolution blocks), whose unchosen points each cost a `cond` on their tensor (issue 44)."""

from __future__ import annotations

import keras
import numpy as np

import keras_mixup
from benchmarks import common
from benchmarks.common import interleaved_medians, print_table


def small_cnn(
    with_mixup: bool, jit_compile: bool, package=keras_mixup, manifold_points: int = 0
) -> keras.Model:
    """The CNN; `with_mixup`: a MixupLayer at the input; `manifold_points` (1 to 3): a
    ManifoldMixup group's points at the input, then after the first and second blocks."""
    keras.utils.set_random_seed(0)
    mixup = package.MixupLayer(alpha=0.2, seed=0) if with_mixup else None
    group = package.ManifoldMixup(alpha=0.2, seed=0) if manifold_points else None
    point = [[group.point()] if i < manifold_points else [] for i in range(3)]  # by place
    layers = (
        [keras.Input((32, 32, 3))]
        + ([mixup] if mixup else [])
        + point[0]
        + [
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
        ]
        + point[1]
        + [
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
        ]
        + point[2]
        + [
            keras.layers.Conv2D(128, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    model = keras.Sequential(layers)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    follows = mixup or group
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=package.MixupLoss(loss, layer=follows) if follows else loss,
        jit_compile=jit_compile,
    )
    return model


def run(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    x = rng.random((128, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    rounds, seconds = (1, 0.2) if quick else (15, 1.0)
    results = []
    rows = []
    backend = keras.backend.backend()
    for jit_compile in [False] if backend == "torch" else [True, False]:
        models = {
            "without MixupLayer": small_cnn(False, jit_compile),
            "with MixupLayer + MixupLoss": small_cnn(True, jit_compile),
            "ManifoldMixup, 1 point (input)": small_cnn(False, jit_compile, manifold_points=1),
            "ManifoldMixup, 3 points": small_cnn(False, jit_compile, manifold_points=3),
        }
        for baseline in common.BASELINES:
            models[f"with MixupLayer@{baseline.commit}"] = small_cnn(True, jit_compile, baseline)
        timings = interleaved_medians(
            {name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()},
            rounds,
            seconds,
            base="without MixupLayer",
        )
        for name, t in timings.items():
            overhead = 100.0 * (t["ratio_to_base"]["median"] - 1.0)
            rows.append(
                [
                    f"{backend}, jit_compile={jit_compile}",
                    name,
                    f"{t['median_s'] * 1e3:.2f}",
                    f"{t['min_s'] * 1e3:.1f}-{t['max_s'] * 1e3:.1f}",
                    f"{overhead:+.1f} %",
                ]
            )
            results.append(
                {
                    "backend": backend,
                    "jit_compile": jit_compile,
                    "model": name,
                    "seconds_per_step": t,
                    "overhead_percent": overhead,
                }
            )
    print_table(
        "In-model training step, small CNN, CIFAR shape, batch 128",
        [
            "backend, compile",
            "model",
            "ms/step (median)",
            "min-max over rounds",
            "vs without (median of round ratios)",
        ],
        rows,
    )
    return {"rounds": rounds, "seconds_per_round": seconds, "results": results}

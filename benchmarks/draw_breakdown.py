"""Where the eager draw's time goes: `KERAS_BACKEND=torch python -m benchmarks.draw_breakdown`.

Where the backend runs eagerly (PyTorch, JAX with `jit_compile=False`), `MixupLayer` draws a
step's parameters on the host: it steps its Keras `SeedGenerator`, reads the seed to the
host, draws with the NumPy binding and moves the parameter vectors to the backend. This
times each piece and the whole (`MixupLayer._step_params`) for one CIFAR-shaped batch of
128, in interleaved rounds (median, min and max microseconds per call over the rounds).
"""

from __future__ import annotations

import keras
import numpy as np

from benchmarks.common import device_name, interleaved_medians, print_table
from keras_mixup import MixupLayer
from keras_mixup._src.bindings.ops import KERAS, NUMPY
from keras_mixup._src.core.structures import Parts
from keras_mixup._src.fronts.eager import params_for

BATCH_SHAPE = (128, 32, 32, 3)


def main(rounds: int = 7, seconds_per_round: float = 0.5) -> dict:
    layer = MixupLayer(alpha=0.8, seed=0, inputs_only=True)
    x = keras.ops.zeros(BATCH_SHAPE)
    layer(x, training=True)  # builds, and runs the eager path once
    spec, seed_generator = layer.spec, layer.seed_generator
    host_seed = keras.ops.convert_to_numpy(seed_generator.next())
    parts = Parts(features=x)

    def draw_on_host():
        return spec.draw(
            host_seed, parts, spec.runtime_values(), owner="", ops=NUMPY, data_ops=KERAS
        )

    params = draw_on_host()
    candidates = {
        "SeedGenerator.next()": seed_generator.next,
        "seed to the host": lambda: keras.ops.convert_to_numpy(seed_generator.state),
        "draw (NumPy binding)": draw_on_host,
        "parameters to the backend": lambda: params_for(params, ops=KERAS),
        "whole draw (MixupLayer._step_params)": lambda: layer._step_params(x, x),
    }
    timings = interleaved_medians(candidates, rounds, seconds_per_round)
    print(f"{keras.backend.backend()} backend, {device_name()}, batch {list(BATCH_SHAPE)}")
    print_table(
        "Eager draw, microseconds per call",
        ["piece", "median", "min", "max"],
        [
            [name, *(f"{t[k] * 1e6:.1f}" for k in ("median_s", "min_s", "max_s"))]
            for name, t in timings.items()
        ],
    )
    return {name: float(np.median(t["per_round_s"])) for name, t in timings.items()}


if __name__ == "__main__":
    main()

"""Op level: one mixup call on a batch already in memory, against one read+write pass (the copy limit).

On the TensorFlow backend: the tf.data map functions of benchmarks/implementations.py as
TensorFlow functions. On JAX and PyTorch: benchmarks/op_backend.py (no TensorFlow needed).
"""

from __future__ import annotations

import keras
import numpy as np

from benchmarks.common import interleaved_medians, print_table

SHAPES = {"cifar": ((128, 32, 32, 3), 10), "imagenet": ((64, 224, 224, 3), 1000)}
PASTING = {  # row: the method's name in keras_mixup.methods
    "keras_mixup CutMix (XLA)": "CutMix",
    "keras_mixup GridMix (XLA)": "GridMix",
    "keras_mixup FMix (XLA)": "FMix",
    "keras_mixup SmoothMix (XLA)": "SmoothMix",
    "keras_mixup ResizeMix (XLA)": "ResizeMix",
    "keras_mixup Mosaic (XLA)": "Mosaic",
    "keras_mixup SaliencyMix (XLA)": "SaliencyMix",
}


def run(quick: bool) -> dict:
    if keras.backend.backend() != "tensorflow":
        from benchmarks import op_backend

        return op_backend.run(quick)
    import tensorflow as tf

    import keras_mixup
    from benchmarks.implementations import candidates

    rng = np.random.default_rng(0)
    rounds, seconds = (1, 0.1) if quick else (7, 0.5)
    results = []
    for shape_name, (shape, classes) in SHAPES.items():
        for dtype in ["float32"] if quick else ["float32", "uint8"]:
            x = rng.integers(0, 256, shape, dtype=np.uint8)
            x = tf.constant(x.astype(np.float32) if dtype == "float32" else x)
            y = tf.constant(rng.integers(0, classes, shape[0]))
            # The copy limit: one XLA pass that reads the batch and writes float32 once.
            copy_pass = tf.function(lambda t: tf.cast(t, tf.float32) * 2.0, jit_compile=True)
            calls = {"copy limit (one read + write pass)": lambda c=copy_pass, x=x: c(x)}
            found = candidates(classes)
            if not quick:  # the methods that paste pixels, as one compiled op each
                found |= {
                    name: keras_mixup.MixupTransform(
                        methods=[getattr(keras_mixup.methods, method)(1.0)],
                        num_classes=classes,
                        seed=0,
                    )
                    for name, method in PASTING.items()
                }
            for name, fn in found.items():
                compiled = tf.function(fn)
                calls[name] = lambda c=compiled, x=x, y=y: c(x, y)
            # On CPU an eager call returns once its result is computed: nothing to force.
            timings = interleaved_medians(calls, rounds, seconds)
            copy_time = timings["copy limit (one read + write pass)"]["median_s"]
            input_bytes = x.numpy().nbytes
            output_bytes = int(np.prod(shape)) * 4
            rows = []
            for name, t in timings.items():
                # The least memory traffic the job needs: mixup reads the batch twice
                # (rows and partner rows) and writes it once; a plain pass reads it once.
                reads = 1 if name.startswith(("copy limit", "no mixup")) else 2
                traffic = reads * input_bytes + output_bytes
                rows.append(
                    [
                        name,
                        f"{t['median_s'] * 1e3:.2f}",
                        f"{t['median_s'] / copy_time:.2f}x",
                        f"{traffic / t['median_s'] / 1e9:.1f}",
                    ]
                )
                results.append(
                    {
                        "shape": shape_name,
                        "input_dtype": dtype,
                        "implementation": name,
                        "seconds": t,
                        "ratio_to_copy_limit": t["median_s"] / copy_time,
                    }
                )
            print_table(
                f"Op level: {shape_name} batch {shape}, {dtype} in, float32 out",
                ["implementation", "ms", "vs copy limit", "GB/s of least traffic"],
                rows,
            )
    return {"rounds": rounds, "seconds_per_round": seconds, "results": results}

"""Where FMix's per-batch draw goes: `python -m benchmarks.mask_breakdown [--size 224]`.

Times, each as one XLA-compiled TensorFlow call on this machine, the pieces of one FMix mask
(one per batch, as by default) against the copy limit of an ImageNet-shaped uint8 batch
(64 x size x size x 3: one pass that reads it and writes float32): the spectrum's Threefry
words and Box-Muller normals, the inverse real 2-D DFT, the threshold by bisection
(`fmix.top_pixels`, what the method uses) and, for comparison, the double argsort it
replaced. Medians over interleaved rounds.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import interleaved_medians, print_table  # noqa: E402
from keras_mixup._src.bindings.tf_ops import TENSORFLOW  # noqa: E402
from keras_mixup._src.core.methods import fmix  # noqa: E402
from keras_mixup._src.core.sampling import standard_normals, stream_words, unit_uniforms  # noqa: E402


def pieces(size: int) -> dict:
    half = size // 2 + 1
    count = 2 * size * half

    def normals(seed):
        words = stream_words(seed, [(fmix.STREAMS["spectrum"], 0, count)], ops=TENSORFLOW)[0]
        uniforms = tf.reshape(unit_uniforms(words, ops=TENSORFLOW), [2, -1])
        return standard_normals(uniforms[0], uniforms[1], ops=TENSORFLOW)

    def inverse_dft(real, imag):
        return fmix.low_frequency_images(real, imag, size, size, 3.0, ops=TENSORFLOW)

    def threshold(flat):
        return fmix.top_pixels(flat, tf.constant([0.4 * size * size]), ops=TENSORFLOW)

    def double_argsort(flat):
        return tf.argsort(tf.argsort(-flat, stable=True), stable=True)

    rng = np.random.default_rng(0)
    seed = tf.constant([1, 2])
    spectrum = [tf.constant(rng.normal(size=(1, size, half)), tf.float32) for _ in range(2)]
    flat = tf.constant(rng.normal(size=(1, size * size)), tf.float32)
    batch = tf.constant(rng.integers(0, 256, (64, size, size, 3), dtype=np.uint8))

    def compiled(fn):
        return tf.function(fn, jit_compile=True)

    calls = {
        "copy limit of the 64-image uint8 batch": (
            compiled(lambda t: tf.cast(t, tf.float32) * 2.0),
            (batch,),
        ),
        "spectrum: Threefry words + Box-Muller normals": (compiled(normals), (seed,)),
        "inverse real 2-D DFT": (compiled(inverse_dft), tuple(spectrum)),
        "threshold by bisection (top_pixels)": (compiled(threshold), (flat,)),
        "double argsort (the rank, replaced)": (compiled(double_argsort), (flat,)),
    }
    return {name: (lambda fn=fn, args=args: fn(*args)) for name, (fn, args) in calls.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=224, help="the images' height and width")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5, help="per candidate and round")
    args = parser.parse_args(argv)
    timings = interleaved_medians(pieces(args.size), args.rounds, args.seconds)
    copy = timings["copy limit of the 64-image uint8 batch"]["median_s"]
    rows = [
        [name, f"{t['median_s'] * 1e3:.2f}", f"{t['median_s'] / copy:.2f}x"]
        for name, t in timings.items()
    ]
    print_table(
        f"FMix's draw, one {args.size}x{args.size} mask, XLA on this machine (median of "
        f"{args.rounds} rounds)",
        ["piece", "ms", "vs copy limit"],
        rows,
    )
    return {name: t["median_s"] for name, t in timings.items()}


if __name__ == "__main__":
    main()

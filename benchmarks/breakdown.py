"""Where a batch's time goes in the tf.data front: `python -m benchmarks.breakdown
[--shape cifar|imagenet]`.

Cumulative per-batch cost inside tf.data (one 128x32x32x3 uint8 batch repeated, or
64x224x224x3; sequential map, the loop driven by `Dataset.reduce` so no Python runs per
batch), adding one ingredient of MixupTransform's map form at a time, and its apply form
whole. Differences between rows are the cost of each ingredient; rows are measured in
interleaved rounds, medians.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mixup import MixParams, MixupTransform, sample_mix_params  # noqa: E402
from keras_mixup._src.bindings.tf_ops import TENSORFLOW  # noqa: E402
from keras_mixup._src.core.mixing import mix_parts  # noqa: E402
from keras_mixup._src.core.structures import Parts  # noqa: E402


def mix_batch(parts, params, *, num_classes):
    return mix_parts(
        parts, params, num_classes=num_classes, feature_dtype="float32", ops=TENSORFLOW
    )


BATCHES = 1500


def stages(batch_size: int, classes: int) -> dict:
    fixed = MixParams(tf.fill([batch_size], 0.3), tf.range(batch_size)[::-1])

    @tf.function(jit_compile=True)
    def blend_fixed(x, y):
        return mix_batch(Parts(x, y), fixed, num_classes=classes)[:2]

    @tf.function(jit_compile=True)
    def sample_and_blend(x, y, seed):
        params = sample_mix_params(seed, tf.shape(y)[0], 0.2)
        return mix_batch(Parts(x, y), params, num_classes=classes)[:2]

    generator = tf.random.Generator.from_seed(0)
    return {
        "element only (tf.data floor)": lambda x, y, r: (x, y),
        "cast + one-hot (no mixup)": lambda x, y, r: (
            tf.cast(x, tf.float32),
            tf.one_hot(y, classes),
        ),
        "+ XLA cast/gather/blend, fixed lambda and permutation": lambda x, y, r: blend_fixed(x, y),
        "+ sampling lambda and permutation in XLA (seed per batch)": lambda x, y, r: (
            sample_and_blend(x, y, tf.stack([r, r]))
        ),
        "+ seed from tf.random.Generator (map form)": lambda x, y, r: sample_and_blend(
            x, y, generator.make_seeds(1)[:, 0]
        ),
        "MixupTransform, map form (+ run-time checks)": (
            lambda transform: lambda x, y, r: transform(x, y)
        )(MixupTransform(0.2, num_classes=classes, seed=0)),
    }


SHAPES = {"cifar": ((128, 32, 32, 3), 10, BATCHES), "imagenet": ((64, 224, 224, 3), 1000, 100)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="cifar")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=None, help="per round")
    args = parser.parse_args(argv)
    shape, classes, batches = SHAPES[args.shape]
    batches = args.batches or batches
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    y = rng.integers(0, classes, shape[0])
    plain = tf.data.Dataset.from_tensors((x, y)).repeat(batches)
    base = tf.data.Dataset.zip(plain, tf.data.Dataset.random(seed=1))
    datasets = {
        name: base.map(lambda e, r, f=f: f(e[0], e[1], r))
        for name, f in stages(shape[0], classes).items()
    }
    # the apply form: its own zip with Dataset.random and stateless seed per batch
    datasets["MixupTransform, apply form (its zip, seed and checks)"] = plain.apply(
        MixupTransform(0.2, num_classes=classes, seed=0)
    )
    samples = {name: [] for name in datasets}
    for dataset in datasets.values():
        dataset.take(10).reduce(0, lambda count, _: count + 1)
    for _ in range(args.rounds):
        for name, dataset in datasets.items():
            start = time.perf_counter()
            dataset.reduce(tf.constant(0), lambda count, _: count + 1)
            samples[name].append((time.perf_counter() - start) / batches * 1e6)
    print(
        f"Per-batch cost, {args.shape} shape ({'x'.join(map(str, shape))} uint8), sequential "
        f"map, median of {args.rounds} rounds of {batches} batches"
    )
    print(f"{'stage':62s} {'us/batch':>9s} {'min-max':>15s}")
    for name, values in samples.items():
        print(f"{name:62s} {np.median(values):9.1f} {min(values):7.1f}-{max(values):7.1f}")
    return {name: float(np.median(values)) for name, values in samples.items()}


if __name__ == "__main__":
    main()

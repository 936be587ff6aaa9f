"""Where a batch's time goes in the tf.data front: `python -m benchmarks.breakdown
[--shape cifar|imagenet] [--baseline COMMIT ...]`.

Cumulative per-batch cost inside tf.data (one 128x32x32x3 uint8 batch repeated, or
64x224x224x3; the loop driven by `Dataset.reduce` so no Python runs per batch), adding
one ingredient of MixupTransform's map form at a time, then both forms whole.
Differences between rows are the cost of each ingredient; rows are measured in
interleaved rounds, medians. `--baseline` adds both forms as of earlier commits to the
same rounds.

Every stage runs one batch at a time on one thread: tf.data's `map_parallelization`
(on by default) would otherwise run the stateless stages in parallel and the stateful
ones (a seed generator, a variable read) not, and the difference would read as the
cost of the state (issue 32's first breakdown did read it so).

A second table asks whether drawing the parameters of a block of batches in one call
pays (issue 32, item 2): the draw alone, one XLA launch per batch, against one launch
for a block of batches whose parameters are then unbatched one batch at a time.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import baseline  # noqa: E402
from keras_mixup import MixParams, MixupTransform, sample_mix_params  # noqa: E402
from keras_mixup._src.bindings.tf_ops import TENSORFLOW  # noqa: E402
from keras_mixup._src.core.methods.mixup import STREAMS as MIXUP_STREAMS  # noqa: E402
from keras_mixup._src.core.mixing import mix_parts  # noqa: E402
from keras_mixup._src.core.sampling import STREAMS, log_gamma, stream_words  # noqa: E402
from keras_mixup._src.core.structures import Parts  # noqa: E402

BATCHES = 1500
ALPHA = 0.2
BLOCK = 32  # batches per block in the block-draw table
DRAW_BLOCKS = 140  # blocks per round there (4480 draws: the per-round cost of tf.data is small)


def one_at_a_time(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` run one element at a time on one thread, its stages in sequence."""
    options = tf.data.Options()
    options.experimental_optimization.map_parallelization = False
    options.threading.private_threadpool_size = 1
    return dataset.with_options(options)


def mix_batch(parts, params, *, num_classes):
    return mix_parts(
        parts, params, num_classes=num_classes, feature_dtype="float32", ops=TENSORFLOW
    )


def seed_of(random_value):
    """A stateless seed (int32 `[..., 2]`) from `Dataset.random` values."""
    return tf.stack(
        [tf.cast(random_value, tf.int32), tf.cast(random_value // 7, tf.int32)], axis=-1
    )


def stages(batch_size: int, classes: int) -> dict:
    """Map functions `(x, y, random value) -> ...`, each adding one ingredient."""
    fixed = MixParams(tf.fill([batch_size], 0.3), tf.range(batch_size)[::-1])

    @tf.function(jit_compile=True)
    def blend_fixed(x, y):
        return mix_batch(Parts(x, y), fixed, num_classes=classes)[:2]

    @tf.function(jit_compile=True)
    def sample_and_blend(x, y, seed):
        params = sample_mix_params(seed, tf.shape(y)[0], ALPHA)
        return mix_batch(Parts(x, y), params, num_classes=classes)[:2]

    def front_piece(piece):  # a piece of MixupTransform's tf.data machinery
        mixer = MixupTransform(ALPHA, num_classes=classes, seed=0)._elements.tf_data()
        return lambda x, y, r: piece(mixer, Parts(x, y), seed_of(r))[:2]

    generator = tf.random.Generator.from_seed(0)
    transform = MixupTransform(ALPHA, num_classes=classes, seed=0)
    return {
        "element only (tf.data's own per-element cost)": lambda x, y, r: (x, y),
        "cast + one-hot (no mixup)": lambda x, y, r: (
            tf.cast(x, tf.float32),
            tf.one_hot(y, classes),
        ),
        "+ one XLA launch: cast, gather, blend (fixed lambda, permutation)": (
            lambda x, y, r: blend_fixed(x, y)
        ),
        "+ the draw in the launch (seed from the zipped Dataset.random)": (
            lambda x, y, r: sample_and_blend(x, y, seed_of(r))
        ),
        "+ run-time values from the front's variables (its launch)": front_piece(
            lambda mixer, parts, seed: mixer._compiled(parts, seed)
        ),
        "+ the checks outside XLA (the front's mix)": front_piece(
            lambda mixer, parts, seed: mixer.mix(parts, seed)
        ),
        "+ the seed from tf.random.Generator instead": front_piece(
            lambda mixer, parts, seed: mixer.mix(parts, generator.make_seeds(1)[:, 0])
        ),
        "MixupTransform, map form (the element parsed, its Generator)": (
            lambda x, y, r: transform(x, y)
        ),
    }


def blend_with(classes: int):
    @tf.function(jit_compile=True)
    def blend(x, y, mix_weight, permutation):
        params = MixParams(mix_weight, permutation)
        return mix_batch(Parts(x, y), params, num_classes=classes)[:2]

    return blend


def draw_stages(batch_size: int) -> dict:
    """Datasets of `Dataset.random` values -> per-batch draws (item 2's question)."""

    @tf.function(jit_compile=True)
    def launch_only(seed):
        return tf.cast(seed, tf.float32) + 1.0

    @tf.function(jit_compile=True)
    def draw(seed):
        params = sample_mix_params(seed, batch_size, ALPHA)
        return params.mix_weight, params.permutation

    @tf.function(jit_compile=True)
    def partners_only(seed):  # the partners' Threefry words and their stable argsort
        words = stream_words(seed, [(STREAMS["permutation"], 0, batch_size)], ops=TENSORFLOW)
        return TENSORFLOW.argsort(words[0])

    @tf.function(jit_compile=True)
    def weight_only(seed):  # mixup's two Gamma variates (one Beta weight per batch)
        return log_gamma(seed, MIXUP_STREAMS["gamma"], 2, tf.constant(ALPHA), ops=TENSORFLOW)

    @tf.function(jit_compile=True)
    def draw_block(seeds):  # the same draws, `BLOCK` seeds at a time
        return tf.vectorized_map(draw.python_function, seeds)

    return {
        "one XLA launch per batch, no draw": lambda r: r.map(lambda v: launch_only(seed_of(v))),
        "the draw, one launch per batch": lambda r: r.map(lambda v: draw(seed_of(v))),
        "  of which the partners (Threefry words, stable argsort) alone": lambda r: r.map(
            lambda v: partners_only(seed_of(v))
        ),
        "  of which the weight (two Gamma variates) alone": lambda r: r.map(
            lambda v: weight_only(seed_of(v))
        ),
        f"the draws of {BLOCK} batches in one launch, unbatched": lambda r: (
            r.batch(BLOCK).map(lambda v: draw_block(seed_of(v))).unbatch()
        ),
    }


SHAPES = {"cifar": ((128, 32, 32, 3), 10, BATCHES), "imagenet": ((64, 224, 224, 3), 1000, 100)}


def timed(datasets: dict, rounds: int, batches: int) -> dict:
    """Per-batch µs of each dataset (reduced whole), in interleaved rounds."""
    samples = {name: [] for name in datasets}
    for dataset in datasets.values():
        dataset.take(10).reduce(0, lambda count, _: count + 1)
    for _ in range(rounds):
        for name, dataset in datasets.items():
            start = time.perf_counter()
            dataset.reduce(tf.constant(0), lambda count, _: count + 1)
            samples[name].append((time.perf_counter() - start) / batches * 1e6)
    return samples


def report(title: str, samples: dict) -> dict:
    print(title)
    print(f"{'stage':70s} {'us/batch':>9s} {'min-max':>15s}")
    for name, values in samples.items():
        print(f"{name:70s} {np.median(values):9.1f} {min(values):7.1f}-{max(values):7.1f}")
    return {name: float(np.median(values)) for name, values in samples.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="cifar")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=None, help="per round")
    parser.add_argument(
        "--baseline",
        nargs="*",
        default=[],
        metavar="COMMIT",
        help="add both forms as of these commits to the same rounds (before / after)",
    )
    args = parser.parse_args(argv)
    shape, classes, batches = SHAPES[args.shape]
    batches = args.batches or batches
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    y = rng.integers(0, classes, shape[0])
    plain = tf.data.Dataset.from_tensors((x, y)).repeat(batches)
    base = tf.data.Dataset.zip(plain, tf.data.Dataset.random(seed=1))
    datasets = {
        name: one_at_a_time(base.map(lambda e, r, f=f: f(e[0], e[1], r)))
        for name, f in stages(shape[0], classes).items()
    }
    # item 2's proposal: the parameters drawn a block of batches at a time, unbatched and
    # zipped with the batches, blended in one launch per batch (the draw's row above)
    blocks = draw_stages(shape[0])[f"the draws of {BLOCK} batches in one launch, unbatched"]
    params = blocks(tf.data.Dataset.random(seed=1))
    blend = blend_with(classes)
    datasets[f"  instead: the parameters drawn {BLOCK} batches at a time, zipped"] = one_at_a_time(
        tf.data.Dataset.zip(plain, params).map(lambda e, p: blend(e[0], e[1], *p))
    )
    # the apply form: its own zip with Dataset.random and stateless seed per batch
    datasets["MixupTransform, apply form (its zip, seed and checks)"] = one_at_a_time(
        plain.apply(MixupTransform(ALPHA, num_classes=classes, seed=0))
    )
    for commit in args.baseline:
        package = baseline.load(commit)
        for form, make in (("map", plain.map), ("apply", plain.apply)):
            transform = package.MixupTransform(ALPHA, num_classes=classes, seed=0)
            datasets[f"MixupTransform, {form} form, as of {package.commit}"] = one_at_a_time(
                make(transform)
            )
    medians = report(
        f"Per-batch cost, {args.shape} shape ({'x'.join(map(str, shape))} uint8), one batch at "
        f"a time, median of {args.rounds} rounds of {batches} batches",
        timed(datasets, args.rounds, batches),
    )
    draws = DRAW_BLOCKS * BLOCK  # whole blocks, as many at every shape
    randoms = tf.data.Dataset.random(seed=1).take(draws)
    draw_sets = {name: one_at_a_time(make(randoms)) for name, make in draw_stages(shape[0]).items()}
    print()
    medians |= report(
        f"The draw alone, batch of {shape[0]}: per batch, median of {args.rounds} rounds of "
        f"{draws} draws",
        timed(draw_sets, args.rounds, draws),
    )
    return medians


if __name__ == "__main__":
    main()

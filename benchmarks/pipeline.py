"""tf.data throughput: uint8 (or float32) images cached in memory -> [augment] -> batch -> map(f) -> prefetch."""

from __future__ import annotations

import gc

import numpy as np
import tensorflow as tf

from benchmarks import common
from benchmarks.common import interleaved_medians, print_table, within_round_ratio
from benchmarks.implementations import pipeline_candidates

PREFETCH_BATCHES = 2
ROUNDS = 7
ONLY_CONFIGS: set = set()  # `--configs cifar-float32 ...` (names: shape-dtype[-augmented])
DRAIN_BATCHES = 8  # more than the prefetch buffer and the parallel map hold

SHAPES = {
    "cifar": {"image": (32, 32, 3), "batch": 128, "classes": 10, "images": 8192},
    "imagenet": {"image": (224, 224, 3), "batch": 64, "classes": 1000, "images": 320},
}


def pad_crop_flip(image, label):
    """The usual CIFAR augmentation: 4-pixel zero padding, random 32x32 crop, horizontal flip."""
    padded = tf.image.pad_to_bounding_box(image, 4, 4, 40, 40)
    return tf.image.random_flip_left_right(tf.image.random_crop(padded, [32, 32, 3])), label


def make_pipeline(images, labels, batch, stage, augment: bool):
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).cache().repeat()
    if augment:
        dataset = dataset.map(pad_crop_flip, num_parallel_calls=tf.data.AUTOTUNE)
    # A fixed prefetch buffer, the same for every candidate: AUTOTUNE buffers may each
    # take up to half the RAM, and six pipelines side by side then swap.
    return stage(dataset.batch(batch)).prefetch(PREFETCH_BATCHES)


def grain_pipeline(images, labels, batch: int, num_classes: int, package=None):
    """The same NumPy source through Grain (no TensorFlow in the loop): batch, then
    `random_map(MixupTransform(...))` (NumPy), endless; None when Grain is missing.
    `package`: keras_mixup as of a baseline commit (`--baseline`), else this tree's."""
    try:
        import grain
    except ImportError:
        return None
    if package is None:
        import keras_mixup as package

    transform = package.MixupTransform(alpha=0.2, num_classes=num_classes)
    records = grain.MapDataset.range(len(images)).map(lambda i: (images[i], labels[i]))
    dataset = records.repeat().batch(batch).random_map(transform, seed=0)
    return iter(
        dataset.to_iter_dataset(
            grain.ReadOptions(num_threads=2, prefetch_buffer_size=PREFETCH_BATCHES)
        )
    )


def drain(iterator, batches: int = DRAIN_BATCHES) -> None:
    """Takes the batches buffered while the pipeline was idle, so timing sees steady state."""
    for _ in range(batches):
        next(iterator)


def run(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    configs = [("cifar", "uint8", False), ("imagenet", "uint8", False)]
    if not quick:
        configs += [
            ("cifar", "uint8", True),
            ("cifar", "float32", False),
            ("imagenet", "float32", False),
        ]
    if ONLY_CONFIGS:
        configs = [
            c for c in configs if f"{c[0]}-{c[1]}{'-augmented' if c[2] else ''}" in ONLY_CONFIGS
        ]
    rounds, seconds = (2, 0.2) if quick else (ROUNDS, 1.5)
    results = []
    for shape_name, dtype, augment in configs:
        shape = SHAPES[shape_name]
        count = shape["images"] // (8 if quick else 1)
        images = rng.integers(0, 256, (count, *shape["image"]), dtype=np.uint8)
        if dtype == "float32":
            images = images.astype(np.float32)
        labels = rng.integers(0, shape["classes"], count)
        pipelines = {
            name: iter(make_pipeline(images, labels, shape["batch"], fn, augment))
            for name, fn in pipeline_candidates(
                shape["classes"], family=dtype == "uint8" and not augment and not quick
            ).items()
        }
        if dtype == "uint8" and not augment and not quick:
            grain_iterator = grain_pipeline(images, labels, shape["batch"], shape["classes"])
            if grain_iterator is not None:
                pipelines["keras_mixup on Grain (NumPy, random_map)"] = grain_iterator
                for baseline in common.BASELINES:
                    pipelines[f"keras_mixup@{baseline.commit} on Grain (NumPy, random_map)"] = (
                        grain_pipeline(
                            images, labels, shape["batch"], shape["classes"], package=baseline
                        )
                    )
        base_name = "no mixup (cast + one-hot)"
        # Keras's own layer for the same job: MixUp for mixup rows, CutMix for CutMix rows.
        timings = interleaved_medians(
            {name: (lambda it=it: next(it)) for name, it in pipelines.items()},
            rounds,
            seconds,
            before_round={name: (lambda it=it: drain(it)) for name, it in pipelines.items()},
            base=base_name,
        )
        label = f"{shape_name} {'x'.join(map(str, shape['image']))} batch {shape['batch']}, {dtype}, {'pad-crop-flip' if augment else 'bare'}"
        rows = []
        for name, t in timings.items():
            # Medians over rounds of within-round ratios (see interleaved_medians).
            ratio = t["ratio_to_base"]
            overhead = 100.0 * (ratio["median"] - 1.0)
            keras_name = "keras.layers.CutMix" if "CutMix" in name else "keras.layers.MixUp"
            speedup = within_round_ratio(timings, keras_name, name)
            rows.append(
                [
                    name,
                    f"{shape['batch'] / t['median_s']:,.0f}",
                    f"{overhead:+.1f} %",
                    f"{100 * (ratio['min'] - 1):+.0f} to {100 * (ratio['max'] - 1):+.0f} %",
                    f"{speedup:.2f}x",
                ]
            )
            results.append(
                {
                    "config": label,
                    "shape": shape_name,
                    "input_dtype": dtype,
                    "augmented": augment,
                    "implementation": name,
                    "seconds_per_batch": t,
                    "images_per_second": shape["batch"] / t["median_s"],
                    "overhead_vs_no_mixup_percent": overhead,
                    "overhead_range_percent": [100 * (ratio["min"] - 1), 100 * (ratio["max"] - 1)],
                    "speedup_vs_keras_mixup": speedup,
                }
            )
        del pipelines  # release the iterators (threads, buffers) before the next configuration
        gc.collect()
        print_table(
            f"Pipeline throughput: {label}",
            [
                "implementation",
                "images/s",
                "time vs no mixup (median of round ratios)",
                "min to max over rounds",
                "throughput vs keras MixUp (CutMix rows: vs keras CutMix)",
            ],
            rows,
        )
    return {"rounds": rounds, "seconds_per_round": seconds, "results": results}

"""Mosaic with 100 boxes per image (issue 30): `python -m benchmarks.mosaic [--quick]`.

ImageNet shape (224 x 224 x 3 uint8, batch 64), Keras's element dict with 100 "xyxy" boxes
per image, side by side in interleaved rounds (median over rounds of the within-round
ratio, as every suite here):

- tf.data: the dict with only the conversions (float32 images, one-hot labels, the boxes
  as they are: the floor), keras_mixup's Mosaic and CutMix (XLA), and keras-cv's `Mosaic`
  where it imports beside Keras 3 (`pip install --no-deps keras-cv==0.9.0 regex kagglehub`);
- on the host, one call per batch: keras_mixup's Mosaic on a NumPy batch (the NumPy front
  a PyTorch `DataLoader` would call) and kornia's `RandomMosaic` on the same batch as
  torch CPU tensors (`[B, 3, H, W]` float32, `bbox_xyxy`), where kornia is installed.

Writes `--output/mosaic.json`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_mixup  # noqa: E402
from benchmarks.common import (  # noqa: E402
    environment,
    interleaved_medians,
    print_table,
    within_round_ratio,
    write_json,
)
from benchmarks.pipeline import PREFETCH_BATCHES, drain  # noqa: E402

SIZE, BATCH, CLASSES, BOXES = 224, 64, 1000, 100
BASE = "tf.data: no mixing (dict + 100 boxes, conversions)"
MOSAIC = keras_mixup.methods.Mosaic(1.0)


def element_set(count: int, rng) -> dict:
    """uint8 images, class ids and 100 boxes per image (xyxy pixels, inside the image)."""
    corners = rng.uniform(0, SIZE - 8, (count, BOXES, 2)).astype("float32")
    sides = rng.uniform(4, 64, (count, BOXES, 2)).astype("float32")
    return {
        "images": rng.integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8),
        "labels": rng.integers(0, CLASSES, count).astype("int32"),
        "bounding_boxes": {
            "boxes": np.concatenate([corners, np.minimum(corners + sides, SIZE)], axis=-1),
            "labels": rng.integers(0, 80, (count, BOXES)).astype("int32"),
        },
    }


def converted(element):
    """The floor: what every candidate must output anyway."""
    return {
        "images": tf.cast(element["images"], tf.float32),
        "labels": tf.one_hot(element["labels"], CLASSES),
        "bounding_boxes": element["bounding_boxes"],
    }


def keras_cv_mosaic():
    """keras-cv's `Mosaic` on the converted dict (boxes as keras-cv's dense "classes"), or
    None where keras-cv does not import."""
    try:
        import keras_cv
    except ImportError:
        return None
    layer = keras_cv.layers.Mosaic(bounding_box_format="xyxy", seed=0)

    def mix(element):
        element = converted(element)
        boxes = element["bounding_boxes"]
        out = layer(
            {
                "images": element["images"],
                "labels": element["labels"],
                "bounding_boxes": {"boxes": boxes["boxes"], "classes": boxes["labels"]},
            }
        )
        return {"images": out["images"], "labels": out["labels"]}

    return mix


def kornia_mosaic(elements: dict):
    """A callable mixing one batch with kornia's `RandomMosaic` on torch CPU tensors (the
    output keeps the input's size), or None where kornia is not installed."""
    try:
        import kornia
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    mosaic = kornia.augmentation.RandomMosaic(
        (SIZE, SIZE), data_keys=["input", "bbox_xyxy"], p=1.0, cropping_mode="slice"
    )
    images = torch.from_numpy(elements["images"][:BATCH]).permute(0, 3, 1, 2).float()
    boxes = torch.from_numpy(elements["bounding_boxes"]["boxes"][:BATCH])

    def run():
        with torch.no_grad():
            out = mosaic(images, boxes)
        return out[0].sum().item()  # blocks until done

    return run


def run(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    count = 64 if quick else 320
    rounds, seconds = (2, 0.2) if quick else (7, 2.0)
    elements = element_set(count, rng)
    transform = {
        "keras_mixup Mosaic (XLA)": keras_mixup.MixupTransform(
            methods=[MOSAIC], num_classes=CLASSES, bounding_box_format="xyxy", seed=0
        ),
        "keras_mixup CutMix (XLA)": keras_mixup.MixupTransform(
            alpha=0.0, cutmix_alpha=1.0, num_classes=CLASSES, bounding_box_format="xyxy", seed=0
        ),
    }
    stages = {BASE: converted}
    stages.update({f"tf.data: {name}": fn for name, fn in transform.items()})
    cv = keras_cv_mosaic()
    if cv is not None:
        stages["tf.data: keras-cv Mosaic"] = cv
    source = tf.data.Dataset.from_tensor_slices(elements).cache().repeat().batch(BATCH)
    iterators = {
        name: iter(source.map(fn).prefetch(PREFETCH_BATCHES)) for name, fn in stages.items()
    }
    candidates = {name: (lambda it=it: next(it)) for name, it in iterators.items()}
    before = {name: (lambda it=it: drain(it)) for name, it in iterators.items()}
    host_batch = {
        "images": elements["images"][:BATCH],
        "labels": elements["labels"][:BATCH],
        "bounding_boxes": {k: v[:BATCH] for k, v in elements["bounding_boxes"].items()},
    }
    host = keras_mixup.MixupTransform(
        methods=[MOSAIC], num_classes=CLASSES, bounding_box_format="xyxy", seed=0
    )
    candidates["host: keras_mixup Mosaic (NumPy batch)"] = lambda: host(host_batch)
    kornia_run = kornia_mosaic(elements)
    if kornia_run is not None:
        candidates["host: kornia RandomMosaic (torch CPU, float32 NCHW)"] = kornia_run
    timings = interleaved_medians(candidates, rounds, seconds, before_round=before, base=BASE)
    ours = "tf.data: keras_mixup Mosaic (XLA)"
    rows, results = [], []
    for name, t in timings.items():
        ratio = t["ratio_to_base"]
        against = within_round_ratio(timings, name, ours)
        rows.append([
            name, f"{1e3 * t['median_s']:.1f}", f"{100 * (ratio['median'] - 1):+.1f} %",
            f"{100 * (ratio['min'] - 1):+.0f} to {100 * (ratio['max'] - 1):+.0f} %",
            f"{against:.2f}x",
        ])  # fmt: skip
        results.append({
            "implementation": name, "seconds_per_batch": t,
            "time_vs_floor_percent": 100 * (ratio["median"] - 1),
            "time_vs_keras_mixup_mosaic": against,
        })  # fmt: skip
    print_table(
        f"Mosaic, {SIZE}x{SIZE}x3 uint8, batch {BATCH}, {BOXES} boxes per image",
        ["implementation", "ms / batch", "time vs the floor (median of round ratios)",
         "min to max over rounds", "time vs keras_mixup Mosaic"],
        rows,
    )  # fmt: skip
    return {"rounds": rounds, "seconds_per_round": seconds, "results": results}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    payload = {"environment": environment(), **run(args.quick)}
    write_json(args.output / "mosaic.json", payload)
    return payload


if __name__ == "__main__":
    main()

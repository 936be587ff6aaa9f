"""
Title: mixup, CutMix and Mosaic for detection, with bounding boxes
Description: Mix a synthetic shapes set in Keras's element dict: mixup carries every
image's boxes, CutMix clips them to what is visible, Mosaic moves them into their tiles;
check every box against its pixels.
Install: pip install ".[examples]"
"""

"""
## Introduction

Detectors train with mixup (YOLOX, Bag of Freebies for detection) and CutMix too. A mixed
image must carry the right boxes: under mixup every source image is visible, so the boxes
of every source are kept, aligned with their class labels, each with the weight of its
image (Bag of Freebies weights each box's loss by it); under CutMix the pasted region shows
the partner, so the partner's boxes are clipped to the region and the example's own boxes
lose what it covers, and boxes left with less than `min_box_visibility` of their area are
dropped. Mosaic (YOLOv4) tiles four images around a random centre: each image's boxes are
moved into its tile and clipped to it; detection recipes choose between Mosaic and mixup
image by image. keras_mixup takes Keras's element dict, `{"images", "labels", "bounding_boxes":
{"boxes", "labels"}}` padded with -1, in tf.data, Grain or NumPy, with fixed output shapes.

The shapes here are filled rectangles on a black background, class c drawn on color
channel c, so that every box can be checked against the pixels it claims.

## Setup
"""

import json
import os
from pathlib import Path

from _support.tensorflow_log import filter_start_up_noise

# TensorFlow's C++ log: errors only. Its start-up lines about a missing GPU driver (one of them
# an "error") show whatever the level: filter_start_up_noise drops them (examples/_support).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
filter_start_up_noise()

import numpy as np
import tensorflow as tf

import keras_mixup

SMOKE_TEST = os.environ.get("KERAS_MIXUP_SMOKE_TEST") == "1"  # the test suite's short run
IMAGES, SIZE, MAX_BOXES, CLASSES = (64 if SMOKE_TEST else 512), 48, 3, 3
CLASS_NAMES = ["red", "green", "blue"]
OUTPUT = Path("runs/tutorial_detection")
rng = np.random.default_rng(0)

"""
## A synthetic shapes set with boxes

One to three rectangles per image, boxes in "xyxy" pixels, padded to three with label -1
as Keras pads them.
"""

images = np.zeros((IMAGES, SIZE, SIZE, 3), "float32")
boxes = np.full((IMAGES, MAX_BOXES, 4), -1.0, "float32")
box_labels = np.full((IMAGES, MAX_BOXES), -1, "int32")
for i in range(IMAGES):
    for k in range(rng.integers(1, MAX_BOXES + 1)):
        width, height = rng.integers(8, 24, size=2)
        x1, y1 = rng.integers(0, SIZE - width), rng.integers(0, SIZE - height)
        label = rng.integers(0, CLASSES)
        images[i, y1 : y1 + height, x1 : x1 + width, label] = 1.0
        boxes[i, k], box_labels[i, k] = (x1, y1, x1 + width, y1 + height), label
element_set = {
    "images": images,
    "labels": np.eye(CLASSES, dtype="float32")[box_labels[:, 0]],  # an image-level label too
    "bounding_boxes": {"boxes": boxes, "labels": box_labels},
}

"""
## mixup, CutMix and Mosaic in a tf.data pipeline

`bounding_box_format` says how to read the boxes, as for Keras's own layers. The third
recipe chooses Mosaic or mixup for each image, half and half (the methods listed are
equally likely unless `method_probs` says otherwise).
"""

recipes = {
    "mixup": keras_mixup.MixupTransform(alpha=1.0, bounding_box_format="xyxy", seed=0),
    "CutMix": keras_mixup.MixupTransform(
        alpha=0.0, cutmix_alpha=1.0, bounding_box_format="xyxy", seed=0
    ),
    "Mosaic + mixup": keras_mixup.MixupTransform(
        methods=[keras_mixup.methods.Mixup(1.0), keras_mixup.methods.Mosaic(1.0)],
        per_example=True,
        bounding_box_format="xyxy",
        seed=0,
    ),  # fmt: skip
}
batches = {}
for name, transform in recipes.items():
    dataset = tf.data.Dataset.from_tensor_slices(element_set).batch(16).map(transform)
    batches[name] = [tf.nest.map_structure(lambda t: t.numpy(), b) for b in dataset]
for name, mixed in batches.items():
    out = mixed[0]["bounding_boxes"]
    print(f"{name}: boxes in {boxes.shape[1:]} -> out {out['boxes'].shape[1:]}, "
          f"+ mix_weights {out['mix_weights'].shape[1:]}")  # fmt: skip

"""
## Does every box sit on its object?

Inside a kept box of class c from a source image of weight w, the mixed image must reach
at least w on channel c (its object's pixels, blended with weight w under mixup, pasted at
full strength under CutMix and Mosaic). Shuffling the box labels breaks it: the check has power.
"""


def boxes_on_their_objects(batch, labels_of=lambda labels: labels):
    hits, total = 0, 0
    for image, corners, labels, weights in zip(
        batch["images"], batch["bounding_boxes"]["boxes"],
        labels_of(batch["bounding_boxes"]["labels"]), batch["bounding_boxes"]["mix_weights"],
        strict=True,
    ):  # fmt: skip
        for (x1, y1, x2, y2), label, weight in zip(corners, labels, weights, strict=True):
            if label < 0:
                continue
            region = image[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2)), label]
            hits += region.size > 0 and region.max() >= 0.99 * weight
            total += 1
    return 100.0 * hits / total, total


summary = {}
for name, mixed in batches.items():
    on_object = [boxes_on_their_objects(b) for b in mixed]
    shuffled = [
        boxes_on_their_objects(
            b, lambda labels: (labels + 1) % CLASSES * (labels >= 0) - (labels < 0)
        )
        for b in mixed
    ]
    kept = sum(n for _, n in on_object)
    summary[name] = {
        "boxes_kept": kept,
        "boxes_on_their_objects_percent": sum(p * n for p, n in on_object) / kept,
        "with_wrong_labels_percent": sum(p * n for p, n in shuffled) / kept,
    }
    print(f"{name}: {kept} boxes kept, {summary[name]['boxes_on_their_objects_percent']:.1f} % on "
          f"their objects ({summary[name]['with_wrong_labels_percent']:.1f} % with shifted labels)")  # fmt: skip

"""
## The gallery

`plot_batch` draws the first images of each batch with their image-level target weights
and their boxes (label and source weight beside each).
"""

OUTPUT.mkdir(parents=True, exist_ok=True)
for name, mixed in batches.items():
    stem = name.lower().replace(" + ", "_")
    keras_mixup.plot_batch(
        mixed[0], class_names=CLASS_NAMES, bounding_box_format="xyxy", max_images=8,
        title=f"{name}: every source image's boxes", path=OUTPUT / f"{stem}.png",
    )  # fmt: skip
(OUTPUT / "results.json").write_text(json.dumps(summary, indent=2))
print(f"wrote {OUTPUT}/mixup.png, cutmix.png, mosaic_mixup.png and results.json")

"""Images and elements whose values say where each pixel came from, for the tests of the
methods that paste pixels and of the element dict."""

import keras
import numpy as np


def coded_images(batch: int, height: int, width: int):
    """float32 `[batch, height, width, 1]`: pixel (b, h, w) holds b * 10_000 + h * 100 + w,
    so every mixed pixel's value names its source, row and column."""
    b, h, w = np.meshgrid(np.arange(batch), np.arange(height), np.arange(width), indexing="ij")
    return (b * 10_000 + h * 100 + w).astype("float32")[..., None]


def source_of(mixed):
    """The source example of each pixel of images mixed from `coded_images` (whole pixels)."""
    return np.asarray(mixed)[..., 0] // 10_000


def dict_element(
    batch=4, height=8, width=10, *, with_boxes=True, with_masks=False, boxes_per_image=2, rng=None
):
    """Keras's element dict: uint8 images, one-hot labels of 3 classes, boxes in "xyxy"
    (two per image, image 1 with one and padding), integer segmentation masks."""
    rng = rng or np.random.default_rng(0)
    element = {
        "images": rng.integers(0, 255, (batch, height, width, 3)).astype("uint8"),
        "labels": np.eye(3, dtype="float32")[np.arange(batch) % 3],
    }
    if with_boxes:
        boxes = np.tile(
            np.array([[1, 1, 4, 3], [5, 4, 9, 7]], "float32")[:boxes_per_image], (batch, 1, 1)
        )  # xyxy
        labels = np.tile(np.arange(boxes_per_image, dtype="int32"), (batch, 1))
        labels[1, 1:] = -1  # image 1 has one box, the rest is padding
        boxes[labels == -1] = -1
        element["bounding_boxes"] = {"boxes": boxes, "labels": labels}
    if with_masks:
        element["segmentation_masks"] = rng.integers(0, 4, (batch, height, width, 1)).astype(
            "int32"
        )
    return element


def shapes(structure):
    """Each tensor of a nest as (shape, dtype)."""
    return keras.tree.map_structure(
        lambda t: (tuple(np.shape(t)), str(np.asarray(t).dtype)), structure
    )

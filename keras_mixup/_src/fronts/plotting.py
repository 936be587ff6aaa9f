"""plot_batch: a grid of mixed images with their top target weights, boxes and masks."""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras
import numpy as np

from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core import boxes as box_rules
from keras_mixup._src.core.elements import parse_element
from keras_mixup._src.core.validation import user_error, validate_data_format


def _numpy(x):
    return None if x is None else np.asarray(keras.ops.convert_to_numpy(x))


def _displayable(images: np.ndarray, channels_first: bool) -> np.ndarray:
    images = images.astype(np.float32)
    if channels_first:
        images = np.moveaxis(images, 1, -1)
    if images.ndim == 3:
        images = images[..., None]
    if images.max(initial=0.0) > 1.5:  # 0-255 values
        images = images / 255.0
    return np.clip(images, 0.0, 1.0)


def _caption(targets: np.ndarray, class_names, top_k: int) -> str:
    if targets.ndim != 1:
        return ""
    order = np.argsort(-targets)[:top_k]
    parts = []
    for index in order:
        if targets[index] <= 1e-3:
            continue
        name = class_names[index] if class_names is not None else str(index)
        parts.append(f"{targets[index]:.2f} {name}")
    return " + ".join(parts)


def plot_batch(
    element: tuple | dict,
    *,
    class_names: Sequence[str] | None = None,
    bounding_box_format: str | None = None,
    data_format: str | None = None,
    max_images: int = 16,
    columns: int = 4,
    top_k: int = 2,
    title: str | None = None,
    path: str | os.PathLike | None = None,
):
    """Draws a mixed batch: each image with its top target weights, and, where the
    element has them, its bounding boxes (outlined, the box label and its source's
    weight written beside it, padding skipped) and segmentation masks (the most
    likely class of each pixel, overlaid).

    Args:
        element: a batched element as the fronts return it: `(images, targets)`,
            `(images, targets, sample_weight)` or Keras's dict (`{"images", "labels",
            "bounding_boxes", "segmentation_masks"}`); NumPy arrays or tensors of any
            backend. Images `[B, H, W(, C)]` (or `[B, C, H, W]` channels first), uint8
            or float (values above 1.5 are read as 0-255).
        class_names: names of the target classes (default: their indices).
        bounding_box_format: the boxes' format (Keras's names); needed with boxes.
        data_format: "channels_last" or "channels_first"; None: Keras's setting.
        max_images: how many images to draw (the first ones).
        columns: images per row of the grid.
        top_k: how many of the largest target weights to write under each image.
        title: the figure's title.
        path: if given, the PNG file the figure is saved to.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ImportError: matplotlib is not installed (`pip install keras_mixup[plot]`).
        ValueError: boxes without `bounding_box_format`; an element `parse_element`
            rejects.

    Examples:
        >>> images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
        >>> mixed = MixupTransform(alpha=1.0, num_classes=3, seed=0)(images, np.arange(4) % 3)
        >>> figure = plot_batch(mixed, class_names=["cat", "dog", "bird"], columns=2)
        >>> len(figure.axes)
        4
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError as error:
        raise ImportError(
            "plot_batch draws with matplotlib: pip install matplotlib (or keras_mixup[plot])."
        ) from error
    args = element if isinstance(element, tuple) else (element,)
    parts, _ = parse_element(args, "plot_batch")
    channels_first = validate_data_format(data_format) == "channels_first"
    features = parts.features
    if not hasattr(features, "shape"):
        features = keras.tree.flatten(features)[0]  # the first feature of a nest
    images = _displayable(_numpy(features), channels_first)[:max_images]
    targets = _numpy(keras.tree.flatten(parts.labels)[0]) if parts.labels is not None else None
    masks = _numpy(parts.segmentation_masks)
    if masks is not None and masks.ndim == 3:  # [B, H, W]: ids without a channel axis
        masks = masks[..., None]
    corners = None
    if parts.bounding_boxes is not None:
        if bounding_box_format is None:
            raise user_error(
                ValueError, "plot_batch got boxes: pass their `bounding_box_format` (e.g. 'xyxy')."
            )
        box_rules.validate_format(bounding_box_format)
        height, width = images.shape[1:3]
        corners = box_rules.to_corners(
            _numpy(parts.bounding_boxes["boxes"]), bounding_box_format, height, width, ops=NUMPY
        )
        box_labels = _numpy(parts.bounding_boxes["labels"])
        box_weights = _numpy(parts.bounding_boxes.get("mix_weights"))
    count = len(images)
    rows = -(-count // columns)
    figure, axes = plt.subplots(
        rows,
        min(columns, count),
        figsize=(2.4 * min(columns, count), 2.8 * rows + 0.3),
        squeeze=False,
    )
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= count:
            figure.delaxes(ax)
            continue
        image = images[index]
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        if masks is not None:
            mask = masks[index]
            if channels_first:
                mask = np.moveaxis(mask, 0, -1)
            classes = mask.argmax(-1) if mask.shape[-1] > 1 else mask[..., 0]
            ax.imshow(classes, cmap="tab10", alpha=0.35, interpolation="nearest")
        if corners is not None:
            for k in range(box_labels.shape[1]):
                if box_labels[index, k] == box_rules.PADDING:
                    continue
                y1, x1, y2, x2 = (float(c[index, k]) for c in corners)
                ax.add_patch(
                    Rectangle(
                        (x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, lw=1.2, ec="yellow"
                    )
                )
                label = (
                    class_names[int(box_labels[index, k])]
                    if class_names
                    else str(box_labels[index, k])
                )
                weight = f" {box_weights[index, k]:.2f}" if box_weights is not None else ""
                ax.text(x1, y1 - 0.8, f"{label}{weight}", color="yellow", fontsize=6, va="bottom")
        if targets is not None:
            ax.set_title(_caption(targets[index], class_names, top_k), fontsize=7)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
        plt.close(figure)
    return figure

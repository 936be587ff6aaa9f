"""Data shared by the paper reproductions: scikit-learn's digits (the offline stand-in
for CIFAR in the quick profiles), Fashion-MNIST's real images in stratified subsets, and
ImageNet's preprocessing (Table 1 and Table 3)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

NUM_CLASSES = 10  # digits


def load_digits_split(seed: int, noise: float = 0.0):
    """scikit-learn's digits as float32 8x8x1 images in [0, 1], a stratified 1,297 / 500 split.

    `noise` of the training labels are replaced by a uniformly random class (fixed
    by `seed`; some keep their class by chance). Returns
    (x_train, y_train, y_train_clean, x_test, y_test).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=500, stratify=digits.target, random_state=seed
    )
    rng = np.random.default_rng(seed)
    corrupt = rng.random(len(y_train)) < noise
    y_noisy = np.where(corrupt, rng.integers(0, NUM_CLASSES, len(y_train)), y_train)
    return x_train, y_noisy, y_train, x_test, y_test


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of `size // classes` examples of each class, drawn by `seed`."""
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    return np.sort(
        np.concatenate(
            [rng.permutation(np.flatnonzero(labels == c))[: size // len(classes)] for c in classes]
        )
    )


def load_fashion_mnist_split(seed: int, *, train_size: int, held_out: int = 0, test_size=None):
    """Real Fashion-MNIST (`examples/_support/real_images.py`) as float32 [n, 28, 28, 1] in
    [0, 1]: stratified subsets of its training split, `train_size` images to train on and
    `held_out` others, and `test_size` of its test images (None: all), drawn by `seed`.

    Returns (x_train, y_train, x_held, y_held, x_test, y_test, source); `source` says where the
    images came from and whose split it is (the npm copy's is not the official one).
    """
    from examples._support.real_images import load

    x, y, x_test, y_test, source = load("fashion_mnist")
    chosen = stratified_subset(y, train_size + held_out, seed)
    chosen = np.random.default_rng(seed).permutation(chosen)
    train = np.sort(chosen[stratified_subset(y[chosen], train_size, seed)])
    held = np.setdiff1d(chosen, train)
    test = (
        np.arange(len(y_test)) if test_size is None else stratified_subset(y_test, test_size, seed)
    )

    def images(array, rows):
        return (array[rows] / np.float32(255.0)).astype("float32")[..., None]

    return (images(x, train), y[train], images(x, held), y[held],
            images(x_test, test), y_test[test], source)  # fmt: skip


def train_crop(image, size: int):
    """Random-size crop (8-100 % of the area, aspect ratio 3/4-4/3), resized, random flip."""
    begin, crop_size, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.zeros([1, 0, 4]),
        min_object_covered=0.0,
        aspect_ratio_range=(3 / 4, 4 / 3),
        area_range=(0.08, 1.0),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    image = tf.slice(image, begin, crop_size)
    image = tf.image.resize(image, [size, size])
    return tf.image.random_flip_left_right(image)


def center_crop(image, size: int = 224, resize_to: int = 256):
    """Shorter side resized to `resize_to` (size * 256 / 224 by default), center crop `size`."""
    shape = tf.shape(image)[:2]
    scale = resize_to / tf.cast(tf.reduce_min(shape), tf.float32)
    new_size = tf.cast(tf.round(tf.cast(shape, tf.float32) * scale), tf.int32)
    image = tf.image.resize(image, new_size)
    return tf.image.resize_with_crop_or_pad(image, size, size)


def imagenet_validation(data_dir, batch_size: int, limit: int | None, size: int = 224):
    """ImageNet validation images as [0, 255] float, center-cropped, with class ids."""
    import tensorflow_datasets as tfds

    dataset = tfds.load("imagenet2012", split="validation", data_dir=data_dir, as_supervised=True)
    if limit:
        dataset = dataset.take(limit)
    resize_to = round(size * 256 / 224)
    return (
        dataset.map(
            lambda image, label: (center_crop(image, size, resize_to), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .batch(batch_size)
        .prefetch(2)
    )

"""Data shared by the paper reproductions: scikit-learn's digits (the offline stand-in
for CIFAR in the quick profiles) and ImageNet's preprocessing (Table 1 and Table 3)."""

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

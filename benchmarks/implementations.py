"""The mixup implementations compared, as tf.data map functions on batched (x, class_id) elements.

Every function returns float32 images and float32 one-hot (mixed) labels, so the
candidates do the same job; "no mixup" does only the conversions, which is the
floor any mixup must pay in a pipeline that feeds float32 to a model.
"""

from __future__ import annotations

import keras
import tensorflow as tf

import keras_mixup
from benchmarks import common
from keras_mixup import methods

ALPHA = 0.2


def no_mixup(num_classes: int):
    def convert(x, y):
        return tf.cast(x, tf.float32), tf.one_hot(y, num_classes)

    return convert


def keras_layer(layer, num_classes: int):
    """A Keras preprocessing layer (MixUp, CutMix), fed the {"images", "labels"} dict it expects."""
    convert = no_mixup(num_classes)

    def mix(x, y):
        x, y = convert(x, y)
        out = layer({"images": x, "labels": y})
        return out["images"], out["labels"]

    return mix


def naive_gather_blend(num_classes: int):
    """What one writes by hand: gamma-based Beta, tf.random.shuffle, gather, blend (no XLA)."""
    convert = no_mixup(num_classes)

    def mix(x, y):
        x, y = convert(x, y)
        g1 = tf.random.gamma([], ALPHA)
        g2 = tf.random.gamma([], ALPHA)
        lam = g1 / (g1 + g2)
        perm = tf.random.shuffle(tf.range(tf.shape(x)[0]))
        return lam * x + (1 - lam) * tf.gather(x, perm), lam * y + (1 - lam) * tf.gather(y, perm)

    return mix


def naive_gather_paste(num_classes: int):
    """What one writes by hand for CutMix: gamma-based Beta, tf.random.shuffle, a box
    of area (1 - lam) at a uniform centre, gather and paste (no XLA)."""
    convert = no_mixup(num_classes)

    def mix(x, y):
        x, y = convert(x, y)
        shape = tf.shape(x)
        height, width = shape[1], shape[2]
        g1, g2 = tf.random.gamma([], 1.0), tf.random.gamma([], 1.0)
        side = tf.sqrt(1.0 - g1 / (g1 + g2))
        box_h = tf.cast(side * tf.cast(height, tf.float32), tf.int32)
        box_w = tf.cast(side * tf.cast(width, tf.float32), tf.int32)
        cy = tf.random.uniform([], 0, height, tf.int32)
        cx = tf.random.uniform([], 0, width, tf.int32)
        top, bottom = tf.maximum(cy - box_h // 2, 0), tf.minimum(cy + box_h // 2, height)
        left, right = tf.maximum(cx - box_w // 2, 0), tf.minimum(cx + box_w // 2, width)
        rows, cols = tf.range(height), tf.range(width)
        inside = ((rows >= top) & (rows < bottom))[:, None] & ((cols >= left) & (cols < right))
        perm = tf.random.shuffle(tf.range(shape[0]))
        mixed = tf.where(inside[None, :, :, None], tf.gather(x, perm), x)
        kept = 1.0 - tf.cast((bottom - top) * (right - left), tf.float32) / tf.cast(
            height * width, tf.float32
        )
        return mixed, kept * y + (1.0 - kept) * tf.gather(y, perm)

    return mix


def published_fmix(num_classes: int):
    """The published FMix (the authors' `fmix.py`, ecs-vlc/FMix, as OpenMixup copies it),
    ported line for line to NumPy, spectrum indexing included: one mask per batch drawn on
    the host (`tf.numpy_function`), then the blend and the lambda-weighted labels."""
    import math
    import random

    import numpy as np

    def sample_mask(height: int, width: int):
        lam = np.random.beta(1.0, 1.0)
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.fftfreq(width)[: width // 2 + (2 if width % 2 else 1)]
        freqs = np.sqrt(fx * fx + fy * fy)
        scale = np.ones(1) / np.maximum(freqs, np.array([1.0 / max(width, height)])) ** 3
        param = np.random.randn(1, *freqs.shape, 2)
        spectrum = np.expand_dims(scale, -1)[None, :] * param
        spectrum = spectrum[:, 0] + 1j * spectrum[:, 1]
        mask = np.real(np.fft.irfftn(spectrum, (height, width)))[:1, :height, :width]
        mask = (mask - mask.min()) / (mask - mask.min()).max()
        idx = mask.reshape(-1).argsort()[::-1]
        mask = mask.reshape(-1)
        num = math.ceil(lam * mask.size) if random.random() > 0.5 else math.floor(lam * mask.size)
        mask[idx[:num]] = 1
        mask[idx[num:]] = 0
        return np.float32(lam), mask.reshape(height, width, 1).astype(np.float32)

    convert = no_mixup(num_classes)

    def mix(x, y):
        x, y = convert(x, y)
        lam, mask = tf.numpy_function(
            sample_mask, [tf.shape(x)[1], tf.shape(x)[2]], [tf.float32, tf.float32]
        )
        perm = tf.random.shuffle(tf.range(tf.shape(x)[0]))
        mixed = mask * x + (1.0 - mask) * tf.gather(x, perm)
        return mixed, lam * y + (1.0 - lam) * tf.gather(y, perm)

    return mix


def keras_cv_fourier_mix(num_classes: int):
    """keras-cv's `FourierMix` (keras-cv 0.9.0, archived), where it imports beside Keras 3
    (`pip install --no-deps keras-cv==0.9.0 regex kagglehub`: it declares keras-core);
    None where it does not."""
    try:
        import keras_cv
    except ImportError:
        return None
    layer = keras_cv.layers.FourierMix(alpha=1.0, seed=0)
    return keras_layer(layer, num_classes)


def family_candidates(num_classes: int) -> dict:
    """CutMix, k-way and the other mask methods' rows (uint8 pipelines), as map functions,
    by name; keras-cv's FourierMix where it is installed."""

    def transform(**kwargs):
        return keras_mixup.MixupTransform(num_classes=num_classes, seed=0, **kwargs)

    found = {
        "keras.layers.CutMix": keras_layer(keras.layers.CutMix(factor=1.0, seed=0), num_classes),
        "naive gather + paste (CutMix)": naive_gather_paste(num_classes),
        "keras_mixup CutMix (XLA)": transform(alpha=0.0, cutmix_alpha=1.0),
        "keras_mixup mixup 0.8 / CutMix 1.0, switch 0.5 (XLA)": transform(
            alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5
        ),
        "keras_mixup k=3 (XLA)": transform(alpha=ALPHA, num_mixed=3),
        "keras_mixup k=4 (XLA)": transform(alpha=ALPHA, num_mixed=4),
        "keras_mixup GridMix (XLA)": transform(methods=[methods.GridMix(1.0)]),
        "keras_mixup FMix (XLA)": transform(methods=[methods.FMix(1.0)]),
        "keras_mixup SmoothMix (XLA)": transform(methods=[methods.SmoothMix(1.0)]),
        "keras_mixup ResizeMix (XLA)": transform(methods=[methods.ResizeMix(1.0)]),
        "keras_mixup Mosaic (XLA)": transform(methods=[methods.Mosaic(1.0)]),
        "keras_mixup SaliencyMix (XLA)": transform(methods=[methods.SaliencyMix(1.0)]),
        "published FMix (NumPy port, host mask)": published_fmix(num_classes),
    }
    fourier_mix = keras_cv_fourier_mix(num_classes)
    if fourier_mix is not None:
        found["keras-cv FourierMix"] = fourier_mix
    for baseline in common.BASELINES:  # the same CutMix rows as of earlier commits
        found[f"keras_mixup@{baseline.commit} CutMix (XLA)"] = baseline.MixupTransform(
            alpha=0.0, cutmix_alpha=1.0, num_classes=num_classes, seed=0
        )
        try:  # and ResizeMix's, where the commit has it
            found[f"keras_mixup@{baseline.commit} ResizeMix (XLA)"] = baseline.MixupTransform(
                alpha=0.0, resizemix_alpha=1.0, num_classes=num_classes, seed=0
            )
        except TypeError:
            pass
    return found


def layout_candidates(num_classes: int) -> dict:
    """keras_mixup on Keras's element dict (issue 23): the same mixing as the tuple row, on
    `{"images", "labels"}`, and with 100 boxes per image (`[B, 100, 4]`, "xyxy")."""
    plain = keras_mixup.MixupTransform(alpha=ALPHA, num_classes=num_classes, seed=0)
    with_boxes = keras_mixup.MixupTransform(
        alpha=ALPHA, num_classes=num_classes, seed=0, bounding_box_format="xyxy"
    )

    def as_dict(x, y):
        return {"images": x, "labels": y}

    def with_100_boxes(x, y):
        batch = tf.shape(x)[0]
        corners = (
            tf.constant([[2.0, 2.0, 20.0, 20.0]])
            + tf.cast(tf.range(100), tf.float32)[:, None] * 0.1
        )
        boxes = {
            "boxes": tf.broadcast_to(corners, [batch, 100, 4]),
            "labels": tf.zeros([batch, 100], tf.int32),
        }
        return {"images": x, "labels": y, "bounding_boxes": boxes}

    return {
        "keras_mixup (XLA), Keras dict": lambda x, y: plain(as_dict(x, y)),
        "keras_mixup (XLA), Keras dict + 100 boxes": lambda x, y: with_boxes(with_100_boxes(x, y)),
    }


def keras_mixup_transform(num_classes: int, jit_compile: bool, package=keras_mixup):
    return package.MixupTransform(
        alpha=ALPHA, num_classes=num_classes, seed=0, jit_compile=jit_compile
    )


def candidates(num_classes: int) -> dict:
    """Map functions on a batched (x, y) element, by name."""
    found = {
        "no mixup (cast + one-hot)": no_mixup(num_classes),
        "keras.layers.MixUp": keras_layer(keras.layers.MixUp(alpha=ALPHA, seed=0), num_classes),
        "naive gather + blend": naive_gather_blend(num_classes),
        "keras_mixup (graph)": keras_mixup_transform(num_classes, jit_compile=False),
        "keras_mixup (XLA)": keras_mixup_transform(num_classes, jit_compile=True),
    }
    for baseline in common.BASELINES:
        found[f"keras_mixup@{baseline.commit} (XLA)"] = keras_mixup_transform(
            num_classes, jit_compile=True, package=baseline
        )
    return found


def floor_stages(num_classes: int) -> dict:
    """tf.data's own floor under keras_mixup's two forms (issue 32): the conversion alone,
    made as keras_mixup's forms make a batch's call. The `map` form is one map call per
    batch, as the "no mixup" row; these add what else they pay: the `apply` form's zip of
    each batch with `Dataset.random` (its per-batch seed), and one XLA launch per batch."""
    convert = no_mixup(num_classes)
    compiled = tf.function(convert, jit_compile=True)

    def zipped(dataset):
        seeds = tf.data.Dataset.random(seed=0, rerandomize_each_iteration=True)
        return tf.data.Dataset.zip(dataset, seeds).map(
            lambda element, seed: convert(*element),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    return {
        "floor: the apply form's zip with Dataset.random (cast + one-hot)": zipped,
        "floor: one XLA launch per batch (cast + one-hot, jit_compile)": lambda dataset: (
            dataset.map(lambda x, y: compiled(x, y), num_parallel_calls=tf.data.AUTOTUNE)
        ),
    }


def pipeline_candidates(num_classes: int, family: bool = False) -> dict:
    """Dataset -> dataset functions, by name: the map functions above applied with
    `map(f, AUTOTUNE)`, plus keras_mixup's deterministic `apply` form (and, with
    `family`, the CutMix and k-way rows)."""

    def mapped(fn):
        return lambda dataset: dataset.map(fn, num_parallel_calls=tf.data.AUTOTUNE)

    found = candidates(num_classes)
    if family:
        found |= family_candidates(num_classes) | layout_candidates(num_classes)
    stages = {name: mapped(fn) for name, fn in found.items()}
    stages |= floor_stages(num_classes)
    stages["keras_mixup (XLA, apply form)"] = keras_mixup_transform(num_classes, jit_compile=True)
    for baseline in common.BASELINES:
        stages[f"keras_mixup@{baseline.commit} (XLA, apply form)"] = keras_mixup_transform(
            num_classes, jit_compile=True, package=baseline
        )
    return stages

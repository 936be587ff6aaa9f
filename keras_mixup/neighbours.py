"""Mixing with nearest neighbours: the "KNN" rows of the paper's Table 5.

The paper's ablation (Section 3.8): "we first compute the 200 nearest neighbors
for each training sample, either from the same class (SC) or from all the
classes (AC). Then during training, for each sample in a minibatch, we replace
the sample with a synthetic sample by convex combination with a random draw
from its nearest neighbors." Partners therefore come from the whole training
set, not from the minibatch, which is why this is a data-set-level pipeline
(`NeighbourMixup`) rather than an option of `MixupTransform`.

- `nearest_neighbours` computes the exact k-nearest-neighbour table (Euclidean
  distance on the flattened features, an example is not its own neighbour),
  optionally within each class.
- `NeighbourMixup(...).dataset(batch_size)` yields mixed batches: lambda from
  `sample_mix_params`, the neighbour from `sample_neighbour_choice`, the blend
  from `mix_batch` with explicit partners: the same drawing and mixing code as
  `MixupTransform`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_mixup.mixing import mix_batch
from keras_mixup.ops import TENSORFLOW
from keras_mixup.sampling import sample_mix_params, sample_neighbour_choice
from keras_mixup.structures import Batch
from keras_mixup.validation import (
    floating_dtype,
    validate_alpha,
    validate_class_ids_have_num_classes,
    validate_neighbour_count,
    validate_neighbour_table,
    validate_num_classes,
    validate_same_length,
    validate_seed,
    validate_target_mode,
)


def nearest_neighbours(
    features, k: int = 200, labels=None, *, chunk_size: int = 1024, verbose: int = 1
) -> np.ndarray:
    """Exact k nearest neighbours of every example, by Euclidean distance.

    Args:
        features: array `[n, ...]` (flattened to `[n, d]` and compared in float32).
        k: neighbours per example (the paper uses 200).
        labels: optional class ids `[n]`: if given, neighbours are searched within
            each example's class only ("SC"); otherwise among all examples ("AC").
        chunk_size: query rows per distance computation (memory: chunk_size x n).
        verbose: 1 shows a progress bar.

    Returns:
        int32 array `[n, k]`: row i lists the indices of i's neighbours, nearest
        first. An example is never its own neighbour.

    Raises:
        ValueError: `k` < 1, or larger than the number of candidates (n - 1, or the
            smallest class size - 1 with `labels`).

    Examples:
        >>> x = np.array([[0.0], [1.0], [3.0], [10.0]])
        >>> nearest_neighbours(x, k=2, verbose=0).tolist()
        [[1, 2], [0, 2], [1, 0], [2, 1]]
    """
    import keras

    flat = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    n = len(flat)
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        validate_same_length("example", features=flat, labels=labels)
        candidates = int(np.bincount(labels).min(initial=n)) - 1
        where = "the smallest class minus the example itself"
    else:
        candidates = n - 1
        where = "the number of other examples"
    validate_neighbour_count(k, candidates, where)
    data = tf.constant(flat)
    squared_norms = tf.reduce_sum(tf.square(data), axis=1)
    label_tensor = None if labels is None else tf.constant(labels)

    @tf.function
    def chunk_neighbours(start, stop):
        queries = data[start:stop]
        distances = (
            squared_norms[start:stop, None]
            - 2.0 * tf.matmul(queries, data, transpose_b=True)
            + squared_norms[None, :]
        )
        rows = tf.range(start, stop)
        excluded = tf.equal(rows[:, None], tf.range(n)[None, :])
        if label_tensor is not None:
            excluded |= tf.not_equal(label_tensor[start:stop, None], label_tensor[None, :])
        distances = tf.where(excluded, tf.constant(np.inf, tf.float32), distances)
        return tf.math.top_k(-distances, k=k, sorted=True).indices

    progress = keras.utils.Progbar(n, unit_name="example") if verbose else None
    table = np.empty((n, k), np.int32)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        table[start:stop] = chunk_neighbours(tf.constant(start), tf.constant(stop)).numpy()
        if progress is not None:
            progress.update(stop)
    return table


class NeighbourMixup:
    """Mixup whose partners are random draws from each example's nearest neighbours.

    Every example of a batch is mixed with one of its `k` neighbours (drawn
    uniformly, independently per example) from the whole training set:
    `x~ = lam * x_i + (1 - lam) * x_j`, and the targets are mixed (`targets="mixed"`,
    "mix labels" rows) or the dominant sample's (`targets="dominant"`, the "mix
    inputs only" rows of Table 5). lambda is drawn per batch (or per example) by
    `sample_mix_params`, exactly as in `MixupTransform`.

    Args:
        features: array `[n, ...]` (uint8 images or floats), kept in memory.
        labels: class ids `[n]`, or one-hot / soft targets `[n, c]`.
        neighbours: int array `[n, k]`, e.g. from `nearest_neighbours`.
        alpha: Beta(alpha, alpha) concentration, >= 0.
        num_classes: required for integer labels.
        targets: "mixed" or "dominant".
        per_example: one lambda per example instead of one per batch.
        seed: int for reproducible runs, or None.
        dtype: output dtype of integer features (default: the Keras compute dtype).
        augment: optional function `features_batch -> features_batch` (e.g. random
            crops and flips), applied to the gathered examples and, separately, to
            their partners before mixing, as a per-example augmentation would be.

    Examples:
        >>> x = np.arange(6, dtype="float32").reshape(6, 1)
        >>> table = nearest_neighbours(x, k=1, verbose=0)
        >>> mixup = NeighbourMixup(x, np.arange(6) % 2, table, alpha=1.0, num_classes=2, seed=0)
        >>> xb, yb = next(iter(mixup.dataset(batch_size=6, shuffle=False)))
        >>> xb.shape, yb.shape
        (TensorShape([6, 1]), TensorShape([6, 2]))
    """

    def __init__(
        self,
        features,
        labels,
        neighbours,
        alpha: float = 1.0,
        *,
        num_classes: int | None = None,
        targets: str = "mixed",
        per_example: bool = False,
        seed: int | None = None,
        dtype=None,
        augment=None,
    ):
        self.augment = augment
        self.alpha = validate_alpha(alpha)
        self.num_classes = validate_num_classes(num_classes)
        self.targets = validate_target_mode(targets)
        self.per_example = bool(per_example)
        self.seed = validate_seed(seed)
        self.dtype = floating_dtype(dtype)
        features, labels = np.asarray(features), np.asarray(labels)
        neighbours = np.asarray(neighbours)
        validate_same_length("example", features=features, labels=labels, neighbours=neighbours)
        validate_neighbour_table(neighbours, len(features))
        validate_class_ids_have_num_classes(labels, self.num_classes, "NeighbourMixup")
        self.size = len(features)
        # Variables, so that the arrays are not copied into every traced function.
        self._features = tf.Variable(features, trainable=False, name="neighbour_mixup_features")
        self._labels = tf.Variable(labels, trainable=False, name="neighbour_mixup_labels")
        self._neighbours = tf.Variable(
            neighbours.astype(np.int32), trainable=False, name="neighbour_mixup_table"
        )

    @tf.autograph.experimental.do_not_convert
    def mix(self, indices, seed) -> tuple[tf.Tensor, tf.Tensor]:
        """The mixed batch for the examples `indices` (int `[B]`) and a stateless `seed` `[2]`."""
        indices = tf.cast(indices, tf.int32)
        size = tf.shape(indices)[0]
        augment = self.augment or (lambda features: features)
        anchors = Batch(
            augment(tf.gather(self._features, indices)), tf.gather(self._labels, indices)
        )
        if self.alpha == 0:
            params = None
            partners = None
        else:
            choice = sample_neighbour_choice(seed, size, tf.shape(self._neighbours)[1], TENSORFLOW)
            partner_indices = tf.gather_nd(self._neighbours, tf.stack([indices, choice], axis=1))
            partners = Batch(
                augment(tf.gather(self._features, partner_indices)),
                tf.gather(self._labels, partner_indices),
            )
            params = sample_mix_params(seed, size, self.alpha, self.per_example, ops=TENSORFLOW)
        mixed = mix_batch(
            anchors,
            params,
            num_classes=self.num_classes,
            feature_dtype=self.dtype,
            targets=self.targets,
            partners=partners,
            ops=TENSORFLOW,
        )
        return mixed.features, mixed.labels

    def dataset(
        self, batch_size: int, *, shuffle: bool = True, drop_remainder: bool = False
    ) -> tf.data.Dataset:
        """Mixed `(features, labels)` batches over one pass of the data per epoch.

        Shuffled afresh every epoch (if `shuffle`); every batch gets its own
        stateless seed from `tf.data.Dataset.random(seed)`, so the output is
        reproducible for a fixed `seed`.
        """
        indices = tf.data.Dataset.range(self.size)
        if shuffle:
            indices = indices.shuffle(self.size, seed=self.seed, reshuffle_each_iteration=True)
        indices = indices.batch(batch_size, drop_remainder=drop_remainder)
        seeds = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).batch(
            2, drop_remainder=True
        )
        return tf.data.Dataset.zip(indices, seeds).map(
            self.mix, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )

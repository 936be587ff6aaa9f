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
  optionally within each class, with `keras.ops` on the Keras backend.
- `NeighbourMixup(...).dataset(batch_size)` yields mixed tf.data batches: lambda
  drawn by the same `MixSpec` as `MixupTransform`, the neighbour from the
  sampler's neighbour stream, the blend by the same `apply` with explicit
  partners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.labels import check_label
from keras_mixup._src.core.sampling import sample_neighbour_choice
from keras_mixup._src.core.spec import MixSpec
from keras_mixup._src.core.structures import Parts
from keras_mixup._src.core.validation import (
    floating_dtype,
    validate_neighbour_count,
    validate_neighbour_table,
    validate_same_length,
    validate_seed,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def nearest_neighbours(
    features: ArrayLike,
    k: int = 200,
    labels: ArrayLike | None = None,
    *,
    chunk_size: int = 1024,
    verbose: int = 1,
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
    data = keras.ops.convert_to_tensor(flat)
    squared_norms = keras.ops.sum(keras.ops.square(data), axis=1)
    label_tensor = None if labels is None else keras.ops.convert_to_tensor(labels)
    progress = keras.utils.Progbar(n, unit_name="example") if verbose else None
    table = np.empty((n, k), np.int32)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        queries = data[start:stop]
        distances = (
            squared_norms[start:stop, None]
            - 2.0 * keras.ops.matmul(queries, keras.ops.transpose(data))
            + squared_norms[None, :]
        )
        rows = keras.ops.arange(start, stop)
        excluded = rows[:, None] == keras.ops.arange(n)[None, :]
        if label_tensor is not None:
            excluded = keras.ops.logical_or(
                excluded, label_tensor[start:stop, None] != label_tensor[None, :]
            )
        distances = keras.ops.where(excluded, np.float32(np.inf), distances)
        _, indices = keras.ops.top_k(-distances, k=k, sorted=True)
        table[start:stop] = keras.ops.convert_to_numpy(indices)
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
    the same `MixSpec` as `MixupTransform`'s. The batches come from a tf.data
    pipeline (TensorFlow is imported on first use).

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
            crops and flips, TensorFlow ops), applied to the gathered examples and,
            separately, to their partners before mixing, as a per-example
            augmentation would be.

    Raises:
        ValueError: invalid options (as `MixupTransform`), arrays of different
            lengths, a neighbour table that is not `[n, k]` example indices,
            integer labels without `num_classes`.

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
        features: ArrayLike,
        labels: ArrayLike,
        neighbours: ArrayLike,
        alpha: float = 1.0,
        *,
        num_classes: int | None = None,
        targets: str = "mixed",
        per_example: bool = False,
        seed: int | None = None,
        dtype: str | None = None,
        augment: Callable[[Any], Any] | None = None,  # TensorFlow tensors in and out
    ):
        self.spec = MixSpec(
            alpha=alpha, num_classes=num_classes, targets=targets, per_example=per_example
        )
        self.augment = augment
        self.seed = validate_seed(seed)
        self.dtype = floating_dtype(dtype)
        features, labels = np.asarray(features), np.asarray(labels)
        neighbours = np.asarray(neighbours)
        validate_same_length("example", features=features, labels=labels, neighbours=neighbours)
        validate_neighbour_table(neighbours, len(features))
        check_label(labels, self.spec.num_classes, name="labels", ops=NUMPY)  # the label rules
        self.size = len(features)
        self._arrays = (features, labels, neighbours.astype(np.int32))
        self._variables = None

    @property
    def alpha(self) -> float:
        return self.spec.alpha

    @property
    def num_classes(self):
        return self.spec.num_classes

    def _tensors(self):
        """The arrays as tf.Variables (made once), so that they are not copied into
        every traced function."""
        if self._variables is None:
            from keras_mixup._src.bindings.tf_ops import tf

            with tf.init_scope():
                self._variables = tuple(
                    tf.Variable(array, trainable=False, name=name)
                    for array, name in zip(
                        self._arrays, ("features", "labels", "neighbours"), strict=True
                    )
                )
        return self._variables

    def mix(self, indices, seed):
        """The mixed batch for the examples `indices` (int `[B]`) and a stateless `seed` `[2]`."""
        from keras_mixup._src.bindings.tf_ops import TENSORFLOW as ops

        features, labels, neighbours = self._tensors()
        indices = ops.cast(indices, "int32")
        augment = self.augment or (lambda batch: batch)
        anchors = Parts(augment(ops.take(features, indices)), ops.take(labels, indices))
        params = partners = None
        if self.spec.alpha > 0:
            size = ops.size(indices)
            choice = sample_neighbour_choice(seed, size, ops.size(neighbours, 1), ops=ops)
            flat = indices * ops.size(neighbours, 1) + choice
            partner_indices = ops.take(ops.reshape(neighbours, [-1]), flat)
            partners = Parts(
                augment(ops.take(features, partner_indices)), ops.take(labels, partner_indices)
            )
            params = self.spec.draw(
                seed, anchors, self.spec.runtime_values(), owner="NeighbourMixup", ops=ops
            )
        mixed = self.spec.apply(
            anchors, params, feature_dtype=self.dtype, partners=partners, ops=ops
        )
        return mixed.features, mixed.labels

    def dataset(self, batch_size: int, *, shuffle: bool = True, drop_remainder: bool = False):
        """Mixed `(features, labels)` tf.data batches over one pass of the data per epoch.

        Shuffled afresh every epoch (if `shuffle`); every batch gets its own
        stateless seed from `tf.data.Dataset.random(seed)`, so the output is
        reproducible for a fixed `seed`.
        """
        from keras_mixup._src.bindings.tf_ops import tf

        self._tensors()
        indices = tf.data.Dataset.range(self.size)
        if shuffle:
            indices = indices.shuffle(self.size, seed=self.seed, reshuffle_each_iteration=True)
        indices = indices.batch(batch_size, drop_remainder=drop_remainder)
        seeds = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).batch(
            2, drop_remainder=True
        )
        return tf.data.Dataset.zip(indices, seeds).map(
            tf.autograph.experimental.do_not_convert(self.mix),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

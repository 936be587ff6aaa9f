"""The two data structures the core passes around: a batch and its mixing parameters."""

from __future__ import annotations

from typing import Any, NamedTuple


class Batch(NamedTuple):
    """A supervised batch: `features` may be a tensor or any nest of tensors;
    `labels` a tensor or nest; `sample_weight` a tensor, nest or None."""

    features: Any
    labels: Any
    sample_weight: Any = None


class MixParams(NamedTuple):
    """The random parameters of one mixed batch, drawn by `keras_mixup.sampling`
    and applied by `keras_mixup.mixing`.

    Attributes:
        mix_weight: float32 tensor of shape `[batch_size]`: lambda for each example,
            the weight of the example itself. With one lambda per batch (the
            default) all entries are equal.
        permutation: int32 tensor of shape `[batch_size]`: example `i` is mixed with
            example `permutation[i]` of the same batch.
    """

    mix_weight: Any
    permutation: Any

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

    The two first fields describe plain mixup; the others are None unless k-way
    mixing or CutMix is in use.

    Attributes:
        mix_weight: float32 `[batch_size]`: the weight of each example itself in
            its target (lambda). With one lambda per batch (the default) all entries
            are equal. For an example mixed by CutMix it is the share of the image
            the example keeps, `1 - (box area) / (H * W)`.
        permutation: int32 `[batch_size]`: example `i` is mixed with example
            `permutation[i]` of the same batch (its first partner).
        more_weights: float32 `[k - 2, batch_size]` or None: with k-way mixing
            (`num_mixed=k > 2`), the weights of the partners after the first; the
            first partner's weight is `1 - mix_weight - sum(more_weights)`.
        more_permutations: int32 `[k - 2, batch_size]` or None: those partners.
        box: int32 `[batch_size, 4]` or None: with CutMix, the rectangle
            `(top, left, bottom, right)` (bottom and right exclusive, in pixels of
            the images' H x W) whose pixels come from the partner.
        cut: bool `[batch_size]` or None: with CutMix, whether the example is mixed
            by its box (True) or blended with weight `mix_weight` (False).
    """

    mix_weight: Any
    permutation: Any
    more_weights: Any = None
    more_permutations: Any = None
    box: Any = None
    cut: Any = None

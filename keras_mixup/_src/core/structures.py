"""The data structures the core passes around: an element's parts and the
parameters of one mixed batch."""

from __future__ import annotations

from typing import Any, NamedTuple


class Parts(NamedTuple):
    """The parts of a batched element that mixup treats differently (see
    `elements.parse_element`). Any part may be None.

    - `features`: a tensor or any nest of tensors (images, ...), blended.
    - `labels`: a tensor or nest of class ids / targets, turned into float
      targets and mixed with the same weights.
    - `sample_weight`: a tensor or nest, mixed like the labels.
    - `bounding_boxes`: `{"boxes": [B, N, 4], "labels": [B, N]}` (Keras's
      format), concatenated or clipped (`boxes.py`).
    - `segmentation_masks`: per-pixel labels `[B, H, W(, 1)]`, mixed like
      per-pixel targets.
    """

    features: Any
    labels: Any = None
    sample_weight: Any = None
    bounding_boxes: Any = None
    segmentation_masks: Any = None


class MixParams(NamedTuple):
    """The random parameters of one mixed batch, drawn by `sample_mix_params`
    and applied by `blend` (and the rest of the core).

    The first two fields describe plain mixup; the others are None unless k-way
    mixing or CutMix is in use, or the sampler filled them in.

    Attributes:
        mix_weight: float32 `[batch_size]`: the weight of each example itself in
            its target (lambda). With one lambda per batch (the default) all entries
            are equal. For an example mixed by CutMix it is the share of the image
            the example keeps, `1 - (box area) / (H * W)`.
        permutation: int32 `[batch_size]`: example `i` is mixed with example
            `permutation[i]` of the same batch (its first partner).
        more_weights: float32 `[k - 2, batch_size]` or None: with k-way mixing
            (`num_mixed=k > 2`), the weights of the partners after the first; with Mosaic
            traced (`k = 4` sources), the shares of its bottom tiles (0 in rows that other
            methods mix).
        more_permutations: int32 `[k - 2, batch_size]` or None: those partners.
        box: int32 `[batch_size, 4]` or None: with CutMix, the rectangle
            `(top, left, bottom, right)` (bottom and right exclusive, in pixels of
            the images' H x W) whose pixels come from the partner; with GridMix, the
            crop that holds its grid of holes.
        cut: bool `[batch_size]` or None: with CutMix, whether the example is mixed
            by its box (True) or blended with weight `mix_weight` (False).
        partner_weight: float32 `[batch_size]` or None: the first partner's weight.
            None means `1 - mix_weight - sum(more_weights)`. The sampler fills it
            in so that a weight near 0 keeps its precision whichever example it
            belongs to (`1 - lambda` for lambda within 6e-8 of 1 would round to 0
            in float32, while lambda near 0 does not).
        holes: int32 `[batch_size, 4]` or None: with GridMix, `(cell height, cell
            width, hole height, hole width)`: inside `box`, the pixel at `(y, x)`
            comes from the partner where `(y - top) % cell height < hole height` and
            `(x - left) % cell width < hole width` (a hole in the top-left corner of
            every cell). None, or a hole as large as its cell: the whole box (CutMix).
        mask: float32 `[batch_size, H, W]` or None: with a method whose per-pixel rule
            is a mask (FMix, SmoothMix), the partner's share of each pixel inside
            `box` (and its holes) for examples with `cut`: the mask for those
            examples (their box is the whole image), 1 for examples of CutMix and
            GridMix (their box and holes say it all). None: 1 everywhere.
        resized: bool `[batch_size]` or None: with a method that moves pixels
            (ResizeMix), whether the example's `box` shows its partner's whole image
            resized to the box by nearest-neighbour sampling (the box's pixel row `r`
            reads the partner's row `floor((r - top) H / (bottom - top))`, columns
            alike) rather than the partner's pixels at the same positions. None: False
            everywhere.
        tiled: bool `[batch_size]` or None: with Mosaic, whether the example is four
            tiles around the centre `(cy, cx) = box[2:]` (its `box` is its own tile,
            `(0, 0, cy, cx)`): the window of a `2H x 2W` canvas holding the example, its
            first, second and third partners (`permutation`, `more_permutations`) at the
            canvas's top left, top right, bottom left and bottom right, whose top-left
            corner is `(H - cy, W - cx)`: output pixel `(r, c)` reads pixel `((r - cy)
            mod H, (c - cx) mod W)` of its tile's source. None: False everywhere.
    """

    mix_weight: Any
    permutation: Any
    more_weights: Any = None
    more_permutations: Any = None
    box: Any = None
    cut: Any = None
    partner_weight: Any = None
    holes: Any = None
    mask: Any = None
    resized: Any = None
    tiled: Any = None

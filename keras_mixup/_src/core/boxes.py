"""Bounding boxes under mixup and the methods that paste pixels, in Keras's format:
`{"boxes": [B, N, 4], "labels": [B, N]}`, padded with label -1 (boxes of padding are
ignored), in one of Keras's `bounding_box_format`s.

- mixup (and k-way mixup): the mixed image shows every source image, so it carries the
  boxes of every source: own boxes, then the first partner's, then the next partners',
  concatenated along the box axis (`[B, k N, 4]`, `[B, k N]`), coordinates untouched
  (as YOLOX and keras-cv's MixUp do). A source whose weight is 0 (an example left unmixed
  by `prob`, alpha 0) is not in the image: its boxes become padding.
- CutMix: the pasted region shows the partner, so the partner's boxes are clipped to the
  region, and the example's own boxes lose what the region covers (a box is shrunk when
  the region covers it across its full width or height from one side; otherwise the
  visible part is not a rectangle and the box keeps its extent). A box whose visible area
  is less than `min_box_visibility` of its area becomes padding. The output keeps the
  fixed shape `[B, 2 N, 4]`, so the box path compiles under XLA.
- GridMix: the same rule through each box's visible fraction, exact for the grid (the
  holes' area inside a box is a product of two per-axis counts). The partner's boxes are
  clipped to the crop that holds the holes; the example's own boxes keep their geometry
  (what the holes cover is not a rectangle). A box that its source shows less than
  `min_box_visibility` of becomes padding.
- ResizeMix: the partner's whole image is resized into the region, so its boxes are
  scaled by the region's share of each side and moved into it (all of them show);
  the example's own boxes are cut as under CutMix.
- Mosaic: each source's boxes are translated into its tile (`MixParams.tiled`) and
  clipped to it, `[B, 4 N, 4]` (own boxes, then the three partners'); a box that shows
  less than `min_box_visibility` of its area becomes padding.
- `"mix_weights"` `[B, k N]` (added to the boxes dict): the weight of each box's source
  image in the mixed image (its mixing weight; for CutMix, the share of the image it
  keeps), 0 for padding: the per-box loss weights of Bag of Freebies for detection
  (Zhang et al., 2019).

Geometry in pixels: pixel `p` covers `[p, p + 1)`, so CutMix's region `(top, left,
bottom, right)` covers `y in [top, bottom)`, `x in [left, right)`; relative formats are
scaled by the image's height and width first, and back after.

References:
    - Zhang, He, Zhang, Xie, Li & Li, "Bag of Freebies for Training Object Detection
      Neural Networks", arXiv 1902.04103, 2019 (mixup weights per box).
    - Ge, Liu, Wang, Li & Sun, "YOLOX: Exceeding YOLO Series in 2021" (mixup for detection).
    - Jocher et al., YOLOv5 `box_candidates` (boxes under 10 % of their area dropped).
    - Bochkovskiy, Wang & Liao, "YOLOv4", arXiv 2004.10934, 2020 (Mosaic).
"""

from __future__ import annotations

from keras_mixup._src.core.mixing import partner_share, weights_of
from keras_mixup._src.core.structures import MixParams
from keras_mixup._src.core.validation import user_error

FORMATS = (
    "xyxy",
    "yxyx",
    "xywh",
    "center_xywh",
    "center_yxhw",
    "rel_xyxy",
    "rel_yxyx",
    "rel_xywh",
    "rel_center_xywh",
)
PADDING = -1


def validate_format(bounding_box_format) -> str | None:
    if bounding_box_format is None or bounding_box_format in FORMATS:
        return bounding_box_format
    raise user_error(
        ValueError,
        f"`bounding_box_format` must be one of {FORMATS} (Keras's names) or None; got "
        f"bounding_box_format={bounding_box_format!r}.",
    )


def to_corners(boxes, bounding_box_format: str, height, width, *, ops) -> list:
    """`[y1, x1, y2, x2]` in pixels (float32, each `[..., N]`) of boxes in a format."""
    boxes = ops.cast(boxes, "float32")
    a, b, c, d = (boxes[..., i] for i in range(4))
    fmt = bounding_box_format
    relative = fmt.startswith("rel_")
    fmt = fmt.removeprefix("rel_")
    if fmt == "xyxy":
        y1, x1, y2, x2 = b, a, d, c
    elif fmt == "yxyx":
        y1, x1, y2, x2 = a, b, c, d
    elif fmt == "xywh":
        y1, x1, y2, x2 = b, a, b + d, a + c
    elif fmt == "center_xywh":
        y1, x1, y2, x2 = b - d / 2, a - c / 2, b + d / 2, a + c / 2
    else:  # center_yxhw
        y1, x1, y2, x2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    if relative:
        h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
        y1, x1, y2, x2 = y1 * h, x1 * w, y2 * h, x2 * w
    return [y1, x1, y2, x2]


def from_corners(corners: list, bounding_box_format: str, height, width, *, ops):
    """The inverse of `to_corners`: boxes `[..., N, 4]` in the format."""
    y1, x1, y2, x2 = corners
    fmt = bounding_box_format
    if fmt.startswith("rel_"):
        h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
        y1, x1, y2, x2 = y1 / h, x1 / w, y2 / h, x2 / w
        fmt = fmt.removeprefix("rel_")
    if fmt == "xyxy":
        values = [x1, y1, x2, y2]
    elif fmt == "yxyx":
        values = [y1, x1, y2, x2]
    elif fmt == "xywh":
        values = [x1, y1, x2 - x1, y2 - y1]
    elif fmt == "center_xywh":
        values = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
    else:  # center_yxhw
        values = [(y1 + y2) / 2, (x1 + x2) / 2, y2 - y1, x2 - x1]
    return ops.stack(values, axis=-1)


def _area(corners, *, ops):
    y1, x1, y2, x2 = corners
    return ops.maximum(y2 - y1, 0.0) * ops.maximum(x2 - x1, 0.0)


def _cut(params: MixParams, *, ops) -> list:
    """The CutMix region of each example, `[y1, x1, y2, x2]` in pixels, each `[B, 1]`."""
    box = ops.cast(params.box, "float32")
    return [box[:, i][:, None] for i in range(4)]


def _partner_in_region(corners, region, *, ops):
    """Partner boxes clipped to the pasted region; their visible share."""
    y1, x1, y2, x2 = corners
    top, left, bottom, right = region
    clipped = [
        ops.minimum(ops.maximum(y1, top), bottom),
        ops.minimum(ops.maximum(x1, left), right),
        ops.maximum(ops.minimum(y2, bottom), top),
        ops.maximum(ops.minimum(x2, right), left),
    ]
    return clipped, _area(clipped, ops=ops)


def _resized_into_region(corners, region, resized, height, width, *, ops):
    """Partner boxes where the partner's whole image is resized into the region
    (ResizeMix, `MixParams.resized`): scaled by the region's share of each side and
    moved to its corner; unchanged in the other rows."""
    y1, x1, y2, x2 = corners
    top, left, bottom, right = region
    scale_y = (bottom - top) / ops.cast(height, "float32")
    scale_x = (right - left) / ops.cast(width, "float32")
    moved = [top + y1 * scale_y, left + x1 * scale_x, top + y2 * scale_y, left + x2 * scale_x]
    on = resized[:, None]
    return [ops.where(on, m, c) for m, c in zip(moved, corners, strict=True)]


def _in_tile(corners, index: int, centre, height, width, *, ops):
    """Mosaic (`MixParams.tiled`): the boxes of source `index` (0: the example, 1-3: its
    partners) moved into its tile around `centre` (`[cy, cx]`, each `[B, 1]`) and clipped
    to the tile; their visible area. A source's image ends at the tile's inner edges, so
    clipping to the tile clips only at the image's outer edges."""
    cy, cx = centre
    h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
    bottom, right = index >= 2, index % 2 == 1  # the tile's row and column
    dy = cy if bottom else cy - h
    dx = cx if right else cx - w
    tile = [cy if bottom else 0.0 * cy, cx if right else 0.0 * cx]
    tile += [h + 0.0 * cy if bottom else cy, w + 0.0 * cx if right else cx]
    y1, x1, y2, x2 = corners
    return _partner_in_region([y1 + dy, x1 + dx, y2 + dy, x2 + dx], tile, ops=ops)


def _own_outside_region(corners, region, *, ops):
    """Own boxes minus the pasted region: shrunk where the region covers a box across
    its full width or height from one side (not where it covers the whole box: a box
    CutMix hides is dropped, and under a mask, whose region is the whole image, boxes
    keep their geometry); the visible area either way."""
    y1, x1, y2, x2 = corners
    top, left, bottom, right = region
    overlap, _ = _partner_in_region(corners, region, ops=ops)
    visible = _area(corners, ops=ops) - _area(overlap, ops=ops)
    across_width = (left <= x1) & (right >= x2)
    across_height = (top <= y1) & (bottom >= y2)
    from_top = across_width & (top <= y1) & (bottom > y1) & (bottom < y2)
    from_bottom = across_width & (bottom >= y2) & (top < y2) & (top > y1)
    from_left = across_height & (left <= x1) & (right > x1) & (right < x2)
    from_right = across_height & (right >= x2) & (left < x2) & (left > x1)
    shrunk = [
        ops.where(from_top, ops.minimum(bottom, y2), y1),
        ops.where(from_left, ops.minimum(right, x2), x1),
        ops.where(from_bottom, ops.maximum(top, y1), y2),
        ops.where(from_right, ops.maximum(left, x1), x2),
    ]
    return shrunk, visible


def _in_holes(start, end, cell, hole, t, *, ops):
    """The measure of `[start, t)` that falls in holes, along one axis of a GridMix crop
    `[start, end)` (`t` clipped to the crop): whole cells times the hole, and the
    part of the last cell's hole."""
    d = ops.minimum(ops.maximum(t, start), end) - start
    cells = ops.floor(d / cell)
    return cells * hole + ops.minimum(d - cells * cell, hole)


def _grid_covered(corners, region, holes, *, ops):
    """The area of each box that GridMix's holes cover (the partner's pixels in it):
    the grid is separable, so the area is the product of the two axes' measures."""
    y1, x1, y2, x2 = corners
    top, left, bottom, right = region
    cell_h, cell_w, hole_h, hole_w = (ops.cast(holes[:, i], "float32")[:, None] for i in range(4))
    rows = _in_holes(top, bottom, cell_h, hole_h, y2, ops=ops) - _in_holes(
        top, bottom, cell_h, hole_h, y1, ops=ops
    )
    cols = _in_holes(left, right, cell_w, hole_w, x2, ops=ops) - _in_holes(
        left, right, cell_w, hole_w, x1, ops=ops
    )
    return rows * cols


def _integral(share, *, ops):
    """The summed-area table of per-pixel shares `[B, H, W]`: `[B, (H + 1) (W + 1)]`
    (flattened), entry `(i, j)` the sum over the pixels above row i and left of column j."""
    table = ops.cumsum(ops.cumsum(share, axis=1), axis=2)
    table = ops.concat([table[:, :1] * 0.0, table], axis=1)
    table = ops.concat([table[:, :, :1] * 0.0, table], axis=2)
    return ops.reshape(table, [ops.size(table, 0), -1])


def _integral_at(table, y, x, height, width, *, ops):
    """The integral of the per-pixel shares over `[0, y) x [0, x)` (`y`, `x` float32
    `[B, N]` in pixels, clipped to the image of `height` x `width`, ints or scalar
    tensors), exact: the shares are constant over each pixel, so the integral is
    bilinear between the table's entries."""
    h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
    y = ops.minimum(ops.maximum(y, 0.0), h)
    x = ops.minimum(ops.maximum(x, 0.0), w)
    i = ops.minimum(ops.floor(y), h - 1.0)
    j = ops.minimum(ops.floor(x), w - 1.0)
    fy, fx = y - i, x - j
    i, j = ops.cast(i, "int32"), ops.cast(j, "int32")

    def at(di, dj):
        return ops.take_along_axis(table, (i + di) * (width + 1) + (j + dj), 1)

    return (
        at(0, 0) * (1.0 - fy) * (1.0 - fx)
        + at(1, 0) * fy * (1.0 - fx)
        + at(0, 1) * (1.0 - fy) * fx
        + at(1, 1) * fy * fx
    )


def _mask_covered(corners, table, height, width, *, ops):
    """The area of each box that the partner's per-pixel shares cover (`_integral`)."""
    y1, x1, y2, x2 = corners

    def at(y, x):
        return _integral_at(table, y, x, height, width, ops=ops)

    return at(y2, x2) - at(y1, x2) - at(y2, x1) + at(y1, x1)


def mix_boxes(
    bounding_boxes: dict,
    params: MixParams,
    *,
    bounding_box_format: str,
    image_size,
    min_box_visibility: float,
    partner_rows,
    ops,
) -> dict:
    """Keras's boxes dict of a batch mixed with `params` (see the module docstring).

    `partner_rows(tensor, permutation)` gathers partner rows (the mixing core's, so
    that per-shard gathers stay on their device).
    """
    boxes = ops.cast(ops.convert(bounding_boxes["boxes"]), "float32")
    labels = ops.convert(bounding_boxes["labels"])
    height, width = image_size
    own, partner, more = weights_of(params, "float32", ops=ops)
    # an example paired with itself is unchanged: its boxes once, whole, with weight 1
    # (not twice, nor a CutMix piece of its own box)
    alone = params.permutation == ops.cast(ops.arange(ops.size(labels, 0)), "int32")
    if params.tiled is not None:  # Mosaic shows another corner of the same image
        alone = alone & ~params.tiled
    own, partner = ops.where(alone, own + partner, own), ops.where(alone, 0.0, partner)
    count = len(more)
    sources = [(own, None), (partner, params.permutation)]
    sources += [(more[j], params.more_permutations[j]) for j in range(count)]
    region = None if params.box is None else _cut(params, ops=ops)
    table = None
    if params.mask is not None:  # a mask (FMix, SmoothMix): every row's exact shares
        # 0 for the rows that are not cut; the ones of CutMix and GridMix are exact too
        share = partner_share(params, params.mask, "float32", ops=ops)
        table = _integral(share, ops=ops)
        mask_height, mask_width = ops.size(params.mask, 1), ops.size(params.mask, 2)
    out_boxes, out_labels, out_weights = [], [], []
    for index, (weight, permutation) in enumerate(sources):
        source_boxes, source_labels = boxes, labels
        if permutation is not None:
            source_boxes = partner_rows(boxes, permutation)
            source_labels = partner_rows(labels, permutation)
        keep = (source_labels != PADDING) & (weight[:, None] > 0.0)
        mixed = source_boxes  # mixup: the boxes as they are
        if region is not None:  # CutMix rows: clip to (partner) or cut out of (own) the region
            corners = to_corners(source_boxes, bounding_box_format, height, width, ops=ops)
            if index == 1 and params.resized is not None:  # ResizeMix rows: into the patch
                corners = _resized_into_region(
                    corners, region, params.resized, height, width, ops=ops
                )
            area = _area(corners, ops=ops)
            if index == 0:
                cut_corners, visible = _own_outside_region(corners, region, ops=ops)
            else:
                cut_corners, visible = _partner_in_region(corners, region, ops=ops)
            if params.holes is not None:  # GridMix rows: the share its holes leave or show
                grid = (params.holes[:, 3] < params.holes[:, 1])[:, None]  # a hole < its cell
                shown = _grid_covered(corners, region, params.holes, ops=ops)
                visible = ops.where(grid, area - shown if index == 0 else shown, visible)
                if index == 0:  # own boxes keep their geometry: holes do not shrink them
                    cut_corners = [
                        ops.where(grid, o, c) for c, o in zip(cut_corners, corners, strict=True)
                    ]
            if table is not None:
                shown = _mask_covered(corners, table, mask_height, mask_width, ops=ops)
                visible = area - shown if index == 0 else shown
            if params.tiled is not None:  # Mosaic rows: each source's boxes in its tile
                tiled = params.tiled[:, None]
                tile_corners, tile_visible = _in_tile(
                    corners, index, region[2:], height, width, ops=ops
                )
                visible = ops.where(tiled, tile_visible, visible)
                cut_corners = [
                    ops.where(tiled, t, c) for t, c in zip(tile_corners, cut_corners, strict=True)
                ]
            is_cut = (params.cut & ~alone)[:, None]
            corners = [ops.where(is_cut, c, o) for c, o in zip(cut_corners, corners, strict=True)]
            enough = visible >= min_box_visibility * area
            keep = keep & ops.where(is_cut, enough & (visible > 0.0), True)
            mixed = from_corners(corners, bounding_box_format, height, width, ops=ops)
        out_boxes.append(ops.where(keep[..., None], mixed, float(PADDING)))
        out_labels.append(
            ops.where(keep, source_labels, ops.cast(PADDING, ops.dtype(source_labels)))
        )
        out_weights.append(ops.where(keep, weight[:, None] + 0.0 * mixed[..., 0], 0.0))
    return {
        "boxes": ops.concat(out_boxes, axis=1),
        "labels": ops.concat(out_labels, axis=1),
        "mix_weights": ops.concat(out_weights, axis=1),
    }


def unmixed_boxes(bounding_boxes: dict, num_mixed: int, *, ops) -> dict:
    """The boxes of an unmixed batch in the mixed shape (`[B, k N]`, the partners' part
    padding), so that a pipeline's output has one shape whether or not it mixed."""
    boxes = ops.cast(ops.convert(bounding_boxes["boxes"]), "float32")
    labels = ops.convert(bounding_boxes["labels"])
    padding_boxes = boxes * 0.0 + float(PADDING)
    padding_labels = labels * 0 + PADDING
    weights = ops.where(labels != PADDING, 1.0, 0.0) + 0.0 * boxes[..., 0]
    return {
        "boxes": ops.concat([boxes] + [padding_boxes] * (num_mixed - 1), axis=1),
        "labels": ops.concat([labels] + [padding_labels] * (num_mixed - 1), axis=1),
        "mix_weights": ops.concat([weights] + [weights * 0.0] * (num_mixed - 1), axis=1),
    }

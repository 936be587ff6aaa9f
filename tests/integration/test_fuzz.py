"""The element contract, fuzzed: generated elements through both fronts (NumPy and tf.data
for the transform; the layer on the current Keras backend), checked against a NumPy float64
reference of the mixing that the drawn parameters describe.

Elements: features as a tensor, a tuple or a dict of 1-3 tensors of rank 1-4 and dtype uint8,
int32, float16, bfloat16, float32 or float64; labels as class ids (`[B]`, `[B, 1]`, per pixel),
one-hot, soft, multi-hot or regression targets; with and without sample weights; batch sizes
1-9, static or unknown (tf.data); every family option. Properties: the output has the input's
structure and shapes (class ids become one-hot rows); every output row is the convex
combination of input rows that the parameters say, for features, targets and weights alike
(they share partners and weights); label mass is preserved; nothing is NaN; an invalid element
raises the library's own error naming the component.

The hypothesis profile is derandomized by default (tests/conftest.py); `max_examples` is fixed
per test so that the suite stays well under a minute.
"""

from __future__ import annotations

import keras
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_mixup import MixupLayer, MixupTransform
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.methods import METHODS
from keras_mixup._src.core.structures import Parts
from keras_mixup.methods import CutMix, FMix, GridMix, Mixup, Mosaic, ResizeMix, SmoothMix

FEATURE_DTYPES = ["uint8", "int32", "float16", "bfloat16", "float32", "float64"]
FAMILIES = {
    "pairs": {},
    "per_example": {"per_example": True},
    "three_way": {"num_mixed": 3, "per_example": True},
    "cutmix_switch": {"cutmix_alpha": 1.0, "switch_prob": 0.5, "per_example": True},
    "cutmix_only": {"alpha": 0.0, "cutmix_alpha": 0.7},
    "gridmix_switch": {
        "methods": [Mixup(0.6), CutMix(1.0), GridMix(1.0)],
        "method_probs": [1 - 0.7, 0.7 / 2, 0.7 / 2],
        "per_example": True,
    },  # fmt: skip
    "gridmix_only": {"methods": [GridMix(0.8, holes=(1, 3))]},
    "every_method": {
        "methods": [
            Mixup(0.6),
            CutMix(1.0),
            GridMix(1.0),
            FMix(1.0),
            SmoothMix(1.0),
            ResizeMix(1.0),
            Mosaic(1.0),
        ],
        "method_probs": [1 - 0.8] + [0.8 / 6] * 6,
        "per_example": True,
    },  # fmt: skip
    "fmix_only": {"methods": [FMix(0.5, max_soft=0.2)]},
    "smoothmix_only": {"methods": [SmoothMix(2.0, sigma=(0.1, 0.3))]},
    "resizemix_only": {"methods": [ResizeMix(1.0, scope=(0.3, 0.9))]},
    "mosaic_with_mixup": {
        "methods": [Mixup(0.6), Mosaic(1.0, offset=(0.1, 1.0))],
        "per_example": True,
    },
    "prob_half": {"prob": 0.5, "per_example": True},
    "dominant": {"targets": "dominant"},
    "smoothing": {"label_smoothing": 0.1},
    "alpha_zero": {"alpha": 0.0},
}
LABEL_KINDS = ["ids", "ids_column", "one_hot", "soft", "multi_hot", "regression", "per_pixel"]
# Relative to the largest input value: the output dtype's rounding, and the last-bit
# differences of the weights between the binding that mixed and the NumPy replay (~1e-7).
TOLERANCE = {"float16": 2e-2, "bfloat16": 2e-2, "float32": 1e-5, "float64": 1e-5}


def _array(rng, shape, dtype):
    if dtype in ("uint8", "int32"):
        return rng.integers(0, 200, shape).astype(dtype)
    values = rng.normal(size=shape) * 10
    return values.astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype)


def pastes(options) -> bool:
    """Whether a method that mixes by a per-pixel rule (images only) is on."""
    listed = {k: v for method in options.get("methods", ()) for k, v in method.options().items()}
    options = {**options, **listed}
    return any(options.get(m.alpha, 0) > 0 for m in METHODS if m.cuts)


@st.composite
def elements(draw, family_names=tuple(FAMILIES)):
    """(element as a tuple, transform options, num_classes): a generated batch."""
    family = draw(st.sampled_from(family_names))
    # mixup's alpha 0.6 unless the family sets it (as a shortcut or as Mixup(0.6) in methods)
    options = {**({} if "methods" in FAMILIES[family] else {"alpha": 0.6}), **FAMILIES[family]}
    cutmix = pastes(options)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch = draw(st.integers(1, 9))
    height, width = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    count = draw(st.integers(1, 3))
    leaves = []
    for _ in range(count):
        rank = draw(st.integers(3, 4) if cutmix else st.integers(1, 4))
        shape = (batch, height, width, draw(st.integers(1, 3)))[:rank]
        if not cutmix and rank > 1:
            shape = (batch, *(draw(st.integers(1, 3)) for _ in range(rank - 1)))
        leaves.append(_array(rng, shape, draw(st.sampled_from(FEATURE_DTYPES))))
    structure = draw(
        st.sampled_from(["tensor", "tuple", "dict"] if count == 1 else ["tuple", "dict"])
    )
    features = (
        leaves[0]
        if structure == "tensor"
        else tuple(leaves)
        if structure == "tuple"
        else {f"f{i}": leaf for i, leaf in enumerate(leaves)}
    )
    kinds = [k for k in LABEL_KINDS if k != "per_pixel" or cutmix or options.get("targets") != "x"]
    kind = draw(st.sampled_from(kinds))
    classes = draw(st.integers(2, 5))
    num_classes = None
    if kind == "ids":
        labels, num_classes = rng.integers(0, classes, batch).astype("int64"), classes
    elif kind == "ids_column":
        labels, num_classes = rng.integers(0, classes, (batch, 1)).astype("int32"), classes
    elif kind == "per_pixel":
        labels, num_classes = rng.integers(0, classes, (batch, height, width)), classes
    elif kind == "one_hot":
        labels = np.eye(classes, dtype="float32")[rng.integers(0, classes, batch)]
    elif kind == "soft":
        labels = rng.dirichlet(np.ones(classes), batch).astype("float32")
    elif kind == "multi_hot":
        labels = rng.random((batch, classes)) > 0.5
    else:
        labels = rng.normal(
            size=(batch, *(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))))
        ).astype("float32")
    if options.get("label_smoothing") and kind not in ("ids", "ids_column", "one_hot", "soft"):
        options.pop("label_smoothing")
    element = (features, labels)
    if draw(st.booleans()):
        element += (rng.uniform(0.5, 2.0, batch).astype("float32"),)
    return element, options, num_classes


# ---------------------------------------------------------------- the NumPy reference


def _targets_of(labels, num_classes, smoothing):
    labels = np.asarray(labels)
    if np.issubdtype(labels.dtype, np.integer):
        if labels.ndim >= 2 and labels.shape[-1] == 1:
            labels = labels[..., 0]
        targets = np.eye(num_classes)[labels]
    else:
        targets = labels.astype(np.float64)
    if smoothing:
        targets = targets * (1 - smoothing) + smoothing / targets.shape[-1]
    return targets


def _mix_rows(x, params, *, per_pixel, dominant=False):
    """The reference: row i of the output from the rows of `x`, float64."""
    x = np.asarray(x, np.float64)
    own = np.asarray(params.mix_weight, np.float64)
    partner = np.asarray(params.partner_weight, np.float64)
    perm = np.asarray(params.permutation)
    more_w = (
        [] if params.more_weights is None else list(np.asarray(params.more_weights, np.float64))
    )
    more_p = [] if params.more_permutations is None else list(np.asarray(params.more_permutations))
    out = np.empty_like(x)
    for i in range(len(x)):
        if params.tiled is not None and bool(params.tiled[i]) and per_pixel:  # Mosaic
            height, width = x.shape[1:3]
            tiles = [x[i], *(x[p[i]] for p in [perm, *more_p])]
            canvas = np.concatenate(
                [np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0
            )  # the four sources on a 2H x 2W canvas; the window at (H - cy, W - cx)
            cy, cx = np.asarray(params.box[i])[2:]
            out[i] = canvas[height - cy : 2 * height - cy, width - cx : 2 * width - cx]
            continue
        if params.cut is not None and bool(params.cut[i]) and per_pixel:
            top, left, bottom, right = np.asarray(params.box[i])
            region = np.zeros(x.shape[1:3], bool)
            region[top:bottom, left:right] = True
            if params.holes is not None:  # GridMix: the hole of each cell
                cell_h, cell_w, hole_h, hole_w = np.asarray(params.holes[i])
                rows, cols = np.meshgrid(*map(np.arange, x.shape[1:3]), indexing="ij")
                region &= ((rows - top) % cell_h < hole_h) & ((cols - left) % cell_w < hole_w)
            share = region.astype(np.float64)  # the partner's share of each pixel
            if params.mask is not None:  # FMix, SmoothMix: the mask in the box
                share = share * np.asarray(params.mask[i], np.float64)
            share = share.reshape(share.shape + (1,) * (x.ndim - 3))
            shown = x[perm[i]]
            if params.resized is not None and bool(params.resized[i]):  # ResizeMix
                height, width = x.shape[1:3]
                shown = shown.copy()  # the partner resized into the box, pixel by pixel
                for r in range(top, bottom):
                    for c in range(left, right):
                        source_r = (r - top) * height // (bottom - top)
                        shown[r, c] = x[perm[i]][source_r, (c - left) * width // (right - left)]
            if dominant:
                out[i] = np.where(share > 1.0 - share, shown, x[i])
            else:
                out[i] = (1.0 - share) * x[i] + share * shown
            continue
        if params.cut is not None and bool(params.cut[i]) and dominant:
            out[i] = x[i] if own[i] >= partner[i] else x[perm[i]]
            continue
        weights = [own[i], partner[i], *(w[i] for w in more_w)]
        rows = [i, perm[i], *(p[i] for p in more_p)]
        if dominant:
            out[i] = x[rows[int(np.argmax(weights))]]
        else:
            out[i] = sum(w * x[r] for w, r in zip(weights, rows, strict=True))
    return out


def check_mixed(element, mixed, params, options, num_classes):
    """Every property of the module docstring for one mixed element (NumPy arrays)."""
    features, labels, *weights = element
    out_features, out_labels, *out_weights = mixed
    assert keras.tree.flatten(
        keras.tree.map_structure(lambda _: 0, features)
    ) == keras.tree.flatten(keras.tree.map_structure(lambda _: 0, out_features))
    dominant = options.get("targets") == "dominant"
    for x, out in zip(keras.tree.flatten(features), keras.tree.flatten(out_features), strict=True):
        out = np.asarray(out)
        assert out.shape == x.shape
        out_dtype = str(out.dtype)
        if str(x.dtype) in TOLERANCE:
            assert out_dtype == str(x.dtype)  # floating features keep their dtype
        assert not np.isnan(out.astype(np.float64)).any()
        expected = x.astype(np.float64) if params is None else _mix_rows(x, params, per_pixel=True)
        scale = np.abs(x.astype(np.float64)).max(initial=1.0)
        np.testing.assert_allclose(
            out.astype(np.float64), expected, atol=TOLERANCE[out_dtype] * scale
        )
    targets = _targets_of(labels, num_classes, options.get("label_smoothing", 0.0))
    per_pixel = targets.ndim >= 4
    expected = (
        targets
        if params is None
        else _mix_rows(targets, params, per_pixel=per_pixel, dominant=dominant)
    )
    out_labels = np.asarray(out_labels, np.float64)
    assert out_labels.shape == targets.shape and not np.isnan(out_labels).any()
    np.testing.assert_allclose(out_labels, expected, atol=2e-5 * max(1.0, np.abs(targets).max()))
    if num_classes is not None or np.allclose(targets.sum(-1), 1.0):  # class distributions
        np.testing.assert_allclose(out_labels.sum(-1), 1.0, atol=2e-5)  # label mass
    if weights:
        expected = (
            weights[0]
            if params is None
            else _mix_rows(weights[0], params, per_pixel=False, dominant=dominant)
        )
        np.testing.assert_allclose(np.asarray(out_weights[0], np.float64), expected, atol=2e-5)


def _replayed(transform, element, seed):
    parts = Parts(*element) if len(element) == 3 else Parts(element[0], element[1])
    spec = transform.spec
    if not spec.active(spec.runtime_values()):
        return None
    return spec.draw(seed, parts, spec.runtime_values(), owner="", ops=NUMPY)


# ---------------------------------------------------------------- the fronts


@settings(max_examples=200)
@given(elements())
def test_numpy_front_mixes_every_generated_element_as_its_parameters_say(case):
    element, options, num_classes = case
    transform = MixupTransform(num_classes=num_classes, seed=0, **options)
    seed = np.array([11, 7], np.int32)
    mixed = transform._elements.mix(element, seed=seed)
    assert isinstance(mixed, tuple) and len(mixed) == len(element)
    check_mixed(element, mixed, _replayed(transform, element, seed), options, num_classes)


@settings(max_examples=30)  # each example traces new tf.functions
@given(elements(), st.booleans())
def test_tf_data_front_mixes_every_generated_element_as_its_parameters_say(case, unknown_batch):
    tf = pytest.importorskip("tensorflow")
    element, options, num_classes = case
    transform = MixupTransform(num_classes=num_classes, seed=0, jit_compile=False, **options)
    mixer = transform._elements.tf_data()
    seed = np.array([5, 3], np.int32)
    tensors = tf.nest.map_structure(tf.constant, element)
    if unknown_batch:
        spec = tf.nest.map_structure(
            lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), tensors
        )
        run = tf.function(
            lambda e, s: mixer.mix(Parts(*e), s),
            input_signature=[spec, tf.TensorSpec([2], tf.int32)],
        )
        parts = run(tensors, tf.constant(seed))
    else:
        parts = mixer.mix(Parts(*tensors), tf.constant(seed))
    mixed = tuple(tf.nest.map_structure(lambda t: t.numpy(), tuple(parts[: len(element)])))
    check_mixed(element, mixed, _replayed(transform, element, seed), options, num_classes)


@settings(max_examples=60)
@given(
    elements(
        family_names=(
            "pairs",
            "per_example",
            "three_way",
            "cutmix_switch",
            "gridmix_switch",
            "every_method",
            "prob_half",
        )  # fmt: skip
    )
)
def test_layer_mixes_inputs_and_targets_with_its_recorded_parameters(case):
    """MixupLayer in a model on the current Keras backend (also run on JAX and PyTorch by
    tests/integration/test_backends.py): features blended with the recorded parameters, and the targets
    of `_step_targets` (what MixupLoss and MixupAccuracy use) mixed with the same ones."""
    element, options, num_classes = case
    features, labels = element[0], element[1]
    if pastes(options) and np.asarray(labels).ndim == 3:
        return  # per-pixel targets are a pipeline case; a model's y_true is per example here
    layer = MixupLayer(seed=1, inputs_only=True, **options)
    inputs = keras.tree.map_structure(keras.ops.convert_to_tensor, features)
    outputs = layer(inputs, training=True)
    params = layer.record.params
    params = params._replace(
        **{
            k: None if v is None else keras.ops.convert_to_numpy(v)
            for k, v in params._asdict().items()
        }
    )
    width = num_classes or np.asarray(labels).shape[-1]
    if np.asarray(labels).ndim == 3:
        return
    if (
        np.issubdtype(np.asarray(labels).dtype, np.integer)
        or np.asarray(labels).dtype == bool
        or np.asarray(labels).ndim == 2
    ):
        targets, _ = layer._step_targets(keras.ops.convert_to_tensor(labels), width)
        expected = _mix_rows(_targets_of(labels, width, 0.0), params, per_pixel=False)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(targets), expected, atol=2e-5)
    for x, out in zip(keras.tree.flatten(features), keras.tree.flatten(outputs), strict=True):
        out = keras.ops.convert_to_numpy(out).astype(np.float64)
        assert out.shape == x.shape and not np.isnan(out).any()
        scale = np.abs(x.astype(np.float64)).max(initial=1.0)
        np.testing.assert_allclose(out, _mix_rows(x, params, per_pixel=True), atol=1e-4 * scale)


# ---------------------------------------------------------------- invalid elements

INVALID = {
    "class ids without num_classes": (
        lambda f, y, n: (f, np.arange(len(y)) % 3, None),
        ValueError,
        r"`labels` are integer class ids .* needs `num_classes`",
    ),
    "batch sizes that differ": (
        lambda f, y, n: (f, np.concatenate([y, y[:1]]), n),
        ValueError,
        r"must share the batch \(first\) dimension, but `features.*` has shape",
    ),
    "a string feature": (
        lambda f, y, n: ((np.array(["a"] * len(y)), f), y, n),
        TypeError,
        r"can only mix numeric features; `features\[0\]` has dtype",
    ),
    "an unbatched label": (
        lambda f, y, n: (f, np.float32(1.0), None),
        ValueError,
        r"`labels` is a scalar \(shape \(\)\): this element is not batched",
    ),
}


@settings(max_examples=30)
@given(elements(family_names=("pairs",)), st.sampled_from(sorted(INVALID)))
def test_an_invalid_element_raises_the_library_error_naming_the_component(case, fault):
    (features, labels, *_), options, num_classes = case
    features = np.ones((len(np.atleast_1d(labels)), 2), "float32")
    make, error, words = INVALID[fault]
    bad_features, bad_labels, bad_classes = make(features, np.atleast_1d(labels), num_classes)
    transform = MixupTransform(num_classes=bad_classes, seed=0, **options)
    with pytest.raises(error, match=words):
        transform(bad_features, bad_labels)

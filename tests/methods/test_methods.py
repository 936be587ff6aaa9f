"""The mixing methods as modules (`keras_mixup/_src/core/methods/`): the registry, the
interface every method answers, the categorical choice among methods
(`sampler.choose`) with exact values from injected uniforms on every binding, and
each method's draw from injected words."""

import ast
import itertools
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_mixup import sample_mix_params
from keras_mixup._src.bindings.ops import KERAS, NUMPY
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.core.methods import METHODS, Build, Draw, Method
from keras_mixup._src.core.methods.cutmix import CUTMIX, cutmix_boxes
from keras_mixup._src.core.methods.gridmix import GRIDMIX
from keras_mixup._src.core.methods.mixup import MIXUP
from keras_mixup._src.core.sampler import choose, draw_mix_params, traced_methods
from keras_mixup._src.core.sampling import STREAMS, stream_words
from keras_mixup.methods import CutMix, FMix, GridMix, Mixup, Mosaic, ResizeMix, SmoothMix

METHODS_DIR = Path(__file__).resolve().parents[2] / "keras_mixup" / "_src" / "core" / "methods"
P_MIN = 1e-3


# ---------------------------------------------------------------- the registry


def test_the_registry_lists_each_method_once_with_mixup_the_default_first():
    assert METHODS[0] is MIXUP and CUTMIX in METHODS
    names = [m.name for m in METHODS]
    assert len(set(names)) == len(names)
    assert all(isinstance(m, Method) for m in METHODS)


def test_stream_numbers_are_distinct_across_the_methods_and_the_core():
    numbers = [n for name, n in STREAMS.items() if name != "permutation"]
    numbers += [n for method in METHODS for n in method.streams.values()]
    assert len(set(numbers)) == len(numbers), numbers
    assert max(numbers) < STREAMS["permutation"]  # partner p's keys: permutation + p


def test_each_method_owns_its_options_and_its_alpha_is_one_of_them():
    for method in METHODS:
        assert {o.owner for o in method.options} == {method.name}
        assert method.alpha in {o.name for o in method.options}


def test_a_method_module_imports_only_the_core_primitives():
    """A method is a module of the core: it may use the random primitives, the ops
    bindings and the checks, never a front, the spec or another method."""
    allowed = {
        "_src.core.methods.base",
        "_src.core.sampling",
        "_src.bindings.ops",
        "_src.core.validation",
    }
    for path in METHODS_DIR.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert not [a for a in node.names if a.name.startswith("keras_mixup")], path
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                module = (node.module or "").removeprefix("keras_mixup.")
                if node.module and node.module.startswith("keras_mixup"):
                    assert module in allowed, f"{path.name} imports {node.module}"


# ---------------------------------------------------------------- the choice


BINDINGS = {
    "numpy": (NUMPY, np.asarray),
    "tensorflow": (TENSORFLOW, tf.constant),
    "keras": (KERAS, np.asarray),
}


def _choose(binding, uniforms, shares, enabled, jit=False):
    ops, convert = BINDINGS[binding]
    uniforms = convert(np.asarray(uniforms, "float32"))
    shares = [convert(np.float32(s)) for s in shares]
    enabled = [convert(np.bool_(e)) for e in enabled]
    if jit:
        fn = tf.function(lambda u: choose(u, shares, enabled, ops=ops), jit_compile=True)
        return np.asarray(fn(uniforms))
    ops = KERAS if binding == "keras" else ops
    return np.asarray(ops.convert(choose(uniforms, shares, enabled, ops=ops)))


@pytest.mark.parametrize("binding", BINDINGS)
def test_two_methods_choose_the_second_exactly_where_the_uniform_is_below_its_share(binding):
    """The switch of `switch_prob`, bit for bit: with shares (1 - p, p), method 1
    exactly where u <= p, for every float32 uniform the sampler makes near p."""
    rng = np.random.default_rng(0)
    for p in np.concatenate([rng.random(20, dtype=np.float32), np.float32([0, 0.3, 0.5, 1])]):
        p = np.float32(p)
        k = np.round(p * 2**24)
        uniforms = (np.arange(k - 3, k + 4).clip(0, 2**24 - 1) + 1).astype("float32") * 2**-24
        chosen = _choose(binding, uniforms, [np.float32(1) - p, p], [True, True])
        np.testing.assert_array_equal(chosen, (uniforms <= p).astype(int), err_msg=str(p))


def test_the_choice_compiles_under_xla_with_the_same_values():
    uniforms = np.linspace(0.01, 1, 100, dtype="float32")
    for shares, enabled in [((0.5, 0.2, 0.3), (True,) * 3), ((0.7, 0.3), (True, False))]:
        eager = _choose("tensorflow", uniforms, shares, enabled)
        np.testing.assert_array_equal(
            _choose("tensorflow", uniforms, shares, enabled, jit=True), eager
        )
        np.testing.assert_array_equal(_choose("numpy", uniforms, shares, enabled), eager)


@pytest.mark.parametrize("binding", BINDINGS)
def test_three_methods_take_their_bands_of_the_unit_interval(binding):
    """Methods 1 and 2 take (0, 0.2] and (0.2, 0.5]; method 0 (the default) the rest."""
    uniforms = [0.1, 0.2, 0.2001, 0.5, 0.5001, 1.0]
    chosen = _choose(binding, uniforms, [0.5, 0.2, 0.3], [True, True, True])
    np.testing.assert_array_equal(chosen, [1, 1, 2, 2, 0, 0])
    # shares that do not sum to 1 are normalised: (1, 0.4, 0.6) / 2 = the same bands
    chosen = _choose(binding, uniforms, [1.0, 0.4, 0.6], [True, True, True])
    np.testing.assert_array_equal(chosen, [1, 1, 2, 2, 0, 0])


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize(
    ("shares", "enabled", "expected"),
    [
        ((0.5, 0.5), (False, True), 1),  # only CutMix on: CutMix, whatever switch_prob
        ((1.0, 0.0), (False, True), 1),  # ... also at switch_prob 0 (share 0)
        ((0.0, 1.0), (True, False), 0),  # only mixup on, at switch_prob 1
        ((0.5, 0.5), (False, False), 0),  # nothing on: the default
        ((0.2, 0.0, 0.0), (False, True, True), None),  # enabled shares all 0: uniform
    ],
)
def test_the_choice_is_made_among_the_enabled_methods_only(binding, shares, enabled, expected):
    uniforms = np.linspace(1e-3, 1.0, 1000, dtype="float32")
    chosen = _choose(binding, uniforms, shares, enabled)
    if expected is None:
        assert set(np.unique(chosen)) == {1, 2}
        assert abs((chosen == 1).mean() - 0.5) < 0.01
    else:
        assert (chosen == expected).all()


def test_the_choice_of_three_methods_follows_the_shares_statistically():
    uniforms = np.random.default_rng(1).random(20_000, dtype=np.float32) + np.float32(2**-25)
    shares = (0.25, 0.6, 0.15)
    chosen = _choose("numpy", np.minimum(uniforms, 1), shares, (True, True, True))
    counts = np.bincount(chosen, minlength=3)
    assert stats.chisquare(counts, np.array(shares) * len(chosen)).pvalue > P_MIN


def method_of_each_row(params, image_size):
    """Which method mixed each row, read from its parameters alone: mixup (not cut),
    Mosaic (`tiled`), ResizeMix (`resized`), GridMix
    (a hole smaller than its cell), SmoothMix (a mask with values strictly between 0 and 1),
    FMix (a binary mask over the whole image that is not all partner), CutMix (the rest)."""
    mask = np.asarray(params.mask)
    whole = (np.asarray(params.box) == [0, 0, *image_size]).all(axis=1)
    soft = ((mask > 0) & (mask < 1)).any(axis=(1, 2))
    grid = np.asarray(params.holes)[:, 3] < np.asarray(params.holes)[:, 1]
    fmix = whole & ~soft & ~(mask == 1).all(axis=(1, 2))
    return np.select(
        [~params.cut, np.asarray(params.tiled), np.asarray(params.resized), grid, soft, fmix],
        ["mixup", "mosaic", "resizemix", "gridmix", "smoothmix", "fmix"],
        "cutmix",
    )


def test_the_sampler_chooses_among_all_seven_methods_in_their_shares():
    """mixup 1 - switch_prob; CutMix, GridMix, FMix, SmoothMix, ResizeMix and Mosaic
    switch_prob / 6 each (per example, 4000 draws), and each row carries its own method's
    per-pixel rule; only Mosaic's rows weigh the third and fourth sources."""
    n, size = 4000, (8, 8)
    params = sample_mix_params(
        np.array([6, 1], "int32"), n, None, True,
        methods=[Mixup(1.0), CutMix(1.0), GridMix(1.0), FMix(1.0), SmoothMix(1.0),
                 ResizeMix(1.0), Mosaic(1.0)],
        method_probs=[1 - 0.6] + [0.6 / 6] * 6,
        image_size=size,
    )  # fmt: skip
    rows = method_of_each_row(params, size)
    names = ["mixup", "cutmix", "gridmix", "fmix", "smoothmix", "resizemix", "mosaic"]
    counts = [(rows == name).sum() for name in names]
    expected = np.array([0.4] + [0.1] * 6) * n
    assert stats.chisquare(counts, expected).pvalue > P_MIN, counts
    mask = np.asarray(params.mask)
    assert (mask[(rows == "cutmix") | (rows == "gridmix")] == 1).all()  # their box says it
    further = np.asarray(params.more_weights).sum(axis=0) > 0
    np.testing.assert_array_equal(further[rows != "mosaic"], False)
    assert further[rows == "mosaic"].mean() > 0.99  # (a centre on an edge empties tiles)


# ---------------------------------------------------------------- each method's draw


def test_cutmix_boxes_from_injected_lambda_and_centre_words():
    """lambda 0.75 on 8 x 6: sides round(0.5 * 8) = 4 and round(0.5 * 6) = 3 around the
    centre (y words mod H, x words mod W); the second box is clipped at the corner."""
    lam = np.float32([0.75, 0.75])
    centre = np.int32([[5, 24], [4, 47]])  # rows: the y words, the x words
    box, area = cutmix_boxes(lam, centre, (8, 6), ops=NUMPY)
    np.testing.assert_array_equal(box, [[3, 3, 7, 6], [0, 4, 2, 6]])
    np.testing.assert_allclose(area, [12 / 48, 4 / 48])


@pytest.mark.parametrize("exact", [True, False])
def test_cutmix_weighs_by_the_clipped_area_or_by_the_drawn_lambda(exact):
    seed = np.array([4, 2], "int32")
    build = Build(num_draws=64, num_mixed=2, image_size=(8, 6), options={})
    words = stream_words(seed, CUTMIX.requests(build, ops=NUMPY), ops=NUMPY)
    options = {"exact_cutmix_weight": exact}
    draw = CUTMIX.draw(
        seed, words, {"cutmix_alpha": 1.0}, build._replace(options=options), ops=NUMPY
    )
    assert isinstance(draw, Draw)
    top, left, bottom, right = np.asarray(draw.box).T
    area = (bottom - top) * (right - left) / 48
    if exact:
        np.testing.assert_allclose(draw.partner, area, rtol=1e-6)
        np.testing.assert_allclose(draw.own, 1 - area, rtol=1e-6)
    else:
        np.testing.assert_allclose(np.asarray(draw.own) + draw.partner, 1.0, rtol=1e-6)
        assert (np.abs(draw.partner - area) > 1e-3).any()  # clipped boxes: lambda differs


def test_mixup_draws_k_way_weights_that_sum_to_one():
    seed = np.array([1, 9], "int32")
    for num_mixed in (2, 3, 5):
        build = Build(num_draws=50, num_mixed=num_mixed, image_size=None, options={})
        words = stream_words(seed, MIXUP.requests(build, ops=NUMPY), ops=NUMPY)
        draw = MIXUP.draw(seed, words, {"alpha": 0.7}, build, ops=NUMPY)
        total = draw.own + draw.partner + (0 if draw.more is None else draw.more.sum(axis=0))
        np.testing.assert_allclose(total, 1.0, atol=1e-6)
        assert (draw.more is None) == (num_mixed == 2)


def test_the_sampler_traces_cutmix_and_gridmix_only_where_built_with_them():
    assert traced_methods({}) == (MIXUP,)
    assert traced_methods({"cutmix_alpha": 0.5, "gridmix_alpha": 0}) == (MIXUP, CUTMIX)
    assert traced_methods({"gridmix_alpha": np.float32(1)}) == (MIXUP, GRIDMIX)
    assert traced_methods({"cutmix_alpha": tf.constant(0.0), "gridmix_alpha": 2}) == (
        MIXUP,
        CUTMIX,
        GRIDMIX,
    )
    every = {m.alpha: 1.0 for m in METHODS}
    assert traced_methods(every) == METHODS


@pytest.mark.parametrize(("per_example", "switch_prob"), itertools.product((False, True), (0.3,)))
def test_the_sampler_takes_each_method_s_draw_where_that_method_is_chosen(per_example, switch_prob):
    """Rows chosen for CutMix carry CutMix's own draw (box, area weights); the others
    mixup's (the same weights as a sampler that traces mixup only)."""
    seed, n = np.array([3, 1], "int32"), 400
    values = {"alpha": 1.0, "cutmix_alpha": 1.0, "switch_prob": switch_prob, "prob": 1.0}
    common = dict(per_example=per_example, num_mixed=2, image_size=(8, 6), groups=None, ops=NUMPY)
    both = draw_mix_params(
        seed, n, values, methods=(MIXUP, CUTMIX), options={"exact_cutmix_weight": True}, **common
    )
    alone = draw_mix_params(seed, n, values, methods=(MIXUP,), options={}, **common)
    cut = np.asarray(both.cut)
    top, left, bottom, right = np.asarray(both.box).T
    area = (bottom - top) * (right - left) / 48
    np.testing.assert_allclose(both.partner_weight[cut], area[cut], rtol=1e-6)
    np.testing.assert_array_equal(both.mix_weight[~cut], alone.mix_weight[~cut])
    np.testing.assert_array_equal(both.permutation, alone.permutation)
    if per_example:
        assert 0.2 < cut.mean() < 0.4


def test_the_public_sampler_and_the_fronts_draw_the_same():
    params = sample_mix_params(
        np.array([5, 5], "int32"), 16, 0.4, True, cutmix_alpha=1.0, image_size=(8, 6)
    )
    values = {"alpha": 0.4, "cutmix_alpha": 1.0, "switch_prob": 0.5, "prob": 1.0}
    direct = draw_mix_params(
        np.array([5, 5], "int32"), 16, values, methods=(MIXUP, CUTMIX), per_example=True,
        num_mixed=2, options={"exact_cutmix_weight": True}, image_size=(8, 6), groups=None,
        ops=NUMPY,
    )  # fmt: skip
    for a, b in zip(params, direct, strict=True):
        np.testing.assert_array_equal(a, b)

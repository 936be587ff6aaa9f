"""The draws of a seed, pinned: `keras_mixup.sample_mix_params` over a matrix of settings
(mixup, CutMix alone, the switch, k-way, `prob`, same-class groups, per batch and per example,
alpha 0 / 0.05 / 1) against values recorded in `tests/fixtures/draws_golden.npz`.

The other tests compare the bindings, modes and backends with each other; this one holds the
draws still across refactors (issue 29 moves the sampler into one module per method and
promises the same draws for the same seed, or a CHANGELOG line saying they changed once).
Permutations, boxes and cut decisions are compared exactly, weights to a relative 1e-6 (the
rounding of `log`, `cos`, `sin` differs between libraries).

    python tests/core/test_same_draws.py --write   # re-record, only where the draws change on purpose
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_mixup

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "draws_golden.npz"
BATCH, IMAGE = 12, (7, 5)
FAMILIES = {
    "mixup": {},
    "cutmix_only": {"cutmix_alpha": 1.0, "alpha_is_zero": True},
    "switch_0": {"cutmix_alpha": 1.0, "switch_prob": 0.0},
    "switch_0.3": {"cutmix_alpha": 1.0, "switch_prob": 0.3},
    "switch_1": {"cutmix_alpha": 1.0, "switch_prob": 1.0},
    "cutmix_area_weight_off": {
        "cutmix_alpha": 1.0,
        "switch_prob": 0.5,
        "exact_cutmix_weight": False,
    },
    "kway_3": {"num_mixed": 3},
    "prob_0.5": {"prob": 0.5},
    "same_class": {"pairing": "same_class", "labels": np.array([0, 1, 2] * 4, "int32")},
}
CASES = [
    (family, per_example, alpha, seed)
    for family, per_example, alpha, seed in itertools.product(
        FAMILIES, (False, True), (0.0, 0.05, 1.0), (0, 12345)
    )
    if not (family == "cutmix_only" and alpha != 1.0)  # CutMix alone has alpha 0 by definition
]


def case_name(family, per_example, alpha, seed) -> str:
    return f"{family}/per_example={per_example}/alpha={alpha}/seed={seed}"


def draw(family, per_example, alpha, seed, convert=np.asarray, ops=None) -> dict:
    """The non-None fields of the case's `MixParams`, as the binding returns them."""
    options = dict(FAMILIES[family])
    if options.pop("alpha_is_zero", False):
        alpha = 0.0
    if "labels" in options:
        options["labels"] = convert(options["labels"])
    if "cutmix_alpha" in options:
        options["image_size"] = IMAGE
    params = keras_mixup.sample_mix_params(
        convert(np.array([seed, 7], "int32")), BATCH, alpha, per_example, ops=ops, **options
    )
    return {field: value for field, value in params._asdict().items() if value is not None}


def record() -> dict[str, np.ndarray]:
    return {
        f"{case_name(*case)}/{field}": np.asarray(value)
        for case in CASES
        for field, value in draw(*case).items()
    }


def assert_matches(case, drawn: dict, golden: dict) -> None:
    name = case_name(*case)
    expected = {
        key.rsplit("/", 1)[1]: value
        for key, value in golden.items()
        if key.rsplit("/", 1)[0] == name
    }
    drawn = {field: np.asarray(value) for field, value in drawn.items()}
    assert sorted(drawn) == sorted(expected), (name, sorted(drawn), sorted(expected))
    for field, value in drawn.items():
        assert value.dtype == expected[field].dtype, (
            name,
            field,
            value.dtype,
            expected[field].dtype,
        )
        if np.issubdtype(expected[field].dtype, np.floating):
            np.testing.assert_allclose(
                value, expected[field], rtol=1e-6, atol=1e-7, err_msg=f"{name}/{field}"
            )
        else:
            np.testing.assert_array_equal(value, expected[field], err_msg=f"{name}/{field}")


@pytest.fixture(scope="module")
def golden() -> dict:
    with np.load(GOLDEN) as data:
        return {key: data[key] for key in data.files}


def test_the_matrix_is_recorded_whole(golden):
    assert {key.rsplit("/", 1)[0] for key in golden} == {case_name(*c) for c in CASES}
    # Not degenerate: CutMix boxes and k-way partners are in it, and the cases differ.
    assert any(key.endswith("/box") for key in golden)
    assert any(key.endswith("/more_permutations") for key in golden)
    seeds = {
        golden[f"{case_name('mixup', False, 1.0, seed)}/permutation"].tobytes()
        for seed in (0, 12345)
    }
    weights = {
        golden[f"{case_name('mixup', True, alpha, 0)}/mix_weight"].tobytes()
        for alpha in (0.05, 1.0)
    }
    assert len(seeds) == 2 and len(weights) == 2


@pytest.mark.parametrize("case", CASES, ids=[case_name(*c) for c in CASES])
def test_numpy_draws_are_the_recorded_ones(case, golden):
    assert_matches(case, draw(*case), golden)


@pytest.mark.parametrize("mode", ["tensorflow eager", "tensorflow xla", "keras.ops"])
def test_other_bindings_draw_the_recorded_ones(mode, golden):
    tf = pytest.importorskip("tensorflow")
    from keras_mixup._src.bindings.ops import (
        KERAS,
    )  # the keras.ops binding (TensorFlow backend here)

    # XLA compiles each case (about a second each): one alpha and seed per setting there.
    cases = [c for c in CASES if c[2:] == (1.0, 0)] if mode == "tensorflow xla" else CASES
    for case in cases:
        if mode == "keras.ops":
            import keras

            drawn = draw(*case, convert=keras.ops.convert_to_tensor, ops=KERAS)
        else:
            run = lambda case=case: draw(*case, convert=tf.constant)  # noqa: E731
            drawn = (tf.function(run, jit_compile=True) if mode == "tensorflow xla" else run)()
        assert_matches(case, drawn, golden)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, **record())
    print(f"wrote {GOLDEN} ({len(CASES)} cases)")

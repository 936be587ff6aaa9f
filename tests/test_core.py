"""The one core: its random words, its two bindings, and the shape of the package
(one place draws randomness, no import cycles, no private names across modules)."""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixParams, blend, sample_mix_params
from keras_mixup._src.ops import KERAS
from keras_mixup._src.sampling import fold_in, random_words, threefry2x32
from keras_mixup._src.tf_ops import TENSORFLOW

PACKAGE = Path(__file__).resolve().parents[1] / "keras_mixup"

# Random123's known-answer vectors for Threefry-2x32-20: (key, counter) -> output.
THREEFRY_KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


def _int32(words):
    return np.array(words, np.uint32).view(np.int32)


@pytest.mark.parametrize("binding", [TENSORFLOW, KERAS], ids=["tensorflow", "keras"])
@pytest.mark.parametrize("key, counter, expected", THREEFRY_KAT)
def test_threefry_matches_the_known_answer_vectors(binding, key, counter, expected):
    key_tensor = binding.convert(_int32(key))
    low, high = threefry2x32(
        key_tensor,
        binding.convert(_int32(counter[:1])),
        binding.convert(_int32(counter[1:])),
        ops=binding,
    )
    got = [int(np.asarray(keras.ops.convert_to_numpy(t)).view(np.uint32)[0]) for t in (low, high)]
    assert got == list(expected)


def test_threefry_compiles_under_xla_with_the_same_words():
    seed = tf.constant([3, 4])
    eager = random_words(seed, 101, ops=TENSORFLOW)
    compiled = tf.function(lambda s: random_words(s, 101, ops=TENSORFLOW), jit_compile=True)(seed)
    np.testing.assert_array_equal(eager.numpy(), compiled.numpy())


def test_random_words_prefix_does_not_depend_on_the_count_and_streams_differ():
    seed = tf.constant([8, 9])
    np.testing.assert_array_equal(
        random_words(seed, 7, ops=TENSORFLOW)[:5].numpy(),
        random_words(seed, 5, ops=TENSORFLOW).numpy(),
    )
    assert not np.array_equal(
        random_words(seed, 8, ops=TENSORFLOW).numpy(),
        random_words(seed, 8, stream=1, ops=TENSORFLOW).numpy(),
    )
    folded = [fold_in(seed, i, ops=TENSORFLOW).numpy().tolist() for i in range(4)]
    assert len({tuple(f) for f in folded}) == 4


def test_64_bit_seeds_use_their_low_words():
    wide = tf.constant([2**40 + 5, 7], tf.int64)
    np.testing.assert_array_equal(
        random_words(wide, 6, ops=TENSORFLOW).numpy(),
        random_words(tf.constant([5, 7]), 6, ops=TENSORFLOW).numpy(),
    )


@pytest.mark.parametrize("per_example", [False, True])
def test_both_bindings_draw_and_blend_the_same(per_example):
    """On the TensorFlow backend both bindings run on tf tensors: same parameters,
    same blend (the other backends are compared in test_backends.py)."""
    seed = tf.constant([21, 22])
    ours = sample_mix_params(seed, 9, 0.3, per_example, ops=TENSORFLOW)
    keras_ops = sample_mix_params(seed, 9, 0.3, per_example, ops=KERAS)
    np.testing.assert_array_equal(ours.permutation.numpy(), keras_ops.permutation.numpy())
    np.testing.assert_allclose(ours.mix_weight.numpy(), keras_ops.mix_weight.numpy(), rtol=1e-6)
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (9, 4, 4, 3)), tf.uint8)
    np.testing.assert_array_equal(
        blend(images, ours, ops=TENSORFLOW).numpy(), blend(images, ours, ops=KERAS).numpy()
    )


def test_blend_computes_in_float64_for_float64_outputs():
    x = tf.constant([[1.0 + 2**-40], [0.0]], tf.float64)
    params = MixParams(mix_weight=tf.constant([0.5, 0.5]), permutation=tf.constant([1, 0]))
    assert blend(x, params).numpy()[0, 0] == (1.0 + 2**-40) / 2  # not rounded to float32


# ---------------------------------------------------------------- package structure


def _modules():
    return {path.stem: ast.parse(path.read_text()) for path in PACKAGE.glob("*.py")}


def _imports(tree):
    """(module, names) of every `from keras_mixup... import ...`, function-level included."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("keras_mixup")
        ):
            module = node.module.split(".")[1] if "." in node.module else None
            found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("keras_mixup."):
                    found.append((alias.name.split(".")[1], []))
    return found


def test_no_import_cycles_among_the_modules_late_imports_included():
    modules = _modules()
    graph = {
        name: {
            module or imported
            for module, names in _imports(tree)
            for imported in (names if module is None else [module])
        }
        - {"__init__"}
        for name, tree in modules.items()
        if name != "__init__"
    }
    visiting, done = set(), set()

    def visit(node, path):
        if node in visiting:
            raise AssertionError(f"import cycle: {' -> '.join(path + [node])}")
        if node in done or node not in graph:
            return
        visiting.add(node)
        for child in graph[node]:
            visit(child, path + [node])
        visiting.discard(node)
        done.add(node)

    for node in graph:
        visit(node, [])


def test_no_module_imports_another_modules_private_names():
    for name, tree in _modules().items():
        for module, names in _imports(tree):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{name}.py imports {private} from keras_mixup.{module}"


def test_randomness_is_drawn_only_in_sampling():
    """Only sampling.py turns seeds into random values; the fronts only move seeds."""
    drawing = ("stateless_uniform", "stateless_normal", "random.beta", "random.gamma",
               "random.uniform(", "random.normal(", "random.shuffle", "stateless_gamma")  # fmt: skip
    for path in PACKAGE.glob("*.py"):
        if path.stem in ("sampling", "diagnostics"):  # diagnostics: evaluation pairs
            continue
        text = path.read_text()
        assert not [d for d in drawing if d in text], path.name

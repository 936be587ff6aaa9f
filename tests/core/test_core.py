"""The one core: its random words, its two bindings, and the shape of the package
(one place draws randomness, no import cycles, no private names across modules)."""

import ast
import importlib.util
import inspect
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixParams, blend, sample_mix_params
from keras_mixup._src.bindings.binding import RENAMES, Binding, Ops
from keras_mixup._src.bindings.ops import KERAS, NUMPY
from keras_mixup._src.bindings.tf_ops import TENSORFLOW
from keras_mixup._src.core.sampling import fold_in, random_words, threefry2x32

PACKAGE = Path(__file__).resolve().parents[2] / "keras_mixup"

# Random123's known-answer vectors for Threefry-2x32-20: (key, counter) -> output.
THREEFRY_KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


BINDINGS = {"numpy": NUMPY, "keras": KERAS, "tensorflow": TENSORFLOW}


def _protocol_members() -> list:
    return [
        name
        for name in dir(Ops)
        if not name.startswith("_") and name in {*vars(Ops), *Ops.__annotations__}
    ]


@pytest.mark.parametrize("name", list(BINDINGS))
def test_every_binding_provides_the_protocol_with_its_signatures(name):
    """Issue 42, item 4: each binding is held to `Ops` (a typing.Protocol): every member
    present, and every primitive a binding writes itself takes the Protocol's arguments
    (a rename, a library function, takes the library's)."""
    binding = BINDINGS[name]
    assert isinstance(binding, Ops)
    members = _protocol_members()
    assert {"convert", "check", "irfft2", "weighted_pair", "where"} <= set(members)
    column = list(BINDINGS).index(name)
    for member in members:
        assert hasattr(binding, member), (name, member)
        renamed = member in RENAMES and RENAMES[member][column] is not None
        if renamed or not callable(getattr(type(binding), member)):
            continue  # a library's function (NumPy 1's ufuncs have no signature), or data
        expected = list(inspect.signature(getattr(Ops, member)).parameters)[1:]  # less self
        got = [p for p in inspect.signature(getattr(binding, member)).parameters]
        assert got == expected, (name, member)


def test_each_rename_is_written_once_and_installed():
    """A primitive in `RENAMES` is the library's function in every binding that names it,
    and no binding's class also writes it by hand."""
    namespaces = {"numpy": np, "keras": keras.ops, "tensorflow": tf}
    for name, binding in BINDINGS.items():
        tree = ast.parse(inspect.getsource(type(binding)).lstrip())
        written = {
            node.name if isinstance(node, ast.FunctionDef) else node.targets[0].id
            for node in tree.body[0].body
            if isinstance(node, ast.FunctionDef)
            or (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name))
        }
        assert "check" not in written or name != "numpy"  # NumPy's is the base's
        for primitive, paths in RENAMES.items():
            path = paths[list(BINDINGS).index(name)]
            if path is None:
                assert primitive in written, (name, primitive)
                continue
            assert primitive not in written, (name, primitive)
            library = namespaces[name]
            for part in path.split("."):
                library = getattr(library, part)
            assert inspect.getattr_static(type(binding), primitive).__func__ is library
    assert all(isinstance(b, Binding) for b in BINDINGS.values())


def test_the_bindings_agree_on_every_rename():
    x = np.array([[0.5, -1.0], [2.0, 3.0]], np.float32)
    ints = np.array([5, -7], np.int32)
    calls = {
        "where": (x > 0, x, -x), "maximum": (x, 1.0), "minimum": (x, 1.0), "sqrt": (abs(x),),
        "log": (abs(x) + 1,), "exp": (x,), "cos": (x,), "sin": (x,), "sigmoid": (x,),
        "floor": (x,), "bit_and": (ints, 3), "bit_or": (ints, 3), "bit_xor": (ints, 3),
        "reshape": (x, [4]), "broadcast_to": (x[0], [3, 2]), "transpose": (x, [1, 0]),
        "squeeze": (x[:1], 0), "stack": ([x, x], 1), "max": (x, 1), "any": (x > 0, 1),
        "all": (x > 0, 0), "sum": (x, 0), "cast": (x, "int32"), "convert": (x,),
    }  # fmt: skip
    assert set(calls) == set(RENAMES) - {"cond"}
    for primitive, args in calls.items():
        values = [np.asarray(keras.ops.convert_to_numpy(getattr(b, primitive)(*args)))
                  for b in BINDINGS.values()]  # fmt: skip
        for value in values[1:]:
            np.testing.assert_allclose(value, values[0], rtol=1e-6, err_msg=primitive)


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
    eager = random_words(seed, 101, 6, ops=TENSORFLOW)
    compiled = tf.function(lambda s: random_words(s, 101, 6, ops=TENSORFLOW), jit_compile=True)(
        seed
    )
    np.testing.assert_array_equal(eager.numpy(), compiled.numpy())


def test_random_words_prefix_does_not_depend_on_the_count_and_streams_differ():
    seed = tf.constant([8, 9])
    np.testing.assert_array_equal(
        random_words(seed, 7, 6, ops=TENSORFLOW)[:5].numpy(),
        random_words(seed, 5, 6, ops=TENSORFLOW).numpy(),
    )
    assert not np.array_equal(
        random_words(seed, 8, 6, ops=TENSORFLOW).numpy(),
        random_words(seed, 8, stream=1, ops=TENSORFLOW).numpy(),
    )
    folded = [fold_in(seed, i, ops=TENSORFLOW).numpy().tolist() for i in range(4)]
    assert len({tuple(f) for f in folded}) == 4


def test_64_bit_seeds_use_their_low_words():
    wide = tf.constant([2**40 + 5, 7], tf.int64)
    np.testing.assert_array_equal(
        random_words(wide, 6, 6, ops=TENSORFLOW).numpy(),
        random_words(tf.constant([5, 7]), 6, 6, ops=TENSORFLOW).numpy(),
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
    """Every module of the package by dotted name (`_src.core.sampling`, `adversarial`, ...)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)  # a package: its name
        found[name] = ast.parse(path.read_text())
    return found


def _imports(tree):
    """(module, names) of every keras_mixup import, function-level included; module is
    the dotted name inside the package ("" for the package itself)."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("keras_mixup")
        ):
            module = node.module.removeprefix("keras_mixup").lstrip(".")
            found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("keras_mixup."):
                    found.append((alias.name.removeprefix("keras_mixup."), []))
    return found


def _targets(module: str, names: list, modules: dict) -> set:
    """The package modules an import statement depends on."""
    targets = set()
    for name in names or [None]:
        candidate = f"{module}.{name}".lstrip(".") if name else module
        target = candidate if candidate in modules else module
        parts = target.split(".")
        # importing a module of a subpackage runs the subpackage's __init__ first
        targets |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return targets - {"", "_src"}


def test_no_import_cycles_among_the_modules_late_imports_included():
    modules = _modules()
    graph = {  # subpackages (`_src.methods`: its __init__) are nodes too
        name: set().union(*[_targets(m, n, modules) for m, n in _imports(tree)] or [set()])
        - {name}
        - {name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)}  # its own packages
        for name, tree in modules.items()
        if name not in ("", "_src")  # the package itself re-exports: it sits above all
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


# The subpackages of _src, each importing only those below it (docs/design.md).
MAY_IMPORT = {
    "bindings": {"bindings"},
    "core": {"bindings", "core"},
    "fronts": {"bindings", "core", "fronts"},
    "paper": {"bindings", "core", "paper"},
}


def test_each_subpackage_imports_only_the_layers_below_it():
    """bindings <- core <- fronts, and core <- paper: a module of _src lives in one of the
    four subpackages, imports only what its subpackage may, and never the public package
    (which re-exports _src), late imports included."""
    modules = _modules()
    for name, tree in modules.items():
        parts = name.split(".")
        if parts[0] != "_src" or name == "_src":
            continue
        assert parts[1] in MAY_IMPORT, f"{name} is outside the four subpackages"
        for module, names in _imports(tree):
            for target in _targets(module, names, modules):
                layer = target.split(".")
                assert layer[0] == "_src", f"{name} imports the public keras_mixup.{target}"
                assert layer[1] in MAY_IMPORT[parts[1]], f"{name} imports {target}"


def test_the_layer_rule_catches_an_import_against_it():
    """The rule above, on a made-up module of `core` that imports a front: it fails."""
    tree = ast.parse("from keras_mixup._src.fronts.layer import MixupLayer")
    targets = set().union(*[_targets(m, n, _modules()) for m, n in _imports(tree)])
    assert "_src.fronts.layer" in targets
    assert not {t.split(".")[1] for t in targets} <= MAY_IMPORT["core"]


def test_no_module_imports_another_modules_private_names():
    for name, tree in _modules().items():
        for module, names in _imports(tree):
            private = [n for n in names if n.startswith("_") and n != "_src"]
            assert not private, f"{name}.py imports {private} from keras_mixup.{module}"


def test_randomness_is_drawn_only_in_sampling():
    """Only sampling.py turns seeds into random values; the fronts only move seeds
    (seeds.py makes seeds; diagnostics.py draws evaluation pairs)."""
    drawing = ("stateless_uniform", "stateless_normal", "random.beta", "random.gamma",
               "random.uniform(", "random.normal(", "random.shuffle", "stateless_gamma")  # fmt: skip
    for path in PACKAGE.rglob("*.py"):
        if (
            path.stem in ("sampling", "sampler", "diagnostics", "seeds")
            or path.parent.name == "methods"
        ):
            continue
        text = path.read_text()
        assert not [d for d in drawing if d in text], path.name


def test_tensorflow_is_imported_only_by_the_tf_data_front_and_its_binding():
    allowed = {"_src.bindings.tf_ops", "_src.fronts.tf_data"}
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            if any(m.split(".")[0] == "tensorflow" for m in modules):
                assert name in allowed, f"{name}.py imports TensorFlow"


# Public entry points: `ops=None` means "the binding for the tensor given", resolved once.
PUBLIC_OPS_DEFAULT = {"blend", "sample_mix_params", "sample_beta", "sample_log_gamma"}


def test_one_ops_convention_a_required_keyword_inside_the_core():
    """Every private function of _src that takes `ops` takes it as a keyword-only
    argument without default (see ops.py); the public entry points default to None."""
    checked = 0
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            arguments = node.args
            positional = [a.arg for a in arguments.posonlyargs + arguments.args]
            keyword_only = [a.arg for a in arguments.kwonlyargs]
            if "ops" not in positional + keyword_only:
                continue
            checked += 1
            where = f"{name}.{node.name}"
            if node.name in PUBLIC_OPS_DEFAULT:
                default = arguments.defaults[positional.index("ops") - len(positional)]
                assert isinstance(default, ast.Constant) and default.value is None, where
                continue
            assert "ops" in keyword_only, f"{where}: `ops` must be keyword-only"
            default = arguments.kw_defaults[keyword_only.index("ops")]
            assert default is None, f"{where}: `ops` must have no default"
    assert checked > 40, checked


def test_the_public_surface_is_what_init_exports():
    """keras_mixup's public names are its __all__ and the documented submodules';
    every other module lives under keras_mixup._src."""
    import keras_mixup

    public_files = {p.stem for p in PACKAGE.glob("*.py")}
    assert public_files == {"__init__", "adversarial", "diagnostics", "methods", "neighbours"}
    exported = set(keras_mixup.__all__)
    visible = {n for n in dir(keras_mixup) if not n.startswith("_")}
    assert visible == exported, visible ^ exported
    for module in ("adversarial", "diagnostics", "methods", "neighbours"):
        tree = _modules()[module]
        defined = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not defined, f"{module}.py defines code; it re-exports from _src"
        submodule = getattr(keras_mixup, module)
        assert {n for n in dir(submodule) if not n.startswith("_")} == set(submodule.__all__)


_WITHOUT_TENSORFLOW = """
import sys

sys.modules["tensorflow"] = None  # as if not installed: imports fail, find_spec gives None
import keras, numpy as np
import keras_mixup
layer = keras_mixup.MixupLayer(alpha=0.5, seed=0)
model = keras.Sequential([keras.Input((4,)), layer, keras.layers.Dense(3)])
model.compile("sgd", keras_mixup.MixupLoss("sparse_categorical_crossentropy", layer=layer,
              from_logits=True), metrics=[keras_mixup.MixupAccuracy(layer=layer)])
x, y = np.ones((8, 4), "float32"), np.arange(8) % 3
assert np.isfinite(model.train_on_batch(x, y, return_dict=True)["loss"])
features, targets = keras_mixup.MixupTransform(alpha=1.0, num_classes=3, seed=0)(x, y)
assert targets.shape == (8, 3)
try:
    keras_mixup.checkpointable(None)
except ImportError as error:
    assert "pip install 'keras_mixup[tensorflow]'" in str(error), error
else:
    raise AssertionError("no ImportError")
assert sys.modules["tensorflow"] is None and not any(m.startswith("tensorflow.") for m in sys.modules)
print("OK")
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_import_and_train_with_tensorflow_blocked(backend):
    """The quick version of `make notf` (an environment without TensorFlow, JAX there),
    on JAX and on PyTorch."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    process = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TENSORFLOW],
        env={**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0 and "OK" in process.stdout, process.stderr[-3000:]

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property-based tests: derandomized by default, so that `make test` (and CI) is repeatable;
# HYPOTHESIS_PROFILE=explore draws fresh examples on every run.
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def policy():
    """Sets a Keras dtype policy for one test and restores float32 afterwards."""

    def set_policy(name):
        keras.config.set_dtype_policy(name)

    yield set_policy
    keras.config.set_dtype_policy("float32")


# `pytest -m "not slow"` (a contributor's loop, a few minutes): everything but the tests that
# start fresh processes (other backends, installs, strategies, tutorials and examples), build
# the docs, run benchmarks or train. One list, measured (`pytest --durations=0`: each of these
# took 4 s or more beside other work; the whole suite 40 min there): whole files by path, single
# tests by file and name prefix. `make test` runs everything.
SLOW_FILES = {
    "tests/integration/test_backends.py",  # a fresh JAX / PyTorch process per backend
    "tests/integration/test_benchmarks.py",
    "tests/integration/test_composition.py",  # Keras's layers before and after ours, trained
    "tests/integration/test_distribute.py",
    "tests/integration/test_docs_site.py",  # the docs build and a browser
    "tests/integration/test_eager_step.py",
    "tests/integration/test_packaging.py",  # wheel installs
    "tests/integration/test_quiet_logs.py",
    "tests/integration/test_readme.py",
    "tests/integration/test_troubleshooting.py",
    "tests/integration/test_tutorials.py",
    "tests/paper/test_fashion_mnist.py",
    "tests/paper/test_gan.py",
    "tests/paper/test_image_examples.py",
    "tests/paper/test_paper_diagnostics.py",
    "tests/paper/test_paper_report.py",
    "tests/paper/test_speech_commands.py",
    "tests/paper/test_toy.py",
    "tests/paper/test_uci.py",
}
SLOW_TESTS = {  # file: name prefixes
    "tests/core/test_core.py": ("test_import_and_train_with_tensorflow_blocked",),
    "tests/core/test_sampling.py": ("test_per_batch_lambda_follows_beta",),
    "tests/core/test_same_draws.py": ("test_other_bindings_draw_the_recorded_ones",),
    "tests/integration/test_fuzz.py": ("test_tf_data_front_mixes_every_generated_element",),
    "tests/fronts/test_schedule.py": ("test_the_recipe_turns_every_method_off_in_the_transform",),
    "tests/methods/test_pasting.py": ("test_the_layer_trains_with_each_method_under_xla",),
}


def pytest_collection_modifyitems(config, items):
    root = Path(__file__).resolve().parents[1]
    for item in items:
        path = Path(str(item.fspath)).resolve()
        relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else ""
        if relative in SLOW_FILES or item.name.startswith(SLOW_TESTS.get(relative, ("\x00",))):
            item.add_marker(pytest.mark.slow)


# Scripts for tests/integration/test_distribute.py and tests/integration/test_backends.py: run as fresh processes, never imported
# (they configure devices and start strategies at import).
collect_ignore = ["distributed", "backends"]

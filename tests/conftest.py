import os

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


# Scripts for tests/integration/test_distribute.py and tests/integration/test_backends.py: run as fresh processes, never imported
# (they configure devices and start strategies at import).
collect_ignore = ["distributed", "backends"]

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_mixup  # noqa: E402


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace.update(
        np=np, tf=tf, keras=keras, **{n: getattr(keras_mixup, n) for n in keras_mixup.__all__}
    )
    doctest_namespace.update(MixParams=keras_mixup.MixParams)


@pytest.fixture
def policy():
    """Sets a Keras dtype policy for one test and restores float32 afterwards."""

    def set_policy(name):
        keras.config.set_dtype_policy(name)

    yield set_policy
    keras.config.set_dtype_policy("float32")

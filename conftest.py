"""Root pytest configuration: the names the docstring examples in keras_mixup/ use."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_mixup  # noqa: E402

try:  # the no-TensorFlow environment (make notf) has none
    import tensorflow as tf
except ImportError:
    tf = None


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace.update(np=np, tf=tf, keras=keras)
    doctest_namespace.update({name: getattr(keras_mixup, name) for name in keras_mixup.__all__})

"""The ops interface bound to TensorFlow (graph, eager and XLA): the binding of
the tf.data fronts, whatever `KERAS_BACKEND` is. See `binding.Ops` for the interface.

This module and `tf_data.py` are the only ones that import TensorFlow; both are
imported on first use, so `import keras_mixup` and the layer, loss and metric
work on JAX and PyTorch without TensorFlow installed.
"""

from __future__ import annotations

import re

try:
    import tensorflow as tf
except ImportError as error:  # pragma: no cover - exercised in the no-TensorFlow CI environment
    raise ImportError(
        "keras_mixup needs TensorFlow for tf.data pipelines (tf.data is part of TensorFlow). "
        "Install it with `pip install 'keras_mixup[tensorflow]'` (or `pip install tensorflow`); "
        "on JAX or PyTorch without TensorFlow, mix NumPy or Grain batches with MixupTransform "
        "or mix inside the model with MixupLayer + MixupLoss."
    ) from error

from keras_mixup._src.bindings.binding import Binding


class TensorFlowOps(Binding, namespace=tf):
    """The ops interface bound to TensorFlow."""

    name = "tensorflow"

    @staticmethod
    def dtype(x) -> str:
        return tf.as_dtype(x.dtype).name

    @staticmethod
    def rank(x) -> int | None:
        return tf.convert_to_tensor(x).shape.rank

    @staticmethod
    def static_shape(x) -> tuple | None:
        shape = tf.convert_to_tensor(x).shape
        return None if shape.rank is None else tuple(shape.as_list())

    @staticmethod
    def size(x, axis: int = 0):
        static = x.shape[axis] if x.shape.rank is not None else None
        return static if static is not None else tf.shape(x)[axis]

    @staticmethod
    def arange(n, dtype="int32"):
        return tf.range(n, dtype=dtype)

    @staticmethod
    def concat(tensors, axis: int = 0):
        return tf.concat(tensors, axis)

    def rows_like(self, weights, tensor):
        rank = tensor.shape.rank
        if rank is not None:
            return tf.reshape(weights, [-1] + [1] * (rank - 1))
        return tf.reshape(weights, tf.concat([[-1], tf.ones([tf.rank(tensor) - 1], tf.int32)], 0))

    @staticmethod
    def shift_left(x, bits: int):
        return tf.bitwise.left_shift(x, tf.constant(bits, x.dtype))

    @staticmethod
    def shift_right(x, bits: int):
        """Arithmetic shift (sign-extending) of a signed integer tensor."""
        return tf.bitwise.right_shift(x, tf.constant(bits, x.dtype))

    @staticmethod
    def cumsum(x, axis: int = 0):
        return tf.cumsum(x, axis=axis)

    @staticmethod
    def argsort(x):
        return tf.argsort(x, stable=True)

    @staticmethod
    def take(x, indices, axis: int = 0):
        return tf.gather(x, indices, axis=axis)

    @staticmethod
    def take_along_axis(x, indices, axis: int):
        return tf.experimental.numpy.take_along_axis(x, indices, axis=axis)

    @staticmethod
    def argmax(x, axis: int = -1):
        return tf.argmax(x, axis=axis, output_type=tf.int32)

    @staticmethod
    def one_hot(ids, depth: int, dtype="float32"):
        return tf.one_hot(ids, depth, dtype=dtype)

    @staticmethod
    def fft2(real, imag):
        spectrum = tf.signal.fft2d(tf.complex(tf.cast(real, tf.float32), tf.cast(imag, tf.float32)))
        return tf.math.real(spectrum), tf.math.imag(spectrum)

    @staticmethod
    def irfft2(real, imag, height: int, width: int):
        spectrum = tf.complex(tf.cast(real, tf.float32), tf.cast(imag, tf.float32))
        return tf.signal.irfft2d(spectrum, fft_length=[height, width])

    @staticmethod
    def check(condition, message: str, value=None) -> list:
        """Raises `ValueError(message)` now (eager), or returns an assert op that
        raises when run (graph). Inside an XLA-compiled function it returns nothing:
        XLA would drop the assert op and log that it did (callers make the result
        NaN instead); the tf.data fronts run their checks outside the compiled part."""
        if tf.executing_eagerly():
            return Binding.raise_unless(condition, message, value)
        if _in_xla_function():
            return []
        # TensorFlow prints an assert's strings C-escaped (`\\'cls\\'`): quoted spans in backticks
        message = re.sub(r"(['\"])([^'\"\s]*)\1", r"`\2`", message)
        data = [message] if value is None else [message, "The first offending value is", value()]
        return [tf.debugging.Assert(condition, data)]


def _in_xla_function() -> bool:
    """Whether the graph being traced is compiled by XLA (`jit_compile=True`)."""
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - a TensorFlow without it: assume XLA
        return True
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


TENSORFLOW = TensorFlowOps()

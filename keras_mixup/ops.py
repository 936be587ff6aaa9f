"""The small ops interface that keras_mixup's one core is written against.

`sampling` (drawing) and `mixing` (applying) call only the methods below, never
`tf.*` or `keras.ops.*` directly. Two bindings implement them:

- `TENSORFLOW`: TensorFlow ops. The tf.data fronts (`MixupTransform`, and
  `MixupLayer` mapped over a dataset) use it whatever `KERAS_BACKEND` is, because
  a tf.data graph can only hold TensorFlow ops.
- `KERAS`: `keras.ops`, so the same code runs on JAX arrays, torch tensors and
  TensorFlow tensors. `MixupLayer`, `MixupLoss` and `MixupAccuracy` use it inside
  a model on every backend.

This is the role `keras/src/layers/preprocessing/data_layer.py` gives to Keras's
dynamic backend, without importing Keras internals. The bindings hold no logic:
each method is one primitive, so the core cannot drift between them. Dtypes are
passed as names ("float32", "int32", ...), which both bindings accept.

`ops_for(x)` picks the binding for a tensor: `TENSORFLOW` for `tf.Tensor`,
`tf.Variable`, NumPy arrays and Python numbers, `KERAS` for everything else
(JAX arrays, torch tensors).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


class TensorFlowOps:
    """The ops interface bound to TensorFlow (graph, eager and XLA)."""

    name = "tensorflow"

    # -- tensors, dtypes and shapes -------------------------------------------------
    @staticmethod
    def convert(x, dtype=None):
        return tf.convert_to_tensor(x, dtype=dtype)

    @staticmethod
    def cast(x, dtype):
        return tf.cast(x, dtype)

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
        """The length of `axis`: a Python int when static, else a scalar int32 tensor."""
        static = x.shape[axis] if x.shape.rank is not None else None
        return static if static is not None else tf.shape(x)[axis]

    @staticmethod
    def arange(n, dtype="int32"):
        return tf.range(n, dtype=dtype)

    @staticmethod
    def reshape(x, shape):
        return tf.reshape(x, shape)

    @staticmethod
    def broadcast_to(x, shape):
        return tf.broadcast_to(x, shape)

    @staticmethod
    def concat(tensors, axis: int = 0):
        return tf.concat(tensors, axis)

    @staticmethod
    def stack(tensors, axis: int = 0):
        return tf.stack(tensors, axis)

    @staticmethod
    def squeeze(x, axis: int):
        return tf.squeeze(x, axis)

    @staticmethod
    def rows_like(weights, tensor):
        """`weights` `[B]` reshaped to broadcast over the rows of `tensor`."""
        rank = tensor.shape.rank
        if rank is not None:
            return tf.reshape(weights, [-1] + [1] * (rank - 1))
        return tf.reshape(weights, tf.concat([[-1], tf.ones([tf.rank(tensor) - 1], tf.int32)], 0))

    # -- arithmetic -----------------------------------------------------------------
    where = staticmethod(tf.where)
    maximum = staticmethod(tf.maximum)
    minimum = staticmethod(tf.minimum)
    sqrt = staticmethod(tf.sqrt)
    log = staticmethod(tf.math.log)
    exp = staticmethod(tf.exp)
    cos = staticmethod(tf.cos)
    sigmoid = staticmethod(tf.sigmoid)
    floor = staticmethod(tf.floor)
    logical_not = staticmethod(tf.logical_not)
    bit_and = staticmethod(tf.bitwise.bitwise_and)
    bit_or = staticmethod(tf.bitwise.bitwise_or)
    bit_xor = staticmethod(tf.bitwise.bitwise_xor)

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
    def sum(x, axis=None):
        return tf.reduce_sum(x, axis=axis)

    @staticmethod
    def max(x, axis=None):
        return tf.reduce_max(x, axis=axis)

    @staticmethod
    def any(x, axis=None):
        return tf.reduce_any(x, axis=axis)

    @staticmethod
    def all(x, axis=None):
        return tf.reduce_all(x, axis=axis)

    @staticmethod
    def argsort(x):
        return tf.argsort(x, stable=True)

    @staticmethod
    def take(x, indices, axis: int = 0):
        return tf.gather(x, indices, axis=axis)

    @staticmethod
    def argmax(x, axis: int = -1):
        return tf.argmax(x, axis=axis, output_type=tf.int32)

    @staticmethod
    def one_hot(ids, depth: int, dtype="float32"):
        return tf.one_hot(ids, depth, dtype=dtype)

    # -- control flow and checks ----------------------------------------------------
    @staticmethod
    def while_loop(cond, body, loop_vars):
        return tf.while_loop(cond, body, loop_vars)

    @staticmethod
    def cond(pred, true_fn, false_fn):
        return tf.cond(pred, true_fn, false_fn)

    @staticmethod
    def check(condition, message: str) -> list:
        """Raises `ValueError(message)` now (eager), or returns an assert op that
        raises when run (graph). XLA-compiled code drops the op: callers that can,
        run checks outside it."""
        if tf.executing_eagerly():
            if not bool(condition):
                raise ValueError(message)
            return []
        return [tf.debugging.Assert(condition, [message])]


class KerasOps:
    """The ops interface bound to `keras.ops`: TensorFlow, JAX or PyTorch tensors."""

    name = "keras"

    @staticmethod
    def convert(x, dtype=None):
        return keras.ops.convert_to_tensor(x, dtype=dtype)

    @staticmethod
    def cast(x, dtype):
        return keras.ops.cast(x, dtype)

    @staticmethod
    def dtype(x) -> str:
        return keras.backend.standardize_dtype(x.dtype)

    @staticmethod
    def rank(x) -> int | None:
        return len(x.shape) if x.shape is not None else None

    @staticmethod
    def static_shape(x) -> tuple | None:
        return None if x.shape is None else tuple(x.shape)

    @staticmethod
    def size(x, axis: int = 0):
        static = x.shape[axis]
        return static if static is not None else keras.ops.shape(x)[axis]

    @staticmethod
    def arange(n, dtype="int32"):
        return keras.ops.arange(n, dtype=dtype)

    reshape = staticmethod(keras.ops.reshape)
    broadcast_to = staticmethod(keras.ops.broadcast_to)

    @staticmethod
    def concat(tensors, axis: int = 0):
        return keras.ops.concatenate(tensors, axis=axis)

    @staticmethod
    def stack(tensors, axis: int = 0):
        return keras.ops.stack(tensors, axis=axis)

    @staticmethod
    def squeeze(x, axis: int):
        return keras.ops.squeeze(x, axis=axis)

    @staticmethod
    def rows_like(weights, tensor):
        return keras.ops.reshape(weights, (-1,) + (1,) * (len(tensor.shape) - 1))

    where = staticmethod(keras.ops.where)
    maximum = staticmethod(keras.ops.maximum)
    minimum = staticmethod(keras.ops.minimum)
    sqrt = staticmethod(keras.ops.sqrt)
    log = staticmethod(keras.ops.log)
    exp = staticmethod(keras.ops.exp)
    cos = staticmethod(keras.ops.cos)
    sigmoid = staticmethod(keras.ops.sigmoid)
    floor = staticmethod(keras.ops.floor)
    logical_not = staticmethod(keras.ops.logical_not)
    bit_and = staticmethod(keras.ops.bitwise_and)
    bit_or = staticmethod(keras.ops.bitwise_or)
    bit_xor = staticmethod(keras.ops.bitwise_xor)

    @staticmethod
    def shift_left(x, bits: int):
        return keras.ops.bitwise_left_shift(x, bits)

    @staticmethod
    def shift_right(x, bits: int):
        return keras.ops.bitwise_right_shift(x, bits)

    @staticmethod
    def cumsum(x, axis: int = 0):
        return keras.ops.cumsum(x, axis=axis)

    @staticmethod
    def sum(x, axis=None):
        return keras.ops.sum(x, axis=axis)

    @staticmethod
    def max(x, axis=None):
        return keras.ops.max(x, axis=axis)

    @staticmethod
    def any(x, axis=None):
        return keras.ops.any(x, axis=axis)

    @staticmethod
    def all(x, axis=None):
        return keras.ops.all(x, axis=axis)

    @staticmethod
    def argsort(x):
        # Stable on every backend: jnp.argsort and torch.argsort(stable=True) are,
        # and TensorFlow's top_k-based argsort lists equal keys in index order.
        return keras.ops.cast(keras.ops.argsort(x), "int32")

    @staticmethod
    def take(x, indices, axis: int = 0):
        return keras.ops.take(x, indices, axis=axis)

    @staticmethod
    def argmax(x, axis: int = -1):
        return keras.ops.cast(keras.ops.argmax(x, axis=axis), "int32")

    @staticmethod
    def one_hot(ids, depth: int, dtype="float32"):
        return keras.ops.one_hot(ids, depth, dtype=dtype)

    @staticmethod
    def while_loop(cond, body, loop_vars):
        if keras.backend.backend() == "jax" and not any(is_traced(v) for v in loop_vars):
            # Eager JAX: a Python loop on concrete values. jax.lax.while_loop would
            # compile the loop again at every call (its body is a new closure each time).
            while bool(cond(*loop_vars)):
                loop_vars = body(*loop_vars)
            return loop_vars
        return keras.ops.while_loop(cond, body, loop_vars)

    @staticmethod
    def cond(pred, true_fn, false_fn):
        return keras.ops.cond(pred, true_fn, false_fn)

    @staticmethod
    def check(condition, message: str) -> list:
        """Raises `ValueError(message)` where the value is known (eager TensorFlow,
        PyTorch, JAX outside `jit`), returns an assert op in a TensorFlow graph, and
        does nothing inside `jax.jit` / XLA (where callers make the result NaN)."""
        if keras.backend.backend() == "tensorflow":
            return TensorFlowOps.check(condition, message)
        if is_traced(condition):
            return []
        if not bool(keras.ops.convert_to_numpy(condition)):
            raise ValueError(message)
        return []


TENSORFLOW = TensorFlowOps()
KERAS = KerasOps()


def is_traced(x) -> bool:
    """Whether `x` is a placeholder of a trace (a JAX tracer, a tensor of a
    TensorFlow graph or of torch.compile) rather than a value."""
    backend = keras.backend.backend()
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return not tf.executing_eagerly()
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling()
    return False


def ops_for(x) -> TensorFlowOps | KerasOps:
    """The binding for tensors like `x` (see the module docstring)."""
    if isinstance(x, (tf.Tensor, tf.Variable, np.ndarray, np.generic, int, float, list, tuple)):
        return TENSORFLOW
    return KERAS

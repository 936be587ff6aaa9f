"""The NumPy and `keras.ops` bindings of the ops interface (`binding.Ops`) that
keras_mixup's one core is written against.

`sampling` (drawing) and `mixing` (applying) call only the methods of an ops
binding, never `tf.*`, `keras.ops.*` or `np.*` directly. Three bindings
implement the interface; each method is one primitive, so the core cannot drift
between them:

- `NUMPY`: NumPy on the host. Grain pipelines, NumPy batches from generators,
  `keras.utils.PyDataset`s and data loaders, and the draw of a model's mixing
  parameters where the backend runs eagerly (a few hundred small integer ops
  cost microseconds on the host, and one transfer moves the result).
- `KERAS`: `keras.ops`, on the tensors of the Keras backend (TensorFlow, JAX or
  PyTorch). `MixupLayer`, `MixupLoss` and `MixupAccuracy` use it inside a model.
- `tensorflow_ops()`: TensorFlow ops, for tf.data graphs whatever
  `KERAS_BACKEND` is (a tf.data graph can only hold TensorFlow ops). It lives
  in `tf_ops.py`, which imports TensorFlow; nothing else here does.

This is the role `keras/src/layers/preprocessing/data_layer.py` gives to Keras's
dynamic backend, without importing Keras internals. Dtypes are passed as names
("float32", "int32", ...), which every binding accepts.

The `ops` convention (held by `tests/core/test_core.py`): every private function of
the core that computes on tensors takes the binding as a **required keyword
argument `ops`, with no default**, so a call that forgets it fails at once
instead of running on the wrong library. The public functions
(`keras_mixup.blend`, `sample_mix_params`, `sample_beta`) accept `ops=None`,
resolve it once with `ops_for` (the binding for the kind of tensor given) and
pass it on.
"""

from __future__ import annotations

import os
import sys

import keras
import numpy as np

from keras_mixup._src.bindings.binding import Binding


def is_tensorflow_tensor(x) -> bool:
    """Whether `x` is a TensorFlow tensor or variable (without importing TensorFlow)."""
    return type(x).__module__.startswith("tensorflow") and "tensorflow" in sys.modules


def is_tensorflow_dataset(x) -> bool:
    """Whether `x` is a `tf.data.Dataset` (without importing TensorFlow)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(x, tf.data.Dataset)


def batch_count(dataset) -> int | None:
    """How many batches iterating `dataset` yields, where it says: a `tf.data.Dataset`'s
    `cardinality()` when finite and known, a `PyDataset`'s `num_batches`, the `len()` of a
    Sequence, a Grain `MapDataset`, a list or an array of batches; None otherwise (a
    generator, an infinite or unknown cardinality, an empty dataset)."""
    # tf.data by duck typing: TensorFlow is imported only where tf.data is used
    cardinality = getattr(dataset, "cardinality", None)
    if callable(cardinality):
        try:
            count = int(cardinality())  # -1: infinite, -2: unknown
        except (TypeError, ValueError):
            count = -1
    else:
        try:
            count = dataset.num_batches  # a PyDataset's (None: infinite)
        except (AttributeError, NotImplementedError):
            count = None
        if count is None:
            try:
                count = len(dataset)
            except TypeError:
                count = -1
    # 0 is no length to draw a bar for (Keras 3.7 fails on it); an endless Grain dataset
    # reports sys.maxsize
    return int(count) if 0 < count < sys.maxsize else None


def in_grain_pipeline() -> bool:
    """Whether the caller runs inside a Grain pipeline (a Grain dataset's frame is
    on the stack), as Keras's preprocessing layers detect it."""
    if "grain" not in sys.modules:
        return False
    frame = sys._getframe(1)
    markers = (
        os.path.join("grain", "_src", "python", "dataset"),
        os.path.join("grain", "_src", "python", "data_loader"),
    )
    while frame is not None:
        if any(marker in frame.f_code.co_filename for marker in markers):
            return True
        frame = frame.f_back
    return False


def in_tensorflow_graph() -> bool:
    """Whether TensorFlow is tracing a graph (a tf.data map function, a tf.function)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and not tf.executing_eagerly()


def is_traced(x) -> bool:
    """Whether `x` is a placeholder of a trace (a JAX tracer, a tensor of a
    TensorFlow graph, a tensor under torch.compile) rather than a value."""
    if is_tensorflow_tensor(x):
        return in_tensorflow_graph()
    module = type(x).__module__
    if module.startswith("jax"):
        import jax

        return isinstance(x, jax.core.Tracer)
    if module.startswith("torch"):
        import torch

        return torch.compiler.is_compiling()
    return False


class NumPyOps(Binding, namespace=np):
    """The ops interface bound to NumPy (host arrays)."""

    name = "numpy"
    host = True

    @staticmethod
    def convert(x, dtype=None):
        if dtype is None:
            return np.asarray(x)
        return np.asarray(x, dtype=np.dtype(dtype))

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x).astype(np.dtype(dtype), copy=False)

    @staticmethod
    def dtype(x) -> str:
        # NumPy's names are Keras's ("float32", "uint8", "bool", ml_dtypes' "bfloat16");
        # strings and objects keep NumPy's name ("str32"), which the checks report.
        return np.asarray(x).dtype.name

    @staticmethod
    def rank(x) -> int:
        return np.ndim(x)

    @staticmethod
    def static_shape(x) -> tuple:
        return tuple(np.shape(x))

    @staticmethod
    def size(x, axis: int = 0):
        return np.shape(x)[axis]

    @staticmethod
    def arange(n, dtype="int32"):
        return np.arange(n, dtype=np.dtype(dtype))

    @staticmethod
    def concat(tensors, axis: int = 0):
        return np.concatenate(tensors, axis=axis)

    @staticmethod
    def sigmoid(x):
        x = np.asarray(x)
        # exp(-|x|) never overflows; the two branches agree where both are finite
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)

    @staticmethod
    def shift_left(x, bits: int):
        return np.left_shift(x, np.asarray(bits, np.asarray(x).dtype))

    @staticmethod
    def shift_right(x, bits: int):
        return np.right_shift(x, np.asarray(bits, np.asarray(x).dtype))

    @staticmethod
    def rotate_left(x, bits: int):
        """Three ops on the uint32 view (the same bits as the generic four)."""
        words = x.view(np.uint32)
        rotated = np.bitwise_or(np.left_shift(words, bits), np.right_shift(words, 32 - bits))
        return rotated.view(np.int32)

    @staticmethod
    def cumsum(x, axis: int = 0):
        return np.cumsum(x, axis=axis, dtype=np.asarray(x).dtype)

    @staticmethod
    def sum(x, axis=None):
        return np.sum(x, axis=axis, dtype=np.asarray(x).dtype)

    @staticmethod
    def argsort(x):
        return np.argsort(x, kind="stable").astype(np.int32)

    @staticmethod
    def take(x, indices, axis: int = 0):
        return np.take(x, indices, axis=axis)

    @staticmethod
    def take_along_axis(x, indices, axis: int):
        return np.take_along_axis(x, indices, axis=axis)

    @staticmethod
    def argmax(x, axis: int = -1):
        return np.argmax(x, axis=axis).astype(np.int32)

    @staticmethod
    def one_hot(ids, depth: int, dtype="float32"):
        ids = np.asarray(ids)
        return (ids[..., None] == np.arange(depth)).astype(np.dtype(dtype))

    @staticmethod
    def fft2(real, imag):
        spectrum = np.fft.fft2(np.asarray(real, np.float32) + 1j * np.asarray(imag, np.float32))
        return spectrum.real.astype(np.float32), spectrum.imag.astype(np.float32)

    @staticmethod
    def irfft2(real, imag, height: int, width: int):
        spectrum = np.asarray(real, np.float32) + 1j * np.asarray(imag, np.float32)
        return np.fft.irfft2(spectrum, s=(height, width)).astype(np.float32)

    @staticmethod
    def weighted_pair(x, own, x_partner, partner):
        # converted inside the multiplications: no full-size float copies of uint8
        # images before them (two fewer float arrays written than casting first)
        out = np.multiply(x, own, dtype=own.dtype)
        out += np.multiply(x_partner, partner, dtype=own.dtype)  # one temporary fewer
        return out

    @staticmethod
    def cond(pred, true_fn, false_fn):
        return true_fn() if bool(pred) else false_fn()


class KerasOps(Binding, namespace=keras.ops):
    """The ops interface bound to `keras.ops`: TensorFlow, JAX or PyTorch tensors."""

    name = "keras"

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

    @staticmethod
    def concat(tensors, axis: int = 0):
        return keras.ops.concatenate(tensors, axis=axis)

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
    def argsort(x):
        # Stable on every backend: jnp.argsort and torch.argsort(stable=True) are,
        # and TensorFlow's top_k-based argsort lists equal keys in index order.
        return keras.ops.cast(keras.ops.argsort(x), "int32")

    @staticmethod
    def take(x, indices, axis: int = 0):
        return keras.ops.take(x, indices, axis=axis)

    @staticmethod
    def take_along_axis(x, indices, axis: int):
        return keras.ops.take_along_axis(x, indices, axis=axis)

    @staticmethod
    def argmax(x, axis: int = -1):
        return keras.ops.cast(keras.ops.argmax(x, axis=axis), "int32")

    @staticmethod
    def one_hot(ids, depth: int, dtype="float32"):
        return keras.ops.one_hot(ids, depth, dtype=dtype)

    @staticmethod
    def fft2(real, imag):
        return keras.ops.fft2((real, imag))

    @staticmethod
    def irfft2(real, imag, height: int, width: int):
        """From keras.ops's 1-D transforms (no 2-D inverse in every supported Keras):
        the inverse DFT along the height, `ifft(z) = conj(fft(conj(z))) / n`, then the
        inverse real DFT along the width."""
        axes = [*range(len(real.shape) - 2), len(real.shape) - 1, len(real.shape) - 2]
        real, imag = keras.ops.transpose(real, axes), keras.ops.transpose(imag, axes)
        real, imag = keras.ops.fft((real, -imag))
        real, imag = keras.ops.transpose(real, axes), keras.ops.transpose(-imag, axes)
        return keras.ops.irfft((real / height, imag / height), fft_length=width)

    def weighted_pair(self, x, own, x_partner, partner):
        if keras.backend.backend() == "torch":
            import torch

            # two passes instead of three (measured 24 % faster for an ImageNet-shaped
            # batch on a CPU); torch.lerp would take one, but it rebuilds the larger
            # weight's complement as 1 - w and so drops a weight below 6e-8. Integer
            # and lower-precision rows are promoted to the weights' dtype by torch.
            return torch.addcmul(x * own, x_partner, partner)
        return super().weighted_pair(x, own, x_partner, partner)

    @staticmethod
    def check(condition, message: str, value=None) -> list:
        """Raises `ValueError(message)` where the value is known (eager TensorFlow,
        PyTorch, JAX outside `jit`), returns an assert op in a TensorFlow graph, and
        does nothing inside `jax.jit` / XLA (where callers make the result NaN)."""
        if is_tensorflow_tensor(condition) or keras.backend.backend() == "tensorflow":
            return tensorflow_ops().check(condition, message, value)
        if is_traced(condition):
            return []
        offending = None if value is None else lambda: keras.ops.convert_to_numpy(value())
        return Binding.raise_unless(keras.ops.convert_to_numpy(condition), message, offending)


NUMPY = NumPyOps()
KERAS = KerasOps()


def tensorflow_ops():
    """The TensorFlow binding (imports TensorFlow on first use)."""
    from keras_mixup._src.bindings.tf_ops import TENSORFLOW

    return TENSORFLOW


def ops_for(x) -> Binding:
    """The binding for tensors like `x`: TensorFlow for TensorFlow tensors and
    variables, NumPy for NumPy arrays and Python numbers, `keras.ops` for the
    rest (JAX arrays, torch tensors)."""
    if is_tensorflow_tensor(x):
        return tensorflow_ops()
    if isinstance(x, (np.ndarray, np.generic, int, float, bool, list, tuple)):
        return NUMPY
    return KERAS

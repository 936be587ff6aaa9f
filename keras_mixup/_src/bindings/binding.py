"""The ops interface the core is written against (`Ops`, a `typing.Protocol`), the
primitives that are one library function under another name in each binding
(`RENAMES`, written once for the three), and the base every binding derives from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

Tensor = Any  # a NumPy array, a TensorFlow, JAX or torch tensor: the binding's kind


@runtime_checkable
class Ops(Protocol):
    """Every primitive a binding provides (`tests/core/test_core.py` holds the three
    bindings to it). Dtypes are names ("float32", "int32"); `axis` is an int."""

    name: str
    host: bool  # values are known on the host: control flow on them is free

    # tensors, dtypes and shapes
    def convert(self, x, dtype: str | None = None) -> Tensor: ...
    def cast(self, x, dtype: str) -> Tensor: ...
    def dtype(self, x) -> str: ...
    def rank(self, x) -> int | None: ...
    def static_shape(self, x) -> tuple | None:
        """A tuple with None where unknown, or None (unknown rank)."""

    def size(self, x, axis: int = 0) -> int | Tensor:
        """A Python int when static, else a scalar int32 tensor."""

    def arange(self, n, dtype: str = "int32") -> Tensor: ...
    def reshape(self, x, shape) -> Tensor: ...
    def broadcast_to(self, x, shape) -> Tensor: ...
    def concat(self, tensors, axis: int = 0) -> Tensor: ...
    def stack(self, tensors, axis: int = 0) -> Tensor: ...
    def squeeze(self, x, axis: int) -> Tensor: ...
    def transpose(self, x, axes) -> Tensor: ...
    def rows_like(self, weights, tensor) -> Tensor:
        """A `[B]` vector shaped to broadcast over the rows of `tensor`."""

    # arithmetic
    def where(self, condition, x, y) -> Tensor: ...
    def maximum(self, x, y) -> Tensor: ...
    def minimum(self, x, y) -> Tensor: ...
    def sqrt(self, x) -> Tensor: ...
    def log(self, x) -> Tensor: ...
    def exp(self, x) -> Tensor: ...
    def cos(self, x) -> Tensor: ...
    def sin(self, x) -> Tensor: ...
    def sigmoid(self, x) -> Tensor: ...
    def floor(self, x) -> Tensor: ...
    def bit_and(self, x, y) -> Tensor: ...
    def bit_or(self, x, y) -> Tensor: ...
    def bit_xor(self, x, y) -> Tensor: ...
    def shift_left(self, x, bits: int) -> Tensor: ...
    def shift_right(self, x, bits: int) -> Tensor:
        """Arithmetic (sign-extending) shift of a signed integer tensor."""

    def rotate_left(self, x, bits: int) -> Tensor:
        """32-bit rotation of an int32 tensor."""

    def cumsum(self, x, axis: int = 0) -> Tensor: ...
    def sum(self, x, axis=None) -> Tensor: ...
    def max(self, x, axis=None) -> Tensor: ...
    def any(self, x, axis=None) -> Tensor: ...
    def all(self, x, axis=None) -> Tensor: ...
    def argsort(self, x) -> Tensor:
        """Stable, int32."""

    def take(self, x, indices, axis: int = 0) -> Tensor: ...
    def take_along_axis(self, x, indices, axis: int) -> Tensor: ...
    def argmax(self, x, axis: int = -1) -> Tensor:
        """int32."""

    def one_hot(self, ids, depth: int, dtype: str = "float32") -> Tensor: ...
    def fft2(self, real, imag) -> tuple[Tensor, Tensor]:
        """The 2-D DFT over the last two axes of a complex tensor given as float32 real
        and imaginary parts `[..., H, W]`: its real and imaginary parts."""

    def irfft2(self, real, imag, height: int, width: int) -> Tensor:
        """The inverse real 2-D DFT of a half spectrum given as real and imaginary parts
        `[..., H, W // 2 + 1]`: float32 `[..., H, W]`."""

    def weighted_pair(self, x, own, x_partner, partner) -> Tensor:
        """`own * x + partner * x_partner` in the weights' dtype (the blend's one pass)."""

    # control flow and checks
    def cond(self, pred, true_fn: Callable, false_fn: Callable) -> Any: ...
    def check(self, condition, message: str, value: Callable | None = None) -> list:
        """Raises `ValueError(message)` now where the condition is known, returns an
        assert op in a TensorFlow graph, nothing under XLA (callers make the result NaN).
        `value`: a function that gives the offending value (a scalar named in the error),
        called only where the check fails or an assert op is built."""


# The primitives that are one library function in a binding, by its path in the binding's
# namespace (numpy, keras.ops, tensorflow); None: the binding writes its own (a default, a
# dtype or a keyword differs).
RENAMES: dict[str, tuple[str | None, str | None, str | None]] = {
    #               numpy            keras.ops        tensorflow
    "where": ("where", "where", "where"),
    "maximum": ("maximum", "maximum", "maximum"),
    "minimum": ("minimum", "minimum", "minimum"),
    "sqrt": ("sqrt", "sqrt", "sqrt"),
    "log": ("log", "log", "math.log"),
    "exp": ("exp", "exp", "exp"),
    "cos": ("cos", "cos", "cos"),
    "sin": ("sin", "sin", "sin"),
    "sigmoid": (None, "sigmoid", "sigmoid"),
    "floor": ("floor", "floor", "floor"),
    "bit_and": ("bitwise_and", "bitwise_and", "bitwise.bitwise_and"),
    "bit_or": ("bitwise_or", "bitwise_or", "bitwise.bitwise_or"),
    "bit_xor": ("bitwise_xor", "bitwise_xor", "bitwise.bitwise_xor"),
    "reshape": ("reshape", "reshape", "reshape"),
    "broadcast_to": ("broadcast_to", "broadcast_to", "broadcast_to"),
    "transpose": ("transpose", "transpose", "transpose"),
    "squeeze": ("squeeze", "squeeze", "squeeze"),
    "stack": ("stack", "stack", "stack"),
    "max": ("max", "max", "reduce_max"),
    "any": ("any", "any", "reduce_any"),
    "all": ("all", "all", "reduce_all"),
    "sum": (None, "sum", "reduce_sum"),
    "cast": (None, "cast", "cast"),
    "convert": (None, "convert_to_tensor", "convert_to_tensor"),
    "cond": (None, "cond", "cond"),
}
_COLUMNS = {"numpy": 0, "keras": 1, "tensorflow": 2}


class Binding:
    """The base of the bindings: installs a subclass's `RENAMES` from `namespace` (its
    column by the subclass's `name`) where it does not define the primitive itself, and
    gives the primitives written once in terms of others."""

    name: str
    host: bool = False

    def __init_subclass__(cls, namespace=None, **kwargs):
        super().__init_subclass__(**kwargs)
        column = _COLUMNS[cls.name]
        for primitive, paths in RENAMES.items():
            path = paths[column]
            if path is None or primitive in vars(cls):
                continue
            function = namespace
            for part in path.split("."):
                function = getattr(function, part)
            setattr(cls, primitive, staticmethod(function))

    @staticmethod
    def raise_unless(condition, message: str, value=None) -> list:
        """The check where the condition's value is known now (`Ops.check`): raises
        `ValueError(message)`, naming the offending value if `value` gives one."""
        if not bool(condition):
            if value is not None:
                message = f"{message} The first offending value is {np.asarray(value()).item()!r}."
            raise ValueError(message)
        return []

    check = raise_unless

    def rotate_left(self, x, bits: int):
        """32-bit rotation of an int32 tensor (a shift right made logical by a mask)."""
        low = self.bit_and(self.shift_right(x, 32 - bits), (1 << bits) - 1)
        return self.bit_or(self.shift_left(x, bits), low)

    def weighted_pair(self, x, own, x_partner, partner):
        """`own * x + partner * x_partner` in the weights' dtype (the blend's one pass):
        both weights explicit, so a weight near 0 keeps its precision whichever row it
        belongs to. `x` and `x_partner` may be of any numeric dtype: the conversion is
        the binding's, which can fuse it into the pass (XLA) or skip it (NumPy)."""
        dtype = self.dtype(own)
        return own * self.cast(x, dtype) + partner * self.cast(x_partner, dtype)

    def rows_like(self, weights, tensor):
        rank = self.rank(tensor)
        return self.reshape(weights, [-1] + [1] * (rank - 1))

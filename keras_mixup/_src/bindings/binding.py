"""The base of the ops bindings (`ops.py`, `tf_ops.py`): the interface, documented once."""

from __future__ import annotations


class Binding:
    """The methods every binding provides (documented once, here)."""

    name: str
    host: bool = False  # values are known on the host: control flow on them is free

    # -- tensors, dtypes and shapes: convert, cast, dtype (a name), rank, static_shape
    #    (a tuple with None where unknown, or None), size (a Python int when static, else
    #    a scalar int32 tensor), arange, reshape, broadcast_to, concat, stack, squeeze, transpose,
    #    rows_like (a [B] vector shaped to broadcast over the rows of a tensor).
    # -- arithmetic: where, maximum, minimum, sqrt, log, exp, cos, sin, sigmoid,
    #    floor, bit_and, bit_or, bit_xor, shift_left, shift_right (arithmetic),
    #    rotate_left (32-bit), cumsum, sum, max, any, all, argsort (stable, int32), take,
    #    take_along_axis,
    #    argmax (int32), one_hot, irfft2 (the inverse real 2-D DFT of a half spectrum
    #    given as real and imaginary parts `[..., H, W // 2 + 1]`: float32 `[..., H, W]`).
    # -- control flow and checks: cond, check (raise now, or an assert op in a graph;
    #    `value`: a function that gives the offending value, a scalar named in the error,
    #    called only where the check fails or an assert op is built).

    @staticmethod
    def with_value(message: str, value) -> str:
        """`message` naming the offending value (`value()`, a scalar known now), if any."""
        if value is None:
            return message
        import numpy as np

        value = np.asarray(value()).item()
        return f"{message} The first offending value is {value!r}."

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

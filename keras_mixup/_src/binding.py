"""The base of the ops bindings (`ops.py`, `tf_ops.py`): the interface, documented once."""

from __future__ import annotations


class Binding:
    """The methods every binding provides (documented once, here)."""

    name: str
    host: bool = False  # values are known on the host: control flow on them is free

    # -- tensors, dtypes and shapes: convert, cast, dtype (a name), rank, static_shape
    #    (a tuple with None where unknown, or None), size (a Python int when static, else
    #    a scalar int32 tensor), arange, reshape, broadcast_to, concat, stack, squeeze,
    #    rows_like (a [B] vector shaped to broadcast over the rows of a tensor).
    # -- arithmetic: where, maximum, minimum, abs, sqrt, log, exp, cos, sin, sigmoid,
    #    floor, logical_not, bit_and, bit_or, bit_xor, shift_left, shift_right (arithmetic),
    #    cumsum, sum, max, any, all, argsort (stable, int32), take (along an axis),
    #    argmax (int32), one_hot.
    # -- control flow and checks: cond, check (raise now, or an assert op in a graph).

    def rows_like(self, weights, tensor):
        rank = self.rank(tensor)
        return self.reshape(weights, [-1] + [1] * (rank - 1))

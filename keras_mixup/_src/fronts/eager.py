"""Mixing now, on the host: elements of NumPy arrays or eager backend tensors (Grain,
Python generators, `PyDataset`, eager calls of the layer), their parameters drawn with
the NumPy binding and moved once to the data's kind of tensor."""

from __future__ import annotations

import keras

from keras_mixup._src.bindings.ops import NUMPY, ops_for
from keras_mixup._src.core.elements import parse_element
from keras_mixup._src.core.spec import MixSpec
from keras_mixup._src.core.structures import MixParams, Parts


def draw_on_host(spec: MixSpec, seed, parts: Parts, *, owner: str, data_ops, shards=1) -> MixParams:
    """The parameters drawn on the host (NumPy binding) from `seed` (NumPy `[2]`)
    with the current run-time values, moved once to `data_ops`' kind of tensor:
    how eager code draws (NumPy and Grain batches, eager models). A method that reads
    the images (`MixSpec.reads_batch`) reads a host copy of them."""
    if spec.reads_batch:
        features = keras.tree.map_structure(keras.ops.convert_to_numpy, parts.features)
        parts = parts._replace(features=features)
    params = spec.draw(
        seed,
        parts,
        spec.runtime_values(),
        owner=owner,
        ops=NUMPY,
        data_ops=data_ops,
        shards=shards,
    )
    return params_for(params, ops=data_ops)


def params_for(params: MixParams, *, ops) -> MixParams:
    """`params` (drawn on the host) as tensors of the binding `ops`."""
    return MixParams(*(None if value is None else ops.convert(value) for value in params))


def mix_element_now(
    spec: MixSpec,
    args: tuple,
    seed,
    *,
    owner: str,
    feature_dtype: str,
    floating_dtype=None,
    training: bool = True,
):
    """An element of NumPy arrays or backend tensors mixed now, in its own kind of
    tensor (Grain, Python generators, `PyDataset`, eager calls): parsed, checked,
    its parameters drawn on the host from `seed` (NumPy `[2]`), applied, packed."""
    parts, pack = parse_element(args, owner)
    data_ops = ops_for(keras.tree.flatten(parts.features)[0])
    spec.check(parts, owner, ops=data_ops)
    params = None
    if training and spec.active(spec.runtime_values()):
        params = draw_on_host(spec, seed, parts, owner=owner, data_ops=data_ops)
    mixed = spec.apply(
        parts,
        params,
        feature_dtype=feature_dtype,
        floating_dtype=floating_dtype,
        boxes_as_mixed=training,
        ops=data_ops,
    )
    return pack(mixed)

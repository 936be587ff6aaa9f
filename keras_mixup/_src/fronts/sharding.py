"""A `MixupLayer` across devices: how many shards of the batch it mixes apart under a
`keras.distribution`, the parameters placed on every device, and each tf.distribute
replica's own seed."""

from __future__ import annotations

import keras

from keras_mixup._src.bindings.ops import KERAS
from keras_mixup._src.core.sampling import fold_in
from keras_mixup._src.core.structures import MixParams


def batch_shards(first, mix_across_devices: bool) -> int:
    """How many shards of the batch (`first`, the first input) to mix apart: the devices
    on the batch axis of a `keras.distribution` (DataParallel, or ModelParallel's data
    axis), unless `mix_across_devices=True` or the batch does not split evenly (then 1:
    the global batch, whose partners come from every device)."""
    distribution = keras.distribution.distribution()
    if distribution is None or mix_across_devices:
        return 1
    mesh = getattr(distribution, "device_mesh", None)
    axis = getattr(distribution, "batch_dim_name", None)
    if mesh is None or axis not in tuple(mesh.axis_names):
        return 1
    shards = int(mesh.shape[tuple(mesh.axis_names).index(axis)])
    batch = first.shape[0]
    return shards if batch is not None and shards > 1 and batch % shards == 0 else 1


def replicated(params: MixParams) -> MixParams:
    """Under a keras.distribution, the (small) parameters on every device: each device
    then reads its shard's part locally, with no collective."""
    mesh = keras.distribution.distribution().device_mesh

    def replicate(value):
        layout = keras.distribution.TensorLayout([None] * len(value.shape), mesh)
        return keras.distribution.distribute_tensor(value, layout)

    return MixParams(*(None if v is None else replicate(v) for v in params))


def replica_seed(seed):
    """`seed` (a Keras seed `[2]`), or under a multi-replica tf.distribute strategy, whose
    seed generator's state is mirrored, the seed with the replica's id folded in, so that
    each replica draws its own parameters."""
    if keras.backend.backend() != "tensorflow":
        return seed
    from keras_mixup._src.bindings.tf_ops import tf

    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        return fold_in(seed, context.replica_id_in_sync_group, ops=KERAS)
    return seed

"""MixupLayer under keras.distribution.DataParallel on JAX with eight CPU devices (run by
tests/integration/test_backends.py with KERAS_BACKEND=jax and XLA_FLAGS forcing 8 host devices).

By default the layer mixes each device's shard of the global batch apart (partners from the
same shard, parameters drawn per shard), so the compiled train step moves no input rows
between devices: its HLO has no all-gather and no all-to-all, only the all-reduces of the
gradients and the loss. The loss equals NumPy's loss on the batch mixed by hand shard by
shard. `mix_across_devices=True` opts into partners from the whole global batch, which
gathers the inputs onto every device.
"""

import re

import jax
import keras
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from keras_mixup import ManifoldMixup, MixupLayer, MixupLoss
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.structures import Parts

DEVICES, BATCH, CLASSES = 8, 64, 3
assert len(jax.devices()) == DEVICES, jax.devices()
distribution = keras.distribution.DataParallel(devices=jax.devices())
keras.distribution.set_distribution(distribution)
rng = np.random.default_rng(0)
x = rng.normal(size=(BATCH, 6, 6, 2)).astype("float32")
y = (np.arange(BATCH) % CLASSES).astype("int32")


def build(**options):
    keras.utils.set_random_seed(0)
    layer = MixupLayer(alpha=1.0, seed=0, **options)
    model = keras.Sequential(
        [keras.Input((6, 6, 2)), layer, keras.layers.Flatten(), keras.layers.Dense(CLASSES)]
    )
    model.compile(
        keras.optimizers.SGD(0.0),
        MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
        jit_compile=True,
    )
    model.optimizer.build(model.trainable_variables)
    return model, layer


def compiled_step_collectives(model) -> dict:
    """Collectives in the optimized HLO of the model's train step, as Keras compiles it."""
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    sharding = NamedSharding(distribution.device_mesh.backend_mesh, P("batch"))
    data = (jax.device_put(x, sharding), jax.device_put(y, sharding))
    hlo = jax.jit(model.train_step).lower(state, data).compile().as_text()
    found = {}
    for line in hlo.splitlines():
        match = re.search(r"= (\S+) (all-gather|all-to-all|collective-permute|all-reduce)\(", line)
        if match:
            found.setdefault(match.group(2), []).append(match.group(1))
    return found


# -- per shard (the default): no collective on the inputs, the hand-mixed loss per shard
model, layer = build()
collectives = compiled_step_collectives(model)
assert "all-gather" not in collectives and "all-to-all" not in collectives, collectives
assert "collective-permute" not in collectives, collectives
print("per shard: collectives in the compiled step:", {k: len(v) for k, v in collectives.items()})

loss = float(model.train_on_batch(x, y))
params = layer.spec.draw(
    np.array([0, 0], np.int32),
    Parts(x),
    layer.spec.runtime_values(),
    owner="",
    ops=NUMPY,
    shards=DEVICES,
)
rows = BATCH // DEVICES
perm = params.permutation
assert np.all(perm // rows == np.arange(BATCH) // rows), "a partner from another shard"
lambdas = params.mix_weight.reshape(DEVICES, rows)
assert np.all(lambdas == lambdas[:, :1]) and len(np.unique(lambdas[:, 0])) == DEVICES, lambdas
own, other = params.mix_weight[:, None], params.partner_weight[:, None]
mixed_x = own * x.reshape(BATCH, -1) + other * x.reshape(BATCH, -1)[perm]
one_hot = np.eye(CLASSES)[y]
mixed_y = own * one_hot + other * one_hot[perm]
kernel, bias = (np.asarray(v.value) for v in model.layers[-1].weights)
logits = mixed_x @ kernel + bias
log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
expected = float(np.mean(-(mixed_y * log_p).sum(axis=1)))
np.testing.assert_allclose(loss, expected, rtol=1e-5)
print(f"per shard: loss {loss:.6f} = hand-mixed per shard {expected:.6f}; one lambda per shard")

# -- fit trains
model, layer = build()
model.compile(
    keras.optimizers.SGD(0.1),
    MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
    jit_compile=True,
)
before = np.asarray(model.layers[-1].kernel.value)
history = model.fit(x, y, batch_size=BATCH // 2, epochs=2, verbose=0)
assert np.all(np.isfinite(history.history["loss"])), history.history
assert not np.allclose(before, np.asarray(model.layers[-1].kernel.value))

# -- Manifold Mixup's points mix per shard too: no collective on the inputs; fit trains
manifold = ManifoldMixup(alpha=1.0, seed=0, name="sharded")
keras.utils.set_random_seed(0)
model = keras.Sequential(
    [keras.Input((6, 6, 2)), manifold.point(), keras.layers.Flatten(),
     keras.layers.Dense(8, activation="tanh"), manifold.point(), keras.layers.Dense(CLASSES)]
)  # fmt: skip
model.compile(
    keras.optimizers.SGD(0.1),
    MixupLoss("sparse_categorical_crossentropy", layer=manifold, from_logits=True),
    jit_compile=True,
)
model.optimizer.build(model.trainable_variables)
collectives = compiled_step_collectives(model)
assert "all-gather" not in collectives and "all-to-all" not in collectives, collectives
history = model.fit(x, y, batch_size=BATCH // 2, epochs=2, verbose=0)
assert np.all(np.isfinite(history.history["loss"])), history.history
print("Manifold Mixup: per shard at every point, no collective on the inputs; fit trains")

# -- across devices (opt-in): partners from the global batch, the inputs gathered
model, layer = build(mix_across_devices=True)
collectives = compiled_step_collectives(model)
assert "all-gather" in collectives or "all-to-all" in collectives, collectives
print("across devices: collectives:", {k: len(v) for k, v in collectives.items()})
print("ALL OK")

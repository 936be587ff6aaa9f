"""MixupLayer under keras.distribution.DataParallel on JAX with two CPU devices (run by
tests/test_backends.py with KERAS_BACKEND=jax and XLA_FLAGS forcing 2 host devices).
The train step is one SPMD program over the global batch: the layer mixes the global
batch (one lambda, partners from all of it), as with a tf.data transform on the global
batch under tf.distribute."""

import jax
import keras
import numpy as np

from keras_mixup import MixupLayer, MixupLoss

assert len(jax.devices()) == 2, jax.devices()
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
keras.utils.set_random_seed(0)
layer = MixupLayer(alpha=1.0, seed=0)
model = keras.Sequential([keras.Input((4,)), layer, keras.layers.Dense(3)])
model.compile(
    keras.optimizers.SGD(0.1),
    MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
    jit_compile=True,
)
x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
y = np.arange(32) % 3
kernel = model.layers[-1].kernel
before = np.asarray(kernel.value)
history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
assert np.all(np.isfinite(history.history["loss"])), history.history
assert not np.allclose(before, np.asarray(kernel.value))
print("ALL OK", history.history["loss"])

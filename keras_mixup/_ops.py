"""MixupLayer's in-model path on the JAX and PyTorch backends, in `keras.ops`.

On the TensorFlow backend the layer uses `sampling` (keras_mixup's own exact
Beta sampler on a stateless Philox draw) and `mixing` (TensorFlow ops), as the
tf.data transform does. Those are TensorFlow ops, which cannot run on JAX arrays
or torch tensors, so on the other backends the layer draws and applies its
parameters with backend-neutral Keras code, with the same semantics:

- `draw`: lambda from `keras.random.beta(alpha, alpha)` (one per batch, or one
  per example), the permutation as the argsort of `keras.random.uniform` keys,
  both from the layer's `keras.random.SeedGenerator`; alpha = 0 gives lambda = 1.
- `blend`, `mix_targets`, `float_targets`: the arithmetic of `mixing.blend`,
  `mixing.mix_targets` ("mixed" and "dominant") and one-hot encoding of class ids.

Same seed, same backend: the same lambdas and permutations. Across backends the
random streams differ (JAX's threefry, torch's generator and TensorFlow's Philox
are different generators, and the TensorFlow path uses its own Gamma sampler), so
the same seed gives different draws on each backend; the distribution is the same.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_mixup.sampling import MixParams


def draw(seed_generator, batch_size: int, alpha: float, per_example: bool) -> MixParams:
    """`MixParams` for a batch, with `alpha` a Python float (fixed at trace time)."""
    count = batch_size if per_example else 1
    if alpha > 0:
        lam = keras.random.beta((count,), alpha, alpha, dtype="float32", seed=seed_generator)
    else:
        lam = ops.ones((count,), "float32")
    keys = keras.random.uniform((batch_size,), seed=seed_generator)
    return MixParams(
        mix_weight=ops.broadcast_to(lam, (batch_size,)),
        permutation=ops.cast(ops.argsort(keys), "int32"),
    )


def _row_weights(params: MixParams, tensor):
    return ops.reshape(params.mix_weight, (-1,) + (1,) * (len(tensor.shape) - 1))


def blend(tensor, params: MixParams, dtype):
    """`lam * t + (1 - lam) * t[perm]`, computed in float32, cast to `dtype`."""
    tensor = ops.cast(tensor, "float32")
    partner = ops.take(tensor, params.permutation, axis=0)
    weight = _row_weights(params, tensor)
    return ops.cast(weight * tensor + (1.0 - weight) * partner, dtype)


def mix_targets(targets, params: MixParams, mode: str):
    """Mixed ("mixed") or dominant-sample ("dominant") float32 targets."""
    if mode == "dominant":
        partner = ops.take(targets, params.permutation, axis=0)
        return ops.where(_row_weights(params, targets) >= 0.5, targets, partner)
    return blend(targets, params, "float32")


def float_targets(y_true, num_classes: int):
    """Class ids (`[B]` or `[B, 1]`) one-hot encoded; float targets cast to float32."""
    y_true = ops.convert_to_tensor(y_true)
    if "int" in keras.backend.standardize_dtype(y_true.dtype):
        if len(y_true.shape) > 1 and y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        return ops.one_hot(y_true, num_classes, dtype="float32")
    return ops.cast(y_true, "float32")

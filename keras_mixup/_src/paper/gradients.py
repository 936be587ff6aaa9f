"""Input gradients and compiled functions on the Keras backend, for the
adversarial evaluator and the diagnostics (the only backend-specific code
outside the ops bindings: Keras has no backend-neutral gradient of a function).
"""

from __future__ import annotations

import keras


def value_and_input_gradient(loss_fn, x):
    """`(loss_fn(x), d loss_fn(x) / d x)` for a scalar `loss_fn` of a backend tensor."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from keras_mixup._src.bindings.tf_ops import tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = loss_fn(x)
        return loss, tape.gradient(loss, x)
    if backend == "jax":
        import jax

        return jax.value_and_grad(loss_fn)(x)
    if backend == "torch":
        import torch

        x = x.detach().requires_grad_(True)
        loss = loss_fn(x)
        (gradient,) = torch.autograd.grad(loss, x)
        return loss.detach(), gradient
    raise NotImplementedError(f"input gradients on the '{backend}' backend")


def compiled(fn):
    """`fn` compiled where the backend compiles functions of tensors (`tf.function`,
    `jax.jit`); as it is on PyTorch."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from keras_mixup._src.bindings.tf_ops import tf

        return tf.function(fn)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn

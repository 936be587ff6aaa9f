"""What a Keras model outputs, read from its last layer (for the evaluators and the
mixup-aware predictor)."""

from __future__ import annotations

import keras


def last_activation(model) -> str:
    """The name of the activation the model's last layer ends in ("softmax", "sigmoid",
    "linear", ...); "softmax" for a `Softmax` layer."""
    last = model.layers[-1] if getattr(model, "layers", None) else model
    if isinstance(last, keras.layers.Softmax):
        return "softmax"
    return getattr(getattr(last, "activation", None), "__name__", "linear")


def outputs_logits(model: keras.Model) -> bool:
    """Whether `model` outputs logits (True) or probabilities (False).

    Probabilities when the last layer is a `Softmax` layer or has a softmax or
    sigmoid activation; logits otherwise.
    """
    return last_activation(model) not in ("softmax", "sigmoid")

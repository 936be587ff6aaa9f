"""Hyper-parameters that traced code reads at run time (alpha), so that changing
them needs no retracing and no rebuilt pipeline or train step.

A `RuntimeValue` keeps the value three ways: a Python float (configs, checks),
a `tf.Variable` on the CPU for tf.data graphs (created on first use), and, for
`MixupLayer`, a Keras variable of the layer, which the train step reads on every
backend (on JAX it is part of the state the trainer passes to the compiled step).
`set` validates and assigns all of them.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf


class RuntimeValue:
    """One run-time hyper-parameter (see the module docstring)."""

    def __init__(self, name: str, value, validate: Callable):
        self.name = name
        self._validate = validate
        self.value = validate(value, name)
        self._tf_variable = None
        self.keras_variable = None

    def tf_variable(self) -> tf.Variable:
        """The value as a float32 `tf.Variable` on the CPU (where tf.data runs).

        Created on first use, lifted out of any function being traced (a tf.data
        map function may ask for it first).
        """
        if self._tf_variable is None:
            with tf.init_scope(), tf.device("/CPU:0"):
                self._tf_variable = tf.Variable(
                    self.value, trainable=False, dtype=tf.float32, name=self.name
                )
        return self._tf_variable

    def attach(self, keras_variable) -> None:
        """Mirrors the value in `keras_variable` (a scalar float32 Keras variable)."""
        self.keras_variable = keras_variable
        keras_variable.assign(self.value)

    def set(self, value) -> None:
        self.value = self._validate(value, self.name)
        if self._tf_variable is not None:
            self._tf_variable.assign(self.value)
        if self.keras_variable is not None:
            self.keras_variable.assign(self.value)

    def reload(self) -> None:
        """Takes the value back from the Keras variable (after weights were loaded)."""
        if self.keras_variable is None:
            return
        loaded = keras.ops.convert_to_numpy(self.keras_variable.value)
        if loaded != np.float32(self.value):  # keep the exact Python value when it is the same
            self.set(float(loaded))


def runtime_property(name: str, doc: str) -> property:
    """A property `name` of a mixer holding `RuntimeValue`s in `self.settings`:
    reads the current value; assignment validates it and updates the variables."""

    def get(self) -> float:
        return self.settings[name].value

    def set_(self, value) -> None:
        self.settings[name].set(value)

    return property(get, set_, doc=doc)

"""The run-time values of a front (alpha, switch_prob, prob, each method's alpha) in
variables that traced code reads, and the front's properties that set them.

Assigning `front.alpha` (or `AlphaScheduler` doing it) replaces the front's `MixSpec`
with a validated copy and assigns the variables: the next batch or training step reads
the new value without a retrace. A `MixupLayer` keeps one Keras variable per value (its
weights, saved with the model, in `options.RUNTIME`'s order); a tf.data pipeline one
float32 `tf.Variable` on the CPU holding them all.
"""

from __future__ import annotations

import keras

from keras_mixup._src.core.options import RUNTIME, RUNTIME_DOCS
from keras_mixup._src.core.spec import MixSpec


class RuntimeVariables:
    """A front's current `MixSpec` and the variables through which traced code
    reads its run-time values: one float32 `tf.Variable` on the CPU holding them all
    for tf.data graphs (made on first use), and for `MixupLayer` a Keras variable per
    value, which the train step reads on every backend (on JAX it is part of the
    state the trainer passes to the compiled step). Fronts that share one (a
    transform and those `for_input_pipeline` derives from it) share the values."""

    def __init__(self, spec: MixSpec):
        self.spec = spec
        self._tf = None
        self._keras = None

    def set(self, **changes) -> None:
        """Validates `changes` (a new spec) and assigns them to every variable."""
        self.spec = self.spec.replace(**changes)
        if self._tf is not None:
            self._tf.assign(self._vector())
        for name, variable in (self._keras or {}).items():
            variable.assign(getattr(self.spec, name))

    def _vector(self) -> list:
        return [float(getattr(self.spec, name)) for name in RUNTIME]

    def add_keras_variables(self, layer) -> None:
        """A Keras variable of `layer` per run-time value, set to the spec's."""
        self._keras = {}
        for name in RUNTIME:
            self._keras[name] = layer.add_weight(
                name=name,
                shape=(),
                dtype="float32",
                trainable=False,
                autocast=False,  # float32 under mixed precision too
                initializer="zeros",
            )
            self._keras[name].assign(getattr(self.spec, name))

    def tf_variable(self):
        """The float32 tf.Variable `[len(RUNTIME)]` holding the run-time values in
        `RUNTIME`'s order, on the CPU, made on first use outside any function being
        traced. One variable, so that a tf.data batch reads them all in one op."""
        if self._tf is None:
            from keras_mixup._src.bindings.tf_ops import tf

            with tf.init_scope(), tf.device("/CPU:0"):
                self._tf = tf.Variable(
                    self._vector(), trainable=False, dtype=tf.float32, name="runtime_values"
                )
        return self._tf

    def tf_values(self) -> dict:
        """The run-time values by name (float32 scalars), read once from `tf_variable`."""
        vector = self.tf_variable().read_value()
        return {name: vector[index] for index, name in enumerate(RUNTIME)}

    def keras_values(self) -> dict:
        return {name: keras.ops.convert_to_tensor(v) for name, v in self._keras.items()}

    def keras_numpy(self) -> dict:
        """The Keras variables' values as Python floats (after loading weights)."""
        return {name: float(keras.ops.convert_to_numpy(v.value)) for name, v in self._keras.items()}


def runtime_property(name: str) -> property:
    """A property of a front holding `spec` and `runtime` (RuntimeVariables): reads
    the current value; assignment validates it and updates the variables."""

    def get(self) -> float:
        return getattr(self.spec, name)

    def set_(self, value) -> None:
        self.runtime.set(**{name: value})

    doc = (
        f"The current value of {RUNTIME_DOCS[name]}. Assigning it (e.g. through "
        "`AlphaScheduler`) takes effect at the next batch or training step, without "
        "retracing or rebuilding anything."
    )
    return property(get, set_, doc=doc)


class RuntimeSettings:
    """The run-time settings as properties, for fronts with `runtime`
    (`RuntimeVariables`), whose `spec` is the front's spec."""

    @property
    def spec(self) -> MixSpec:
        return self.runtime.spec

    # a property per run-time value (options.RUNTIME): alpha, switch_prob, prob and each
    # method's alpha (`cutmix_alpha`, ...), set below the class

    @property
    def per_example(self) -> bool:
        return self.spec.per_example

    @property
    def num_mixed(self) -> int:
        return self.spec.num_mixed

    @property
    def num_classes(self):
        return self.spec.num_classes

    @property
    def targets(self) -> str:
        return self.spec.targets


for _name in RUNTIME:
    setattr(RuntimeSettings, _name, runtime_property(_name))

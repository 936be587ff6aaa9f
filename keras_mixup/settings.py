"""The mixing configuration of a front: static options (`MixConfig`) and the
hyper-parameters that traced code reads at run time (alpha, cutmix_alpha,
switch_prob, prob), so that changing them needs no retracing and no rebuilt
pipeline or train step.

A `RuntimeValue` keeps the value three ways: a Python float (configs, checks),
a `tf.Variable` on the CPU for tf.data graphs (created on first use), and, for
`MixupLayer`, a Keras variable of the layer, which the train step reads on every
backend (on JAX it is part of the state the trainer passes to the compiled step).
`set` validates and assigns all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from keras_mixup.sampling import sample_mix_params
from keras_mixup.structures import MixParams
from keras_mixup.validation import (
    cutmix_image_size,
    user_error,
    validate_alpha,
    validate_mix_family,
    validate_num_mixed,
    validate_probability,
)

SCHEDULABLE = ("alpha", "cutmix_alpha", "switch_prob", "prob")


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


RUNTIME_DOCS = {
    "alpha": "mixup's alpha (Beta / Dirichlet concentration; 0: no mixup)",
    "cutmix_alpha": "CutMix's alpha (0: no CutMix)",
    "switch_prob": "the probability of CutMix instead of mixup when both alphas are > 0",
    "prob": "the probability that a batch (an example, with per_example) is mixed at all",
}


def runtime_property(name: str, doc: str | None = None) -> property:
    """A property `name` of a mixer holding `RuntimeValue`s in `self.settings`:
    reads the current value; assignment validates it and updates the variables."""

    def get(self) -> float:
        return self.settings[name].value

    def set_(self, value) -> None:
        self.settings[name].set(value)

    doc = doc or (
        f"The current value of {RUNTIME_DOCS[name]}. Assigning it (e.g. through "
        "`AlphaScheduler`) takes effect at the next batch or training step, without "
        "retracing or rebuilding anything."
    )
    return property(get, set_, doc=doc)


def mix_settings(alpha, cutmix_alpha, switch_prob, prob) -> dict[str, RuntimeValue]:
    """The run-time hyper-parameters of a front, validated.

    CutMix is part of the traced computation only if `cutmix_alpha > 0` at
    construction; setting it above 0 later on a front built without CutMix is an
    error (scheduling it between positive values, or to 0, is fine).
    """
    cutmix_on = validate_alpha(cutmix_alpha, "cutmix_alpha") > 0

    def validate_cutmix_alpha(value, name):
        value = validate_alpha(value, name)
        if value > 0 and not cutmix_on:
            raise user_error(
                ValueError,
                f"`cutmix_alpha` can only be scheduled on a mixer built with cutmix_alpha > 0 "
                f"(the CutMix code is traced only then); got cutmix_alpha={value!r} for a "
                "mixer built with cutmix_alpha=0. Build it with the schedule's first positive "
                "value and start the schedule at 0 if needed.",
            )
        return value

    return {
        "alpha": RuntimeValue("alpha", alpha, validate_alpha),
        "cutmix_alpha": RuntimeValue("cutmix_alpha", cutmix_alpha, validate_cutmix_alpha),
        "switch_prob": RuntimeValue("switch_prob", switch_prob, validate_probability),
        "prob": RuntimeValue("prob", prob, validate_probability),
    }


@dataclass(frozen=True)
class MixConfig:
    """The static mixing options of a front (fixed when it is traced)."""

    per_example: bool = False
    num_mixed: int = 2
    cutmix: bool = False  # cutmix_alpha > 0 at construction
    exact_cutmix_weight: bool = True

    @classmethod
    def create(cls, per_example, num_mixed, cutmix_alpha, exact_cutmix_weight) -> MixConfig:
        num_mixed = validate_num_mixed(num_mixed)
        cutmix_alpha = validate_alpha(cutmix_alpha, "cutmix_alpha")
        validate_mix_family(num_mixed, cutmix_alpha)
        if not isinstance(exact_cutmix_weight, bool):
            raise user_error(
                TypeError,
                f"`exact_cutmix_weight` must be True or False; got {exact_cutmix_weight!r}.",
            )
        return cls(bool(per_example), num_mixed, cutmix_alpha > 0, exact_cutmix_weight)

    def draw(
        self, seed, features, batch_size, values: dict, owner: str, ops, groups=None
    ) -> MixParams:
        """The parameters for a batch with these `features`, run-time `values`
        (tensors by name, see `read`) and `seed`."""
        image_size = cutmix_image_size(features, owner, ops) if self.cutmix else None
        return sample_mix_params(
            seed,
            batch_size,
            values["alpha"],
            self.per_example,
            groups,
            ops,
            num_mixed=self.num_mixed,
            cutmix_alpha=values["cutmix_alpha"] if self.cutmix else None,
            switch_prob=values["switch_prob"],
            prob=values["prob"],
            image_size=image_size,
            exact_area=self.exact_cutmix_weight,
        )

    def mixes(self, values: dict):
        """Whether anything can be mixed with these run-time values (bool tensor)."""
        active = values["alpha"] > 0
        if self.cutmix:
            active = active | (values["cutmix_alpha"] > 0)
        return active & (values["prob"] > 0)


class MixingOptions:
    """What both fronts expose about their mixing: the run-time settings as properties,
    the static options, and their part of `get_config`. Needs `self.settings` (from
    `mix_settings`) and `self.config` (a `MixConfig`)."""

    alpha = runtime_property("alpha")
    cutmix_alpha = runtime_property("cutmix_alpha")
    switch_prob = runtime_property("switch_prob")
    prob = runtime_property("prob")

    @property
    def per_example(self) -> bool:
        return self.config.per_example

    @property
    def num_mixed(self) -> int:
        return self.config.num_mixed

    def mixing_config(self) -> dict:
        return {
            "alpha": self.alpha,
            "per_example": self.per_example,
            "num_mixed": self.num_mixed,
            "cutmix_alpha": self.cutmix_alpha,
            "switch_prob": self.switch_prob,
            "prob": self.prob,
            "exact_cutmix_weight": self.config.exact_cutmix_weight,
        }


def read(settings: dict[str, RuntimeValue], keras_variables: bool = False) -> dict:
    """The run-time values as tensors: the tf.data graph's variables, or (in a
    model) the layer's Keras variables."""
    if keras_variables:
        return {
            name: keras.ops.convert_to_tensor(value.keras_variable)
            for name, value in settings.items()
        }
    return {name: value.tf_variable() for name, value in settings.items()}

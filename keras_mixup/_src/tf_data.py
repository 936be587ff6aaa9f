"""The tf.data front's machinery, shared by `MixupTransform` and by `MixupLayer`
mapped over a tf.data dataset: element checks kept outside the compiled part,
one compiled draw-and-apply per batch, and the two ways to seed it (the `map`
form's generator, the `apply` form's stateless per-batch seeds).

It takes TensorFlow from `tf_ops.py`, the only module that imports it (on first
use of a tf.data front, with an ImportError that says what to install).
"""

from __future__ import annotations

from keras_mixup._src.elements import parse_element
from keras_mixup._src.structures import Parts
from keras_mixup._src.tf_ops import TENSORFLOW, tf

# Mixed into the per-batch seeds of the `apply` form; any constant works, it only
# separates keras_mixup's stream from other users of the same seed.
_APPLY_SEED_SALT = 0x6D697875  # "mixu"


def checkpointable(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` with tf.data's external-state policy set to IGNORE, unless the
    user chose a policy (see `keras_mixup.checkpointable`)."""
    if dataset.options().experimental_external_state_policy is not None:
        return dataset
    options = tf.data.Options()
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    return dataset.with_options(options)


class TFDataMixer:
    """Mixes tf.data elements for a front.

    `front` provides `spec` (its current `MixSpec`) and `runtime` (its
    `RuntimeVariables`); `floating_dtype`, if given, is the dtype floating
    features are cast to first (the layer outputs its compute dtype).
    """

    def __init__(
        self, front, *, owner: str, seed, feature_dtype: str, jit_compile: bool, floating_dtype=None
    ):
        self.front = front
        self.owner = owner
        self.seed = seed
        self.feature_dtype = feature_dtype
        self.floating_dtype = floating_dtype
        self._generator = None
        self.front.runtime.tf_variables(self.front.spec)  # before any function is traced
        self._compiled = tf.function(
            tf.autograph.experimental.do_not_convert(self._mix_with_seed),
            jit_compile=jit_compile,
            reduce_retracing=True,
        )

    def generator(self) -> tf.random.Generator:
        """The `map` form's seed source, made outside any function being traced."""
        if self._generator is None:
            with tf.init_scope(), tf.device("/CPU:0"):
                self._generator = (
                    tf.random.Generator.from_seed(self.seed)
                    if self.seed is not None
                    else tf.random.Generator.from_non_deterministic_state()
                )
        return self._generator

    def map_element(self, args: tuple, training: bool = True):
        """`dataset.map(front)`: one element, with a seed from the generator."""
        parts, pack = parse_element(args, self.owner)
        if not training:
            return pack(self.convert(parts))
        seed = self.generator().make_seeds(1)[:, 0]
        return pack(self.mix(parts, seed))

    def _prepared(self, parts: Parts) -> Parts:
        parts = parts._replace(features=tf.nest.map_structure(tf.convert_to_tensor, parts.features))
        if self.floating_dtype is not None:
            parts = parts._replace(
                features=tf.nest.map_structure(
                    lambda t: tf.cast(t, self.floating_dtype) if t.dtype.is_floating else t,
                    parts.features,
                )
            )
        checks = self.front.spec.check(parts, self.owner, ops=TENSORFLOW)
        if not checks:
            return parts
        with tf.control_dependencies(checks):
            return Parts(
                *(None if p is None else tf.nest.map_structure(tf.identity, p) for p in parts)
            )

    def convert(self, parts: Parts) -> Parts:
        """The element converted as for mixing, not mixed (`training=False`)."""
        return self.front.spec.apply(
            self._prepared(parts),
            None,
            feature_dtype=self.feature_dtype,
            boxes_as_mixed=False,
            ops=TENSORFLOW,
        )

    def mix(self, parts: Parts, seed) -> Parts:
        """Checks `parts` (outside XLA) and mixes them with parameters from `seed`."""
        return self._compiled(self._prepared(parts), seed)

    def _mix_with_seed(self, parts: Parts, seed) -> Parts:
        spec = self.front.spec
        variables = self.front.runtime.tf_variables(spec)
        values = {name: variable.read_value() for name, variable in variables.items()}
        return spec.mix(
            parts, seed, values, owner=self.owner, feature_dtype=self.feature_dtype, ops=TENSORFLOW
        )

    def apply_to_dataset(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """`dataset.apply(front)`: every batch with its own stateless seed."""
        seeds = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True)

        def mix_element(element, random_value):
            parts, pack = parse_element((element,), self.owner)
            # Both halves of the 64-bit random value; the salt separates the stream.
            seed = tf.stack(
                [
                    tf.cast(random_value, tf.int32),
                    tf.bitwise.bitwise_xor(
                        tf.cast(tf.bitwise.right_shift(random_value, 32), tf.int32),
                        _APPLY_SEED_SALT,
                    ),
                ]
            )
            return pack(self.mix(parts, seed))

        mixed = tf.data.Dataset.zip(dataset, seeds).map(
            tf.autograph.experimental.do_not_convert(mix_element),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        return checkpointable(mixed)

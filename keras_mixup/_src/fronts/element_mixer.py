"""`ElementMixer`: how a front (`MixupTransform`, or `MixupLayer` in a pipeline) mixes
whole elements, whatever kind of tensor they come in: tf.data elements through the tf.data
machinery (`tf_data.py`, which imports TensorFlow on first use), all others now, on the
host (`eager.mix_element_now`)."""

from __future__ import annotations

import keras

from keras_mixup._src.bindings.ops import is_tensorflow_tensor
from keras_mixup._src.core.seeds import HostSeeds
from keras_mixup._src.fronts.eager import mix_element_now


class ElementMixer:
    """How a front (`MixupTransform`, or `MixupLayer` in a pipeline) mixes whole
    elements: a tf.data element with `tf_data.TFDataMixer` (made on first use, which
    imports TensorFlow), any other (NumPy, Grain, eager tensors) now, with
    `mix_element_now` and seeds from a `HostSeeds` counter unless one is given.

    `feature_dtype` / `floating_dtype`: the output dtypes of integer / floating
    features (`mixing.mix_parts`); `owner` names the front in error messages.
    """

    def __init__(
        self,
        front,
        *,
        owner: str,
        seed,
        feature_dtype: str,
        floating_dtype: str | None = None,
        jit_compile: bool = True,
    ):
        self.front = front
        self.owner = owner
        self.seed = seed
        self.feature_dtype = feature_dtype
        self.floating_dtype = floating_dtype
        self.jit_compile = jit_compile
        self.host_seeds = HostSeeds(seed)
        self._tf_data = None

    def tf_data(self):
        """The front's `TFDataMixer`."""
        if self._tf_data is None:
            from keras_mixup._src.fronts.tf_data import TFDataMixer

            self._tf_data = TFDataMixer(
                self.front,
                owner=self.owner,
                seed=self.seed,
                feature_dtype=self.feature_dtype,
                floating_dtype=self.floating_dtype,
                jit_compile=self.jit_compile,
            )
        return self._tf_data

    def mix(self, args: tuple, *, training: bool = True, seed=None):
        """One element (the arguments of the front's call), mixed in its own kind of
        tensor; `training=False` converts it only."""
        if is_tensorflow_tensor(keras.tree.flatten(args)[0]):
            return self.tf_data().map_element(args, training)
        return mix_element_now(
            self.front.spec,
            args,
            self.host_seeds.next() if seed is None else seed,
            owner=self.owner,
            feature_dtype=self.feature_dtype,
            floating_dtype=self.floating_dtype,
            training=training,
        )

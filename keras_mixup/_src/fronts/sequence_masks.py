"""Keras masks through a `MixupLayer` (sequence models: `Embedding(mask_zero=True)`,
padded batches): the masks of its inputs, checked, and the mask of its output in a
functional model, a graph node that reads the union mask of the step's mixing."""

from __future__ import annotations

import weakref

import keras

from keras_mixup._src.core.spec import MixSpec
from keras_mixup._src.core.validation import user_error
from keras_mixup._src.fronts.followers import Followed, find_layer


def input_masks(flat_inputs: list, mask, spec: MixSpec, owner: str) -> list:
    """The Keras mask of each input (None where it has none).

    Raises:
        ValueError: a method that pastes pixels (CutMix, GridMix, FMix, SmoothMix,
            ResizeMix, Mosaic) with masked (sequence) inputs: it mixes regions of images.
    """
    masks = [None] * len(flat_inputs) if mask is None else keras.tree.flatten(mask)
    if len(masks) != len(flat_inputs):
        masks = [None] * len(flat_inputs)
    if spec.cuts and any(m is not None for m in masks):
        cutting = spec.cutting_methods[0]
        name, method = cutting.alpha, cutting.title
        raise user_error(
            ValueError,
            f"{owner} has {method} on ({name}={getattr(spec, name)}), but its input carries "
            "a Keras mask (a padded sequence, e.g. after Embedding(mask_zero=True)): "
            f"{method} mixes regions of images and is not defined for sequences. Use "
            "mixup alone on sequences (alpha=..., or methods=[Mixup(...)]).",
        )
    return masks


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixedSequenceMask(keras.layers.Layer):
    """The Keras mask of a `MixupLayer`'s output in a functional model: a node of the
    model's graph (as `Embedding(mask_zero=True)`'s `not_equal` is) that takes the
    layer's output, so it runs after the layer in every step, and gives the union
    mask of that step's mixing (`MixupLayer.compute_mask`), or the input's mask
    where the step did not mix."""

    def __init__(self, source, index: int = 0, **kwargs):
        """`source`: the MixupLayer, or its name (a deserialized model: the layer of
        that name deserialized just before)."""
        super().__init__(**kwargs)
        layer = source if isinstance(source, Followed) else find_layer(source)
        self.source = layer.name if isinstance(source, Followed) else source
        self.index = int(index)
        if layer is None:
            raise user_error(
                ValueError,
                f"MixedSequenceMask gives the mask of MixupLayer '{source}', but no such "
                "layer exists in this process (it is deserialized before its mask node).",
            )
        # a weak reference: an attribute holding a layer would make it a sublayer
        self._layer = weakref.ref(layer)

    def call(self, mixed, mask):
        return self._layer()._mask_of_step(self.index, mask)

    def compute_output_spec(self, mixed, mask):
        return keras.KerasTensor(mask.shape, dtype="bool")

    def compute_mask(self, inputs, previous_mask=None):
        return None  # its output is a mask: it carries none itself

    def get_config(self) -> dict:
        return {**super().get_config(), "source": self.source, "index": self.index}

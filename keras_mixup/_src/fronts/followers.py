"""What a `MixupLayer` shares with the `MixupLoss` and `MixupAccuracy` that follow it: the
record of its last forward pass, the binding of followers to it (by object, or by name for
a model restored from a file), and the targets of a step mixed from that record.

A layer in a model only sees the inputs, but mixup must mix the targets with the same
lambda and partners. In a training step the layer keeps the parameter tensors it mixed
with as its record (`StepRecord`); its followers read the record in the same step (Keras
traces the forward pass, the loss and the metrics into one function) and mix `y_true` and
the sample weights with those tensors (`Followed.step_targets`).
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

from keras_mixup._src.bindings.ops import KERAS
from keras_mixup._src.core.structures import MixParams
from keras_mixup._src.core.validation import user_error, validate_layer_reference
from keras_mixup._src.fronts.call_context import current_graph

# The live layers by name, only to resolve the layer name in a saved MixupLoss /
# MixupAccuracy configuration: Keras deserializes a model's layers before its
# compile configuration, so the restored layer is found here by its name.
_LAYERS_BY_NAME: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def find_layer(name: str):
    """The live `MixupLayer` called `name`, if any (see `_LAYERS_BY_NAME`)."""
    return _LAYERS_BY_NAME.get(name)


class StepRecord(NamedTuple):
    """What a `MixupLayer` did in its last forward pass."""

    params: MixParams | None  # None: the pass did not mix (inference)
    graph: object  # the TensorFlow graph the tensors belong to (None: eager, JAX, torch)
    shards: int = 1  # partners from the example's own shard of the batch (keras.distribution)


class Followed:
    """The part of `MixupLayer` its followers use. The layer calls `register()` once
    it has a name and a spec, sets `record` in every forward pass and reads `spec`
    and `owner` (its name in messages)."""

    record: StepRecord | None = None

    def register(self) -> None:
        self._followers: weakref.WeakSet = weakref.WeakSet()
        _LAYERS_BY_NAME[self.name] = self

    def _bind(self, follower) -> None:
        """Registers a `MixupLoss` / `MixupAccuracy` that follows this layer's mixing."""
        self._followers.add(follower)

    def _bound_followers(self) -> list:
        """The `MixupLoss` / `MixupAccuracy` objects bound to this layer (a method,
        not a property: Keras's saving walks properties, and these point back here)."""
        return list(self._followers)

    def _check_bound(self) -> None:
        """Raises unless a loss follows this layer (or it mixes inputs only on purpose).

        Raises:
            ValueError: mixing the inputs of a training step with nothing to mix the
                targets: the paper's "mix inputs only" ablation, by mistake.
        """
        if self.inputs_only or self._followers:
            return
        others = sorted(name for name, layer in list(_LAYERS_BY_NAME.items()) if layer._followers)
        elsewhere = (
            f" The MixupLoss / MixupAccuracy objects in this process follow the layer(s) "
            f"{others}: bind the loss to the MixupLayer that is in this model."
            if others
            else ""
        )
        raise user_error(
            ValueError,
            f"{self.owner} is mixing the inputs of a training step, but no MixupLoss is bound "
            "to it, so the targets would stay unmixed: that silently trains the paper's 'mix "
            "inputs only' ablation, which does not work. Compile the model with "
            "loss=keras_mixup.MixupLoss(<your loss>, layer=<this layer>), or pass "
            f"inputs_only=True to MixupLayer to mix the inputs alone on purpose.{elsewhere} A "
            "model with several inputs needs one MixupLayer called on all of them "
            "(mixup([x1, x2]) mixes every input with the same lambda and partners), not one "
            "layer per input. In a data pipeline, give the layer whole elements "
            "((x, y) or Keras's dict with 'labels'), not features alone.",
        )

    def _step_targets(
        self, y_true, width: int, *, integers: str = "class_ids", sample_weight=None, name="y_true"
    ):
        """`y_true` (and `sample_weight`) mixed like the inputs of the current step.

        Integer labels are class ids one-hot encoded to `width` (the width of the
        predictions), or binary probabilities / values, cast (`integers`, see
        `labels.to_float_targets`). Labels out of range raise where values are
        known, and give NaN targets in traced steps (XLA drops assertions). Returns
        float32 targets and weights; with no mixing in this step (inference), the
        float targets unmixed.

        Raises:
            ValueError: the layer has not run yet, or ran in another traced function.
        """
        record = self._followed_record()
        if record is None:
            raise user_error(
                ValueError,
                f"A MixupLoss / MixupAccuracy follows {self.owner}, which has not run: the "
                "layer must be part of the model whose loss and metrics these are. A model "
                "with several inputs needs one MixupLayer called on all of them.",
            )
        stale = user_error(
            ValueError,
            f"MixupLoss must run in the same step (the same traced function) as the forward "
            f"pass of {self.owner}; the layer's last mixing belongs to another function. "
            "Compute the loss right after calling the model.",
        )
        if record.graph is not current_graph():
            raise stale
        try:
            return self.spec.mix_targets(
                record.params,
                y_true,
                width=width,
                integers=integers,
                sample_weight=sample_weight,
                name=name,
                shards=record.shards,
                ops=KERAS,
            )
        except Exception as error:
            if type(error).__name__ == "UnexpectedTracerError":  # JAX: a leaked record
                raise stale from None
            raise

    def _followed_record(self) -> StepRecord | None:
        """The record the followers mix the targets with: the layer's own (a mixing point
        of a group that pastes pixels merges its group's, `manifold.MixingPoint`)."""
        return self.record


class LayerFollower:
    """Binding to a `MixupLayer` by object or by name (for objects restored from a
    saved model, whose layers are deserialized before the compile configuration)."""

    layer_name: str | None = None
    _layer: Followed | None = None

    def _follow(self, layer) -> None:
        layer = getattr(layer, "followed_layer", layer)  # ManifoldMixup: its first point
        validate_layer_reference(layer, isinstance(layer, Followed))
        if isinstance(layer, Followed):
            self.layer_name, self._layer = layer.name, layer
        else:
            self.layer_name, self._layer = layer, find_layer(layer)
        if self._layer is not None:
            self._layer._bind(self)

    @property
    def layer(self) -> Followed:
        if self._layer is None:
            self._layer = find_layer(self.layer_name)
            if self._layer is None:
                raise user_error(
                    ValueError,
                    f"{type(self).__name__} follows a MixupLayer named '{self.layer_name}', but "
                    "no such layer exists in this process.",
                )
            self._layer._bind(self)
        return self._layer

"""MixupAccuracy: training accuracy that means something under mixup."""

from __future__ import annotations

import math

import keras

from keras_mixup._src.bindings.ops import KERAS
from keras_mixup._src.core import labels as label_rules
from keras_mixup._src.core.validation import user_error, validate_probability
from keras_mixup._src.fronts.followers import LayerFollower
from keras_mixup._src.fronts.layer import MixupLayer


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixupAccuracy(LayerFollower, keras.metrics.Mean):
    """The target mass on the predicted class: accuracy for mixed targets.

    Plain `"accuracy"` compares predictions on *mixed* inputs with *unmixed*
    labels (with `MixupLayer`) or is not defined for soft targets (after
    `MixupTransform`), so it reads far below the model's real accuracy during
    training. This metric averages, per example, the weight that the (mixed)
    target puts on the prediction:

    - Class distributions (softmax heads): the target's mass on the predicted
      class, `lam * [pred = y_i] + (1 - lam) * [pred = y_j]`, the lambda-weighted
      accuracy of the authors' code; for one-hot targets, plain accuracy. With
      label smoothing eps over K classes it reads `(1 - eps) * accuracy + eps / K`.
    - Binary and multi-label heads (one sigmoid unit, or `multi_label=True`): the
      lambda-weighted *binary* accuracy, `t * [p > threshold] + (1 - t) *
      [p <= threshold]` for each output unit with mixed target `t`, averaged over
      the units: for unmixed 0/1 targets, Keras's `BinaryAccuracy`.

    The kind is decided from the output's width and the loss: a one-unit output
    is binary; a wider one is binary when `multi_label=True`, or when the
    `MixupLoss` objects bound to the followed layer all wrap a binary loss
    (`BinaryCrossentropy`, ...); otherwise it is a class distribution.

    - After `MixupTransform`, `MixupAccuracy()` reads the mixed targets it is given.
    - In a model, `MixupAccuracy(layer=mixup)` mixes the true labels with the
      lambda and permutation of the training step (the layer's record), and is
      plain accuracy in evaluation, where the layer does not mix.

    Integer class ids (`[B]` or `[B, 1]`) are one-hot encoded to the width of the
    predictions; integer labels of a one-unit head are read as the bound loss reads
    them (`MixupLoss`: 0/1 probabilities for a binary loss, values for another), and
    a binary head's targets must lie in [0, 1]. Labels out of range raise where
    values are known (NaN under XLA / jit). Works on every Keras
    backend.

    Args:
        layer: the `MixupLayer` whose mixing the labels follow (or its name), or
            None when the targets are already mixed (`MixupTransform`).
        name: the metric's name.
        dtype: the metric's dtype.
        multi_label: None (default): decided as above; True: binary accuracy per
            output unit; False: class distributions (width > 1).
        threshold: for binary accuracy, the probability above which a unit predicts
            1 (default 0.5), in probability units also when the model outputs logits.
        from_logits: for binary accuracy, whether predictions are logits; None: as
            the bound `MixupLoss` says (False without one).

    Raises:
        ValueError: a `threshold` outside [0, 1]; `multi_label=False` for a
            one-unit output; in a step (eager), binary targets outside [0, 1] (e.g.
            integer regression values of a one-unit head trained with `mse`).

    Examples:
        >>> metric = MixupAccuracy()
        >>> targets = np.array([[0.7, 0.3, 0.0], [0.0, 0.4, 0.6]], "float32")  # mixed
        >>> predictions = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]], "float32")
        >>> metric.update_state(targets, predictions)
        >>> round(float(metric.result()), 4)  # (0.7 + 0.4) / 2
        0.55
        >>> binary = MixupAccuracy()  # one sigmoid unit: lambda-weighted binary accuracy
        >>> binary.update_state(np.array([[0.8], [0.3]], "float32"), np.array([[0.9], [0.9]], "float32"))
        >>> round(float(binary.result()), 4)  # (0.8 + 0.3) / 2
        0.55
    """

    def __init__(
        self,
        layer: MixupLayer | str | None = None,
        name: str = "mixup_accuracy",
        dtype: str | None = None,
        *,
        multi_label: bool | None = None,
        threshold: float = 0.5,
        from_logits: bool | None = None,
    ):
        keras.metrics.Mean.__init__(self, name=name, dtype=dtype)
        self.multi_label = None if multi_label is None else bool(multi_label)
        self.threshold = validate_probability(threshold, "threshold")
        self.from_logits = None if from_logits is None else bool(from_logits)
        if layer is not None:
            self._follow(layer)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "layer": self.layer_name,
            "multi_label": self.multi_label,
            "threshold": self.threshold,
            "from_logits": self.from_logits,
        }

    def _bound_losses(self) -> list:
        if self.layer_name is None:
            return []
        return [f for f in self.layer._bound_followers() if hasattr(f, "integer_labels")]

    def _binary(self, width) -> bool:
        if width == 1:
            if self.multi_label is False:
                raise user_error(
                    ValueError,
                    "MixupAccuracy(multi_label=False) reads class distributions, but the "
                    "predictions have one unit (a binary head); leave multi_label=None.",
                )
            return True
        if self.multi_label is not None:
            return self.multi_label
        losses = self._bound_losses()
        return bool(losses) and all(loss.binary for loss in losses)

    def _logits(self) -> bool:
        if self.from_logits is not None:
            return self.from_logits
        return any(loss.from_logits for loss in self._bound_losses())

    def _probabilities(self, targets):
        """Binary targets, checked to be probabilities in [0, 1] (NaN under XLA / jit,
        where nothing can raise)."""
        valid = (targets >= 0) & (targets <= 1)
        KERAS.check(
            keras.ops.all(valid),
            f"{type(self).__name__} reads the targets of a binary head (one unit, or "
            "multi_label) as probabilities in [0, 1], but got another value. A one-unit "
            "head trained with a loss that is not binary (mse, ...) reads integer labels "
            "as regression values (the rule MixupLoss follows), and accuracy is not "
            "defined for those: drop the metric, or give 0/1 labels.",
            lambda: label_rules.first_invalid(targets, valid, ops=KERAS),
        )
        return keras.ops.where(valid, targets, float("nan"))

    def update_state(self, y_true, y_pred, sample_weight=None):
        width = y_pred.shape[-1]
        binary = self._binary(width)
        losses = self._bound_losses()
        binary_loss = all(loss.binary for loss in losses) if losses else binary
        integers = label_rules.integer_labels(width, binary_loss=binary_loss)
        if self.layer_name is not None:
            targets, sample_weight = self.layer._step_targets(
                y_true, width, integers=integers, sample_weight=sample_weight
            )
        else:
            targets = label_rules.targets_for(
                y_true, width, name="y_true", integers=integers, ops=KERAS
            )
        y_pred = keras.ops.cast(y_pred, "float32")
        if binary:
            cut = self.threshold
            if self._logits():
                cut = (
                    math.log(cut / (1 - cut))
                    if 0 < cut < 1
                    else (-math.inf if cut == 0 else math.inf)
                )
            predicted = keras.ops.cast(y_pred > cut, "float32")
            targets = keras.ops.reshape(self._probabilities(targets), keras.ops.shape(predicted))
            agreement = targets * predicted + (1.0 - targets) * (1.0 - predicted)
            mass = keras.ops.mean(agreement, axis=-1)
        else:
            predicted = keras.ops.argmax(y_pred, axis=-1)
            mass = keras.ops.take_along_axis(targets, predicted[..., None], axis=-1)[..., 0]
        return super().update_state(mass, sample_weight=sample_weight)

"""MixupAccuracy: training accuracy that means something under mixup."""

from __future__ import annotations

import keras

from keras_mixup.losses import LayerFollower
from keras_mixup.mixing import to_float_targets
from keras_mixup.ops import KERAS
from keras_mixup.validation import check_class_ids


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixupAccuracy(LayerFollower, keras.metrics.Mean):
    """The target mass on the predicted class: accuracy for mixed targets.

    Plain `"accuracy"` compares predictions on *mixed* inputs with *unmixed*
    labels (with `MixupLayer`) or is not defined for soft targets (after
    `MixupTransform`), so it reads far below the model's real accuracy during
    training. This metric averages, per example, the weight that the (mixed)
    target puts on the predicted class: for mixup targets
    `lam * [pred = y_i] + (1 - lam) * [pred = y_j]`, the lambda-weighted accuracy
    of the authors' code; for one-hot targets, plain accuracy.

    - After `MixupTransform`, `MixupAccuracy()` reads the mixed targets it is given.
      (With label smoothing eps over K classes it reads the smoothed mass,
      `(1 - eps) * accuracy + eps / K`.)
    - In a model, `MixupAccuracy(layer=mixup)` mixes the true labels with the
      lambda and permutation of the training step (the layer's record), and is
      plain accuracy in evaluation, where the layer does not mix.

    Integer class ids (`[B]` or `[B, 1]`) are one-hot encoded to the width of
    the predictions; ids outside that range raise (or give NaN under XLA / jit).
    Works on every Keras backend.

    Args:
        layer: the `MixupLayer` whose mixing the labels follow (or its name), or
            None when the targets are already mixed (tf.data transform).
        name: the metric's name.
        dtype: the metric's dtype.

    Examples:
        >>> metric = MixupAccuracy()
        >>> targets = np.array([[0.7, 0.3, 0.0], [0.0, 0.4, 0.6]], "float32")  # mixed
        >>> predictions = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]], "float32")
        >>> metric.update_state(targets, predictions)
        >>> round(float(metric.result()), 4)  # (0.7 + 0.4) / 2
        0.55
    """

    def __init__(self, layer=None, name: str = "mixup_accuracy", dtype=None):
        keras.metrics.Mean.__init__(self, name=name, dtype=dtype)
        self.layer_name, self._layer = None, None
        if layer is not None:
            self._follow(layer)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "layer": self.layer_name}

    def update_state(self, y_true, y_pred, sample_weight=None):
        num_classes = y_pred.shape[-1]
        if self.layer_name is not None:
            targets, sample_weight = self.layer.step_targets(y_true, num_classes, sample_weight)
        else:
            y_true = KERAS.convert(y_true)
            integer = KERAS.dtype(y_true).startswith(("int", "uint"))
            if integer:
                check_class_ids(y_true, num_classes, KERAS, "y_true")
            targets = to_float_targets(y_true, num_classes if integer else None, "y_true", KERAS)
        predicted = keras.ops.argmax(y_pred, axis=-1)
        mass = keras.ops.take_along_axis(targets, predicted[..., None], axis=-1)[..., 0]
        return super().update_state(mass, sample_weight=sample_weight)

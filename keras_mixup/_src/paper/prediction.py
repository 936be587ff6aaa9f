"""Mixup-aware prediction: the test-time transformation of Carratino et al. (2020).

"On Mixup Regularization" (Carratino, Cissé, Jenatton & Vert, arXiv 2006.06049) shows
that training with mixup is ERM on *transformed* data plus structured noise: inputs and
targets shrunk towards their means,

    x~ = x_bar + theta_bar (x - x_bar),    y~ = y_bar + theta_bar (y - y_bar),

with `theta = max(lambda, 1 - lambda)`, lambda ~ Beta(alpha, alpha), and `theta_bar` its
mean. A model trained with mixup therefore predicts the transformed targets of transformed
inputs; at test time it should see the transformed input, and its output should be mapped
back: `y_hat = y_bar + (f(x_bar + theta_bar (x - x_bar)) - y_bar) / theta_bar`. For a
softmax classifier the map applies to the logits, and up to a constant that the softmax
ignores it is a scaling of the logits by `1 / theta_bar`: temperature scaling with a
temperature mixup sets itself.

- `theta_bar(alpha)`: the exact mean of `max(lambda, 1 - lambda)`.
- `input_mean(dataset)`: the training-input mean, streamed over a dataset.
- `mixup_aware_predictor(model, ...)`: a Keras model that shrinks inputs towards that mean
  and maps outputs back; it saves to `.keras`, exports, and runs on every backend.

The derivation is for mixup of pairs on the model's inputs. It does not hold for latent
mixing (a `MixupLayer` after some layers: the shrink would have to act on those features),
for the methods that paste pixels (CutMix, GridMix, FMix, SmoothMix, ResizeMix: a mask of
pixels is not a shrink towards the mean; each method says so in its `Method.test_time`) or for k-way
mixing (the notes treat pairs); `theta_bar` raises for those settings, and the docstrings
say so for latent mixing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import keras
import numpy as np

from keras_mixup._src.bindings.ops import batch_count
from keras_mixup._src.core.methods import METHODS
from keras_mixup._src.core.validation import user_error, validate_alpha
from keras_mixup._src.paper.models import last_activation

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

OUTPUT_MODES = ("logits", "softmax", "linear", "auto")


def _mean_of_max_weight(alpha: float) -> float:
    alpha = validate_alpha(alpha)
    if alpha == 0:
        return 1.0
    log_beta = 2 * math.lgamma(alpha) - math.lgamma(2 * alpha)
    return 0.5 + math.exp(-math.log(alpha) - alpha * math.log(4.0) - log_beta)


def theta_bar(alpha: float, *, num_mixed: int = 2, **method_alphas: float) -> float:
    """The mean of `max(lambda, 1 - lambda)` for lambda ~ Beta(alpha, alpha), exactly.

    `theta_bar = 1/2 + E|lambda - 1/2| = 1/2 + 1 / (alpha 4^alpha B(alpha, alpha))`
    (the mean absolute deviation of the symmetric Beta). alpha = 0 (no mixing) gives 1;
    alpha = 1 gives 3/4; alpha -> infinity gives 1/2.

    Args:
        alpha: mixup's alpha, >= 0.
        num_mixed: must be 2: the transformation is derived for pairs.
        **method_alphas: the alphas of the methods that paste pixels, as the fronts'
            run-time properties name them (`cutmix_alpha`, `gridmix_alpha`, `fmix_alpha`,
            `smoothmix_alpha`): each must be 0, since pasting pixels is not a shrink
            of the inputs towards their mean.

    Raises:
        ValueError: a k-way setting, or a method that pastes pixels, where no such
            transformation is known.
        TypeError: a keyword that is no method's alpha.

    Examples:
        >>> theta_bar(1.0)
        0.75
        >>> theta_bar(0.0)
        1.0
    """
    if num_mixed != 2:
        raise user_error(
            ValueError,
            f"theta_bar: the test-time transformation is derived for mixup of pairs; got "
            f"num_mixed={num_mixed}. For k-way mixing no such transformation is known.",
        )
    by_alpha = {method.alpha: method for method in METHODS[1:]}
    for name, value in method_alphas.items():
        if name not in by_alpha:
            raise user_error(
                TypeError,
                f"theta_bar got an unexpected keyword {name!r}; it takes alpha, num_mixed and "
                f"the alphas of the methods that paste pixels ({', '.join(by_alpha)}).",
            )
        if value:
            method = by_alpha[name]
            raise user_error(
                ValueError,
                f"theta_bar: {method.title} ({name}={value}) is {method.test_time}.",
            )
    return _mean_of_max_weight(alpha)


def input_mean(dataset: Iterable, *, verbose: int = 1) -> np.ndarray:
    """The mean training input, one value per input entry (shape of one example).

    Streams over `dataset`: a `tf.data.Dataset` or any iterable of batches, each a
    features array or an `(x, y[, w])` tuple (the features are the first item), in
    float64, with a progress bar (`verbose=1`) that counts the batches out of the total
    where the dataset knows it (a `tf.data.Dataset`'s finite `cardinality()`, the `len()` of
    a `PyDataset`, a Grain `MapDataset` or a list of batches). Use the *unmixed* training
    data.

    Raises:
        ValueError: an empty dataset.
    """
    total, count, step = None, 0, 0
    progress = keras.utils.Progbar(batch_count(dataset), unit_name="batch") if verbose else None
    for step, batch in enumerate(dataset, start=1):
        features = batch[0] if isinstance(batch, (tuple, list)) else batch
        features = np.asarray(keras.ops.convert_to_numpy(features), np.float64)
        total = features.sum(axis=0) if total is None else total + features.sum(axis=0)
        count += len(features)
        if progress is not None:
            progress.update(step, finalize=False)  # the last one below, whatever the length
    if progress is not None and step:
        progress.update(step, finalize=True)  # the final count, and the end of the line
    if not count:
        raise user_error(ValueError, "input_mean: the dataset yielded no examples.")
    return (total / count).astype("float32")


@keras.saving.register_keras_serializable(package="keras_mixup")
class ShrinkToMean(keras.layers.Layer):
    """`x_bar + theta_bar * (x - x_bar)`: inputs shrunk towards the training mean.

    Args:
        mean: the training-input mean (array broadcastable to one example).
        theta_bar: the shrink factor in (1/2, 1].
    """

    def __init__(self, mean, theta_bar: float, **kwargs):
        super().__init__(**kwargs)
        self.mean_value = np.asarray(mean, np.float32)
        self.theta_bar = float(theta_bar)
        self.mean = self.add_weight(
            name="input_mean",
            shape=self.mean_value.shape,
            initializer=keras.initializers.Constant(self.mean_value),
            trainable=False,
            autocast=False,
        )

    def call(self, inputs):
        mean = keras.ops.cast(self.mean, inputs.dtype)
        return mean + self.theta_bar * (inputs - mean)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "mean": self.mean_value.tolist(),
            "theta_bar": self.theta_bar,
        }


@keras.saving.register_keras_serializable(package="keras_mixup")
class ExpandFromMean(keras.layers.Layer):
    """Maps the outputs of a model trained with mixup back (see `mixup_aware_predictor`).

    Args:
        theta_bar: the shrink factor the inputs got.
        mode: "logits" (`z / theta_bar`), "softmax" (`softmax(log(p) / theta_bar)`, the
            same for a softmax output) or "linear" (`y_bar + (f - y_bar) / theta_bar`).
        target_mean: `y_bar`, for "linear".
    """

    def __init__(self, theta_bar: float, mode: str, target_mean=None, **kwargs):
        super().__init__(**kwargs)
        self.theta_bar, self.mode = float(theta_bar), mode
        self.target_mean = None if target_mean is None else np.asarray(target_mean, np.float32)

    def call(self, outputs):
        outputs = keras.ops.cast(outputs, "float32")
        if self.mode == "logits":
            return outputs / self.theta_bar
        if self.mode == "softmax":
            # log(p) is the logits up to a per-example constant, which the softmax ignores
            return keras.ops.softmax(
                keras.ops.log(keras.ops.maximum(outputs, 1e-30)) / self.theta_bar
            )
        mean = keras.ops.convert_to_tensor(self.target_mean)
        return mean + (outputs - mean) / self.theta_bar

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "theta_bar": self.theta_bar,
            "mode": self.mode,
            "target_mean": None if self.target_mean is None else self.target_mean.tolist(),
        }


def mixup_aware_predictor(
    model: keras.Model,
    *,
    input_mean: ArrayLike,
    alpha: float | None = None,
    theta_bar: float | None = None,
    output: str = "auto",
    target_mean: ArrayLike | None = None,
    name: str | None = None,
) -> keras.Model:
    """The mixup-aware predictor of a model trained with mixup (Carratino et al., 2020).

    Returns a Keras model that computes
    `y_bar + (f(x_bar + theta_bar (x - x_bar)) - y_bar) / theta_bar`: inputs shrunk
    towards the training-input mean `x_bar`, the model's outputs mapped back.
    How outputs are mapped (`output`):

    - "logits": the model outputs logits; they are scaled by `1 / theta_bar`. This is
      the map `z_bar + (z - z_bar) / theta_bar` up to a constant that the softmax
      ignores when the mean logit `z_bar` is the same for every class (for example
      with balanced classes); it then needs no `target_mean`.
    - "softmax": the model ends in a softmax (e.g. `keras.applications` models); the
      output is `softmax(log(p) / theta_bar)`, which equals scaling the logits by
      `1 / theta_bar` exactly (`log(p)` is the logits minus a per-example constant).
    - "linear": regression outputs, or probabilities mapped linearly:
      `y_bar + (f - y_bar) / theta_bar` with `target_mean = y_bar` (probabilities may
      then leave [0, 1]).
    - "auto" (default): "softmax" if the model's last layer is a softmax, else an
      error asking which.

    The input mean is meaningful for mixup of the model's inputs. For a `MixupLayer`
    placed after some layers (latent mixing) the shrink would have to act on those
    features, not on the inputs; for CutMix and k-way mixing no such transformation is
    known (`theta_bar` raises).

    Args:
        model: a trained single-input Keras model.
        input_mean: `x_bar`, e.g. from `input_mean(train_dataset)`.
        alpha: mixup's alpha at training (gives `theta_bar`), or
        theta_bar: the shrink factor itself.
        output: "auto", "logits", "softmax" or "linear".
        target_mean: `y_bar` for "linear".
        name: the returned model's name.

    Returns:
        A `keras.Model` taking the same inputs; it saves to `.keras` and exports.

    Raises:
        ValueError: neither or both of `alpha` and `theta_bar`; a `theta_bar` outside
            (1/2, 1]; an unknown `output`; "auto" on a model that does not end in a
            softmax; "linear" without `target_mean`.

    Examples:
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
        >>> predictor = mixup_aware_predictor(model, input_mean=np.zeros(2), alpha=1.0)
        >>> predictor.predict(np.ones((1, 2)), verbose=0).shape
        (1, 3)
    """
    if (alpha is None) == (theta_bar is None):
        raise user_error(
            ValueError,
            "mixup_aware_predictor needs exactly one of `alpha` (mixup's alpha at training) and "
            f"`theta_bar`; got alpha={alpha!r}, theta_bar={theta_bar!r}.",
        )
    shrink = theta_bar if theta_bar is not None else _mean_of_max_weight(alpha)
    if not 0.5 < float(shrink) <= 1.0:
        raise user_error(
            ValueError,
            f"`theta_bar` must be in (1/2, 1], the mean of max(lam, 1 - lam); got {shrink!r}.",
        )
    if output not in OUTPUT_MODES:
        raise user_error(
            ValueError, f"`output` must be one of {OUTPUT_MODES}; got output={output!r}."
        )
    if output == "auto":
        if last_activation(model) != "softmax":
            raise user_error(
                ValueError,
                "mixup_aware_predictor(output='auto') maps the outputs of models that end in a "
                "softmax; this model does not. Say what it outputs: output='logits' (scaled by "
                "1 / theta_bar) or output='linear' with target_mean (regression).",
            )
        output = "softmax"
    if output == "linear" and target_mean is None:
        raise user_error(
            ValueError,
            "mixup_aware_predictor(output='linear') needs `target_mean`, the training-target mean.",
        )
    inputs = keras.Input(model.input_shape[1:], dtype=model.inputs[0].dtype)
    shrunk = ShrinkToMean(input_mean, shrink, name="shrink_to_input_mean")(inputs)
    mapped = ExpandFromMean(shrink, output, target_mean, name="map_outputs_back")(model(shrunk))
    return keras.Model(inputs, mapped, name=name or f"mixup_aware_{model.name}")

"""MixupLoss: the loss that mixes the targets of a model with a `MixupLayer`."""

from __future__ import annotations

from collections.abc import Callable

import keras

from keras_mixup._src.core import labels as label_rules
from keras_mixup._src.core.validation import user_error, validate_loss_arguments
from keras_mixup._src.fronts.followers import LayerFollower
from keras_mixup._src.fronts.layer import MixupLayer

# Losses whose targets are probabilities per output unit: integer 0/1 labels are
# cast, not one-hot encoded (keras.losses.BinaryCrossentropy takes them as they are).
_BINARY_LOSSES = (
    keras.losses.BinaryCrossentropy,
    keras.losses.BinaryFocalCrossentropy,
    keras.losses.Hinge,
    keras.losses.SquaredHinge,
)
_BINARY_FUNCTIONS = ("binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge")


def is_binary_loss(loss) -> bool:
    """Whether `loss` compares each output unit with a probability (binary or
    multi-label heads) rather than a class distribution."""
    if isinstance(loss, _BINARY_LOSSES):
        return True
    return getattr(getattr(loss, "fn", None), "__name__", "") in _BINARY_FUNCTIONS


def _sparse_to_dense_loss(loss: keras.losses.Loss) -> keras.losses.Loss:
    """The loss to apply to one-hot mixed targets when the user's loss takes class ids."""
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        config = loss.get_config()
        if config.get("ignore_class") is not None:
            raise user_error(
                ValueError,
                "MixupLoss cannot mix targets for a SparseCategoricalCrossentropy with "
                f"ignore_class={config['ignore_class']}: mixed targets have no ignored class.",
            )
        return keras.losses.CategoricalCrossentropy(
            from_logits=config["from_logits"],
            reduction=config["reduction"],
            axis=config.get("axis", -1),
        )
    return loss


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixupLoss(LayerFollower, keras.losses.Loss):
    """Wraps a loss so that a model with a `MixupLayer` trains on mixed targets.

    In a training step, `y_true` and the sample weights are mixed with the lambda
    and permutation that the bound `MixupLayer` used for the inputs, then the
    wrapped loss is applied: the loss equals the wrapped loss on hand-mixed
    `(x~, y~)`. Works on every Keras backend.

    How targets are formed, by the wrapped loss and the predictions' width:

    - Class distributions (categorical losses, outputs wider than one unit):
      integer class ids are one-hot encoded to the width of the predictions
      first, so a sparse loss is fine here; a sparse categorical cross-entropy is
      applied as the equivalent categorical cross-entropy on the mixed one-hot
      targets.
    - Probabilities per unit (a one-unit output such as `Dense(1, "sigmoid")`, or
      a binary loss: `BinaryCrossentropy`, `BinaryFocalCrossentropy`, hinge
      losses; multi-label heads): labels are probabilities, integer 0/1 labels
      are cast (not one-hot encoded), and mixed as `lam * y_i + (1 - lam) * y_j`.
    - Floating targets (one-hot, soft, regression values) are mixed as they are.

    Labels out of range (class ids outside `[0, width)`, binary labels outside
    {0, 1}) raise where values are known (eager steps), as in evaluation; in
    compiled steps (`jit_compile=True`, `jax.jit`, TensorFlow graphs), where no
    assertion survives compilation, they make the loss NaN. In evaluation the
    wrapped loss is applied to the targets unchanged.

    Args:
        loss: the loss to wrap: a name ("categorical_crossentropy",
            "sparse_categorical_crossentropy", "binary_crossentropy", "mse", ...), a
            `keras.losses.Loss`, or a function `(y_true, y_pred) -> per-example loss`.
        layer: the `MixupLayer` whose parameters to use (or its name).
        name: the loss's name (default `mixup_<wrapped loss name>`).
        **loss_kwargs: when `loss` is a name, arguments for its class, e.g.
            `from_logits=True`.

    Raises:
        TypeError: `layer` is not a MixupLayer or a name; extra arguments with a
            loss that is not a name; an unknown loss.
        ValueError: in a step, the layer has not run in the same traced function;
            out-of-range labels (eager steps); a sparse loss with `ignore_class`.

    Examples:
        >>> mixup = MixupLayer(alpha=1.0)
        >>> loss = MixupLoss("categorical_crossentropy", layer=mixup, from_logits=True)
        >>> loss.loss.get_config()["from_logits"]
        True
    """

    def __init__(
        self,
        loss: str | keras.losses.Loss | Callable,
        layer: MixupLayer | str,
        name: str | None = None,
        **loss_kwargs,
    ):
        self.loss = _resolve_loss(loss, loss_kwargs)
        keras.losses.Loss.__init__(
            self,
            name=name or f"mixup_{self.loss.name}",
            reduction=self.loss.reduction,
            dtype=getattr(self.loss, "dtype", None),
        )
        self._dense_loss = _sparse_to_dense_loss(self.loss)
        self.binary = is_binary_loss(self.loss)
        self._follow(layer)

    def integer_labels(self, width) -> str:
        """What integer labels are for this loss and an output `width` wide
        (`labels.integer_labels`, the rule `MixupAccuracy` shares)."""
        return label_rules.integer_labels(width, binary_loss=self.binary)

    @property
    def from_logits(self) -> bool:
        """Whether the wrapped loss takes logits."""
        return bool(getattr(self.loss, "from_logits", False))

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "loss": keras.losses.serialize(self.loss),
            "layer": self.layer_name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = keras.losses.deserialize(config["loss"])
        return cls(**config)

    def __call__(self, y_true, y_pred, sample_weight=None):
        layer = self.layer
        if layer.record is not None and layer.record.params is None:
            return self.loss(y_true, y_pred, sample_weight=sample_weight)
        width = y_pred.shape[-1]
        targets, sample_weight = layer._step_targets(
            y_true, width, integers=self.integer_labels(width), sample_weight=sample_weight
        )
        return self._dense_loss(targets, y_pred, sample_weight=sample_weight)

    def call(self, y_true, y_pred):
        raise NotImplementedError("MixupLoss is applied through __call__.")


@keras.saving.register_keras_serializable(package="keras_mixup")
class _FunctionLoss(keras.losses.Loss):
    """A plain `(y_true, y_pred) -> per-example loss` function as a Loss."""

    def __init__(self, fn, name=None, reduction="sum_over_batch_size"):
        super().__init__(name=name or fn.__name__, reduction=reduction)
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        return {
            "name": self.name,
            "reduction": self.reduction,
            "fn": keras.losses.serialize(self.fn),
        }

    @classmethod
    def from_config(cls, config):
        return cls(keras.losses.deserialize(config["fn"]), config["name"], config["reduction"])


_LOSS_ALIASES = {"Mse": "MeanSquaredError", "Mae": "MeanAbsoluteError"}


def _resolve_loss(loss, loss_kwargs: dict) -> keras.losses.Loss:
    """A `keras.losses.Loss` instance for a name, instance or per-example function."""
    validate_loss_arguments(loss, loss_kwargs)
    if isinstance(loss, str):
        # "sparse_categorical_crossentropy" -> keras.losses.SparseCategoricalCrossentropy
        class_name = "".join(part.capitalize() for part in loss.split("_"))
        class_name = _LOSS_ALIASES.get(class_name, class_name)
        loss_class = getattr(keras.losses, class_name, None)
        if isinstance(loss_class, type) and issubclass(loss_class, keras.losses.Loss):
            return loss_class(**loss_kwargs)
        loss = keras.losses.get(loss)  # a name without a class: kwargs have nowhere to go
        validate_loss_arguments(loss, loss_kwargs)
    if isinstance(loss, keras.losses.Loss):
        return loss
    if loss is keras.losses.sparse_categorical_crossentropy:
        return keras.losses.SparseCategoricalCrossentropy()
    if callable(loss):
        return _FunctionLoss(loss)
    raise user_error(
        TypeError, f"`loss` must be a loss name, a keras.losses.Loss or a function; got {loss!r}."
    )

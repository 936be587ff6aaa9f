"""MixupLayer: mixup inside a Keras model, and MixupLoss, which mixes the targets.

A layer in a model only sees the inputs, but mixup must mix the targets with the
same lambda and pairing (mixing inputs alone is the paper's "mix inputs only"
ablation, which does not work). The mechanism:

1. In a training step, `MixupLayer` draws `MixParams` (`sampling.sample_mix_params`),
   mixes its inputs and keeps the parameter tensors as its *record* of that step.
2. `MixupLoss`, compiled as the model's loss and bound to the layer, reads the
   record in the same step, mixes `y_true` (and the sample weights) with exactly
   those tensors, and calls the wrapped loss. Keras traces the forward pass and
   the loss into one function (one XLA cluster under `jit_compile=True`), so the
   record is an ordinary tensor of that function: no variables, no recomputation.
3. In evaluation and prediction the layer is the identity and records "no
   mixing", so the loss is the plain wrapped loss.

A `MixupLayer` that mixes a training step with no `MixupLoss` bound to it raises
an error instead of silently training on unmixed targets; `inputs_only=True`
opts into that ablation explicitly.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import keras
import tensorflow as tf

from keras_mixup import _ops
from keras_mixup._elements import batch_size, pack_element, parse_element, validated
from keras_mixup.mixing import (
    blend,
    map_tensors,
    mix_batch,
    mix_targets,
    to_float_targets,
    validate_target_mode,
)
from keras_mixup.sampling import MixParams, replica_seed, sample_mix_params
from keras_mixup.schedule import AlphaVariable, alpha_property
from keras_mixup.transform import validate_num_classes, validate_seed

# Layers by name, so that a MixupLoss restored from a saved model's compile
# configuration can find the MixupLayer restored with it (Keras deserializes the
# layers before the compile configuration).
_LAYERS_BY_NAME: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class _Record(NamedTuple):
    params: MixParams | None  # None: the last forward pass did not mix
    graph: object  # the tf graph the tensors belong to (None in eager mode)


def _current_graph():
    return None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()


def _tensorflow_backend() -> bool:
    """True on Keras's TensorFlow backend; False on JAX and PyTorch, where the layer
    mixes with `keras.ops` (keras_mixup._ops)."""
    return keras.backend.backend() == "tensorflow"


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixupLayer(keras.layers.Layer):
    """Mixup (Zhang et al., 2018) as a Keras layer.

    In a model, with `training=True`, the layer replaces its input batch by
    `lam * x + (1 - lam) * x[perm]` (`lam ~ Beta(alpha, alpha)`, `perm` a random
    permutation of the batch) and the `MixupLoss` bound to it mixes the targets
    with the same `lam` and `perm`. With `training=False` (evaluate, predict,
    exported SavedModels) it is the identity, apart from casting integer inputs
    (uint8 images) to the layer's compute dtype, which it does in both modes.

    Placed after some layers of a model rather than at its input, the layer mixes
    latent representations (feature maps) with the labels mixed by `MixupLoss`
    as usual: the paper's "mix labels and latent representations" ablation
    (Table 5, layers 1 to 5). Layers before it see the unmixed batch.

    The layer can also mix whole batches in `tf.data`, like Keras preprocessing
    layers: `dataset.batch(n).map(layer)` on `(x, y)` or `(x, y, sample_weight)`
    elements mixes features, labels and weights together (as `MixupTransform`).

    Args:
        alpha: Beta(alpha, alpha) concentration, finite and >= 0 (0: no mixing).
        num_classes: number of classes, for integer labels in `tf.data` use. In a
            model `MixupLoss` takes the number of classes from the predictions.
        per_example: draw an independent lambda per example instead of one per batch.
        inputs_only: if True, mixing inputs without a `MixupLoss` is allowed (the
            inputs are mixed, the targets stay those of each sample). By default it
            is an error.
        targets: how the bound `MixupLoss` (and `tf.data` use) forms targets:
            "mixed" (default, mixup) or "dominant" (the label of the sample with the
            larger weight: the paper's "mix inputs only" ablation of Table 5).
            For label smoothing, wrap a loss that smooths, e.g.
            `MixupLoss(keras.losses.CategoricalCrossentropy(label_smoothing=0.1), layer)`:
            smoothing commutes with mixing.
        seed: int for reproducible draws, or None.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a batch of features (tensor or nest of tensors).
        labels: optional labels, for `tf.data` use; the layer then returns the
            mixed `(inputs, labels)` or `(inputs, labels, sample_weight)`.
        sample_weight: optional sample weights, for `tf.data` use.
        training: whether to mix. In a model Keras sets it; in `tf.data` use with
            labels it defaults to True.

    Returns:
        The mixed (or cast) inputs, or the mixed element in `tf.data` use.

    Raises:
        ValueError: invalid `alpha`; a training step with no `MixupLoss` bound and
            `inputs_only=False`.

    Example:
    >>> mixup = MixupLayer(alpha=0.2, seed=0)
    >>> model = keras.Sequential([keras.Input((8,)), mixup, keras.layers.Dense(3)])
    >>> model.compile(optimizer="sgd",
    ...               loss=MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True))
    >>> x, y = np.zeros((16, 8), "float32"), np.arange(16) % 3
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> bool(np.isfinite(history.history["loss"][0]))
    True

    References:
        - Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk
          Minimization", ICLR 2018.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        num_classes: int | None = None,
        per_example: bool = False,
        inputs_only: bool = False,
        targets: str = "mixed",
        seed: int | None = None,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self._alpha = AlphaVariable(alpha)
        self.num_classes = validate_num_classes(num_classes)
        self.per_example = bool(per_example)
        self.inputs_only = bool(inputs_only)
        self.targets = validate_target_mode(targets)
        self.seed = validate_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self._record: _Record | None = None
        self._bound_losses: weakref.WeakSet = weakref.WeakSet()
        _LAYERS_BY_NAME[self.name] = self

    alpha = alpha_property(
        "The current alpha. Assigning it (e.g. through `AlphaScheduler`) changes the "
        "mixing of the next training steps without retracing: at 0 the layer blends with "
        "lambda = 1, which leaves inputs and targets exactly as they are."
    )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "num_classes": self.num_classes,
            "per_example": self.per_example,
            "inputs_only": self.inputs_only,
            "targets": self.targets,
            "seed": self.seed,
        }

    def compute_output_shape(self, input_shape):
        return input_shape

    def _draw(self, batch_size) -> MixParams:
        # Under a multi-replica strategy the seed generator's state is mirrored:
        # each replica folds its id into the seed to draw its own parameters.
        return sample_mix_params(
            replica_seed(self.seed_generator.next()),
            batch_size,
            self._alpha.variable,
            per_example=self.per_example,
        )

    def call(self, inputs, labels=None, sample_weight=None, training=None):
        if not _tensorflow_backend():
            return self._call_keras_ops(inputs, labels, training)
        feature_dtype = tf.as_dtype(self.compute_dtype)
        if labels is not None:
            return self._mix_element(inputs, labels, sample_weight, training, feature_dtype)
        if not training:
            self._record = _Record(None, _current_graph())
            return map_tensors(lambda t: tf.cast(t, feature_dtype), inputs)
        self._check_bound()
        first = tf.nest.flatten(inputs)[0]
        params = self._draw(tf.shape(first)[0])
        self._record = _Record(params, _current_graph())
        return map_tensors(lambda t: blend(t, params, feature_dtype), inputs)

    def _call_keras_ops(self, inputs, labels, training):
        """The in-model path on the JAX and PyTorch backends (see keras_mixup._ops)."""
        if labels is not None:
            raise ValueError(
                f"MixupLayer mixes (features, labels) elements in tf.data only on the "
                f"TensorFlow backend; this is the {keras.backend.backend()} backend. In tf.data "
                "use keras_mixup.MixupTransform, which works whatever the Keras backend."
            )
        dtype = self.compute_dtype
        if not training:
            self._record = _Record(None, None)
            return keras.tree.map_structure(lambda t: keras.ops.cast(t, dtype), inputs)
        self._check_bound()
        first = keras.tree.flatten(inputs)[0]
        params = _ops.draw(self.seed_generator, first.shape[0], self.alpha, self.per_example)
        self._record = _Record(params, None)
        return keras.tree.map_structure(lambda t: _ops.blend(t, params, dtype), inputs)

    def _check_bound(self) -> None:
        if not self.inputs_only and not self._bound_losses:
            raise ValueError(
                f"MixupLayer '{self.name}' is mixing the inputs of a training step, but no "
                "MixupLoss is bound to it, so the targets would stay unmixed: that silently "
                "trains the paper's 'mix inputs only' ablation, which does not work. Compile "
                f"the model with loss=keras_mixup.MixupLoss(<your loss>, layer=<this layer>), "
                "or pass inputs_only=True to MixupLayer to mix the inputs alone on purpose."
            )

    def _mix_element(self, features, labels, sample_weight, training, feature_dtype):
        """tf.data use: mix (features, labels[, sample_weight]) together."""
        batch, with_sample_weight = parse_element(
            (features, labels) if sample_weight is None else (features, labels, sample_weight),
            "MixupLayer",
        )
        batch = validated(batch, "MixupLayer", self.num_classes)
        # The layer outputs its compute dtype, floats included; integer features are
        # converted inside the blend (gathered as uint8, not as a float copy).
        batch = batch._replace(
            features=map_tensors(
                lambda t: tf.cast(t, feature_dtype) if t.dtype.is_floating else t, batch.features
            )
        )
        params = self._draw(batch_size(batch)) if training is not False else None
        mixed = mix_batch(
            batch,
            params,
            num_classes=self.num_classes,
            feature_dtype=feature_dtype,
            targets=self.targets,
        )
        return pack_element(mixed, with_sample_weight)


def _sparse_to_dense_loss(loss: keras.losses.Loss) -> keras.losses.Loss:
    """The loss to apply to one-hot mixed targets when the user's loss takes class ids."""
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        config = loss.get_config()
        if config.get("ignore_class") is not None:
            raise ValueError(
                "MixupLoss cannot mix targets for a SparseCategoricalCrossentropy with "
                f"ignore_class={config['ignore_class']}: mixed targets have no ignored class."
            )
        return keras.losses.CategoricalCrossentropy(
            from_logits=config["from_logits"],
            reduction=config["reduction"],
            axis=config.get("axis", -1),
        )
    return loss


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixupLoss(keras.losses.Loss):
    """Wraps a loss so that a model with a `MixupLayer` trains on mixed targets.

    In a training step, `y_true` and the sample weights are mixed with the lambda
    and permutation that the bound `MixupLayer` used for the inputs, then the
    wrapped loss is applied: the loss equals the wrapped loss on hand-mixed
    `(x~, y~)`. Integer class ids are one-hot encoded to the width of the
    predictions first; a sparse categorical cross-entropy is applied as the
    equivalent categorical cross-entropy on the mixed one-hot targets. In
    evaluation the wrapped loss is applied to the targets unchanged.

    Args:
        loss: the loss to wrap: a name ("categorical_crossentropy",
            "sparse_categorical_crossentropy", "mse", ...), a `keras.losses.Loss`,
            or a function `(y_true, y_pred) -> per-example loss`.
        layer: the `MixupLayer` whose parameters to use (or its name).
        **loss_kwargs: when `loss` is a name, arguments for its class, e.g.
            `from_logits=True`.

    Example:
    >>> mixup = MixupLayer(alpha=1.0)
    >>> loss = MixupLoss("categorical_crossentropy", layer=mixup, from_logits=True)
    >>> loss.loss.get_config()["from_logits"]
    True
    """

    def __init__(self, loss, layer, name: str | None = None, **loss_kwargs):
        self.loss = _resolve_loss(loss, loss_kwargs)
        super().__init__(
            name=name or f"mixup_{self.loss.name}",
            reduction=self.loss.reduction,
            dtype=getattr(self.loss, "dtype", None),
        )
        self._dense_loss = _sparse_to_dense_loss(self.loss)
        if isinstance(layer, MixupLayer):
            self._layer_name = layer.name
            self._layer = layer
        elif isinstance(layer, str):
            self._layer_name = layer
            self._layer = _LAYERS_BY_NAME.get(layer)
        else:
            raise TypeError(
                "`layer` must be the MixupLayer whose mixing the targets follow (or its "
                f"name); got {layer!r}."
            )
        if self._layer is not None:
            self._layer._bound_losses.add(self)

    @property
    def layer(self) -> MixupLayer:
        if self._layer is None:
            self._layer = _LAYERS_BY_NAME.get(self._layer_name)
            if self._layer is None:
                raise ValueError(
                    f"MixupLoss is bound to a MixupLayer named '{self._layer_name}', but no "
                    "such layer exists in this process."
                )
            self._layer._bound_losses.add(self)
        return self._layer

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "loss": keras.losses.serialize(self.loss),
            "layer": self._layer_name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = keras.losses.deserialize(config["loss"])
        return cls(**config)

    def __call__(self, y_true, y_pred, sample_weight=None):
        record = self.layer._record
        if record is None:
            raise ValueError(
                f"MixupLoss was called before its MixupLayer '{self._layer_name}' ran: the "
                "layer must be part of the model whose loss this is."
            )
        if record.params is None:
            return self.loss(y_true, y_pred, sample_weight=sample_weight)
        if _tensorflow_backend():
            if record.graph is not _current_graph():
                raise ValueError(
                    f"MixupLoss must run in the same step (the same traced function) as the "
                    f"forward pass of MixupLayer '{self._layer_name}'; the layer's last mixing "
                    "belongs to another function. Compute the loss right after calling the model."
                )
            y_true = tf.convert_to_tensor(y_true)
            num_classes = y_pred.shape[-1] if y_true.dtype.is_integer else None
            targets, mix = to_float_targets(y_true, num_classes, name="y_true"), mix_targets
        else:  # JAX, PyTorch: the keras.ops twins (keras_mixup._ops)
            targets, mix = _ops.float_targets(y_true, y_pred.shape[-1]), _ops.mix_targets
        mode = self.layer.targets
        targets = mix(targets, record.params, mode)
        if sample_weight is not None:
            sample_weight = mix(keras.ops.cast(sample_weight, "float32"), record.params, mode)
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


def _resolve_loss(loss, loss_kwargs: dict) -> keras.losses.Loss:
    """A `keras.losses.Loss` instance for a name, instance or per-example function."""
    if isinstance(loss, str):
        # "sparse_categorical_crossentropy" -> keras.losses.SparseCategoricalCrossentropy
        class_name = "".join(part.capitalize() for part in loss.split("_"))
        class_name = _LOSS_ALIASES.get(class_name, class_name)
        loss_class = getattr(keras.losses, class_name, None)
        if isinstance(loss_class, type) and issubclass(loss_class, keras.losses.Loss):
            return loss_class(**loss_kwargs)
        loss = keras.losses.get(loss)
    if loss_kwargs:
        raise TypeError(
            f"Extra loss arguments {sorted(loss_kwargs)} can only be given with a loss name."
        )
    if isinstance(loss, keras.losses.Loss):
        return loss
    if loss is keras.losses.sparse_categorical_crossentropy:
        return keras.losses.SparseCategoricalCrossentropy()
    if callable(loss):
        return _FunctionLoss(loss)
    raise TypeError(f"`loss` must be a loss name, a keras.losses.Loss or a function; got {loss!r}.")


_LOSS_ALIASES = {"Mse": "MeanSquaredError", "Mae": "MeanAbsoluteError"}

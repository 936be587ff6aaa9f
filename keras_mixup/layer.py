"""MixupLayer: mixup inside a Keras model (targets mixed by `MixupLoss`), and in tf.data.

A layer in a model only sees the inputs, but mixup must mix the targets with the
same lambda and pairing (mixing inputs alone is the paper's "mix inputs only"
ablation, which does not work). The mechanism:

1. In a training step, `MixupLayer` draws `MixParams` (`sampling.sample_mix_params`),
   mixes its inputs (`mixing.blend`) and keeps the parameter tensors as its
   *record* of that step (`layer.record`).
2. `MixupLoss` (and `MixupAccuracy`), bound to the layer, read the record in the
   same step and mix `y_true` and the sample weights with exactly those tensors
   (`layer.step_targets`). Keras traces the forward pass, the loss and the metrics
   into one function (one XLA cluster under `jit_compile=True`, one `jax.jit`
   program on JAX), so the record is an ordinary tensor of that function: no
   extra variables, no recomputation.
3. In evaluation and prediction the layer is the identity and records "no
   mixing", so the loss is the plain wrapped loss.

Inside a model the layer computes with `keras.ops` (`keras_mixup.ops.KERAS`),
the same sampling and mixing code on TensorFlow, JAX and PyTorch. Mapped over a
`tf.data` dataset of `(x, y)` batches it runs TensorFlow ops through a
`MixupTransform` built from its configuration, whatever the Keras backend.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import keras
import tensorflow as tf

from keras_mixup.mixing import blend, map_tensors, mix_batch, mix_targets, to_float_targets
from keras_mixup.ops import KERAS, TENSORFLOW
from keras_mixup.sampling import fold_in
from keras_mixup.settings import MixConfig, MixingOptions, mix_settings, read
from keras_mixup.structures import MixParams
from keras_mixup.transform import MixupTransform, pack_element
from keras_mixup.validation import (
    check_class_ids,
    parse_element,
    validate_num_classes,
    validate_seed,
    validate_target_mode,
    validated,
)

# Layers by name, so that a MixupLoss restored from a saved model's compile
# configuration can find the MixupLayer restored with it (Keras deserializes the
# layers before the compile configuration).
_LAYERS_BY_NAME: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
# Every MixupLoss / MixupAccuracy, for error messages that say which layer they follow.
_BOUND_OBJECTS: weakref.WeakSet = weakref.WeakSet()


class StepRecord(NamedTuple):
    """What a `MixupLayer` did in its last forward pass."""

    params: MixParams | None  # None: the pass did not mix (inference, or not traced yet)
    graph: object  # the TensorFlow graph the tensors belong to (None: eager, JAX, torch)


def current_graph():
    return None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()


def find_layer(name: str) -> MixupLayer | None:
    """The live `MixupLayer` called `name`, if any."""
    return _LAYERS_BY_NAME.get(name)


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixupLayer(MixingOptions, keras.layers.Layer):
    """Mixup (Zhang et al., 2018) and its family (k-way, CutMix) as a Keras layer.

    In a model, with `training=True`, the layer replaces its input batch by
    `lam * x + (1 - lam) * x[perm]` (`lam ~ Beta(alpha, alpha)`, `perm` a random
    permutation of the batch) and the `MixupLoss` bound to it mixes the targets
    with the same `lam` and `perm`. With `training=False` (evaluate, predict,
    exported SavedModels) it is the identity, apart from casting its inputs to the
    layer's compute dtype, which it does in both modes. The layer runs on every
    Keras backend (TensorFlow, JAX, PyTorch) with the same sampler and mixing
    code; the same seed draws the same parameters on each.

    A model with several inputs needs one `MixupLayer` called on all of them
    (`mixup([image, metadata])`): every input is mixed with the same lambda and
    partners, which one loss can follow.

    Placed after some layers of a model rather than at its input, the layer mixes
    latent representations (feature maps) with the labels mixed by `MixupLoss`
    as usual: the paper's "mix labels and latent representations" ablation
    (Table 5, layers 1 to 5). Layers before it see the unmixed batch.

    The layer can also mix whole batches in `tf.data`, like Keras preprocessing
    layers, on any backend: `dataset.batch(n).map(layer)` on `(x, y)` or
    `(x, y, sample_weight)` elements mixes features, labels and weights together
    (with TensorFlow ops, as `MixupTransform` does; labels come out as float32
    targets, so use a categorical loss). A dict element or features alone raise
    an error that says what element it expects.

    `layer.alpha` lives in a non-trainable variable of the layer: assigning it
    (directly or through `AlphaScheduler`) takes effect at the next training step
    without retracing on TensorFlow and PyTorch; on JAX, whose trainer copies the
    model's variables into the compiled step at the start of each epoch, an
    assignment made during an epoch of `fit` takes effect at the next epoch.

    Args:
        alpha: mixup's Beta(alpha, alpha) concentration, finite and >= 0 (0: no
            mixup).
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
        seed: int for reproducible draws, or None. The same seed draws the same
            parameters on every Keras backend.
        num_mixed: how many examples mixup combines (>= 2; k >= 3: Dirichlet
            weights over k examples, the paper's Section 2). Not with CutMix.
        cutmix_alpha: CutMix's concentration (> 0 turns CutMix on, default 0): a
            box of the partner's pixels of area `(1 - lambda) H W`, lambda ~
            Beta(cutmix_alpha, cutmix_alpha); the inputs must be images
            `[B, H, W(, C)]`. The loss gets the area-corrected weights.
        switch_prob: with both alphas > 0, the probability of CutMix instead of
            mixup for a batch (an example, with `per_example`).
        prob: the probability that a batch (an example) is mixed at all.
        exact_cutmix_weight: True (default): a cut example's target weight is
            exactly the share of its pixels it keeps; False: the drawn lambda.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    The options mean what they mean for `MixupTransform`, which documents them in
    full; `alpha`, `cutmix_alpha`, `switch_prob` and `prob` are run-time settings
    (layer variables) that `AlphaScheduler` can drive.

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
            `inputs_only=False`; in `tf.data`, an element that is not
            `(features, labels[, sample_weight])`.

    Examples:
        >>> mixup = MixupLayer(alpha=0.2, seed=0)
        >>> model = keras.Sequential([keras.Input((8,)), mixup, keras.layers.Dense(3)])
        >>> model.compile(optimizer="sgd",
        ...               loss=MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
        ...               metrics=[MixupAccuracy(layer=mixup)])
        >>> x, y = np.zeros((16, 8), "float32"), np.arange(16) % 3
        >>> history = model.fit(x, y, epochs=1, verbose=0)
        >>> sorted(history.history)
        ['loss', 'mixup_accuracy']

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
        num_mixed: int = 2,
        cutmix_alpha: float = 0.0,
        switch_prob: float = 0.5,
        prob: float = 1.0,
        exact_cutmix_weight: bool = True,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.settings = mix_settings(alpha, cutmix_alpha, switch_prob, prob)
        self.config = MixConfig.create(per_example, num_mixed, cutmix_alpha, exact_cutmix_weight)
        self.num_classes = validate_num_classes(num_classes)
        self.inputs_only = bool(inputs_only)
        self.targets = validate_target_mode(targets)
        self.seed = validate_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        for name, value in self.settings.items():
            value.attach(
                self.add_weight(
                    name=name,
                    shape=(),
                    dtype="float32",
                    trainable=False,
                    autocast=False,  # float32 under mixed precision too
                    initializer="zeros",
                )
            )
        self.record: StepRecord | None = None
        self._bound: weakref.WeakSet = weakref.WeakSet()
        self._used_in_model = False
        self._tf_data_transform: MixupTransform | None = None
        _LAYERS_BY_NAME[self.name] = self

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            **self.mixing_config(),
            "num_classes": self.num_classes,
            "inputs_only": self.inputs_only,
            "targets": self.targets,
            "seed": self.seed,
        }

    def load_own_variables(self, store):
        super().load_own_variables(store)
        for value in self.settings.values():
            value.reload()

    def compute_output_shape(self, input_shape):
        return input_shape

    def bind(self, follower) -> None:
        """Registers a `MixupLoss` / `MixupAccuracy` that follows this layer's mixing."""
        self._bound.add(follower)

    # ------------------------------------------------------------------ dispatch

    def __call__(self, inputs, *args, **kwargs):
        first = keras.tree.flatten(inputs)[0]
        if isinstance(first, keras.KerasTensor):  # building a model
            self._used_in_model = True
            return super().__call__(inputs, *args, **kwargs)
        labels = args[0] if args else kwargs.get("labels")
        if labels is not None:  # a (features, labels[, sample_weight]) element
            return self._mix_element(inputs, *args, **kwargs)
        in_tf_graph = isinstance(first, tf.Tensor) and not tf.executing_eagerly()
        if (
            kwargs.get("training") is None
            and not self._used_in_model
            and (in_tf_graph or isinstance(inputs, dict))
        ):
            # dataset.map(layer) on a dict element or on features alone: there are
            # no labels to mix, and returning the batch unmixed would be silent.
            parse_element((inputs,), f"MixupLayer '{self.name}' in tf.data")
        return super().__call__(inputs, *args, **kwargs)

    # ------------------------------------------------------------------ in a model

    def call(self, inputs, training=None):
        if training is not None:
            self._used_in_model = True
        dtype = self.compute_dtype
        if not training:
            self.record = StepRecord(None, current_graph())
            return map_tensors(lambda t: KERAS.cast(t, dtype), inputs)
        self._check_bound()
        first = keras.tree.flatten(inputs)[0]
        params = self.config.draw(
            self._step_seed(),
            inputs,
            KERAS.size(first),
            read(self.settings, keras_variables=True),
            f"MixupLayer '{self.name}'",
            KERAS,
        )
        self.record = StepRecord(params, current_graph())
        return map_tensors(lambda t: blend(t, params, dtype, ops=KERAS), inputs)

    def _step_seed(self):
        seed = self.seed_generator.next()
        if keras.backend.backend() == "tensorflow":
            # Under a multi-replica tf.distribute strategy the seed generator's state
            # is mirrored: each replica folds its id in to draw its own parameters.
            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                seed = fold_in(seed, context.replica_id_in_sync_group, ops=KERAS)
        return seed

    def _check_bound(self) -> None:
        if self.inputs_only or self._bound:
            return
        others = sorted({obj.layer_name for obj in _BOUND_OBJECTS} - {self.name})
        elsewhere = (
            f" The MixupLoss / MixupAccuracy objects in this process follow the layer(s) "
            f"{others}: bind the loss to the MixupLayer that is in this model."
            if others
            else ""
        )
        raise ValueError(
            f"MixupLayer '{self.name}' is mixing the inputs of a training step, but no "
            "MixupLoss is bound to it, so the targets would stay unmixed: that silently "
            "trains the paper's 'mix inputs only' ablation, which does not work. Compile "
            f"the model with loss=keras_mixup.MixupLoss(<your loss>, layer=<this layer>), "
            f"or pass inputs_only=True to MixupLayer to mix the inputs alone on purpose."
            f"{elsewhere} A model with several inputs needs one MixupLayer called on all "
            "of them (mixup([x1, x2]) mixes every input with the same lambda and partners), "
            "not one layer per input."
        )

    def step_targets(self, y_true, num_classes: int, sample_weight=None, name="y_true"):
        """`y_true` (and `sample_weight`) mixed like the inputs of the current step.

        Integer class ids are one-hot encoded to `num_classes` (the width of the
        predictions) first (ids outside
        `[0, num_classes)` raise where values can be checked, and give NaN targets
        inside `jax.jit` / XLA). Returns float32 targets and weights; with no
        mixing in this step (inference), the float targets unmixed.

        Raises:
            ValueError: the layer has not run yet, or ran in another traced function.
        """
        record = self.record
        if record is None:
            raise ValueError(
                f"A MixupLoss / MixupAccuracy follows MixupLayer '{self.name}', which has not "
                "run: the layer must be part of the model whose loss and metrics these are. "
                "A model with several inputs needs one MixupLayer called on all of them."
            )
        if record.graph is not current_graph():
            raise ValueError(
                f"MixupLoss must run in the same step (the same traced function) as the "
                f"forward pass of MixupLayer '{self.name}'; the layer's last mixing belongs "
                "to another function. Compute the loss right after calling the model."
            )
        y_true = KERAS.convert(y_true)
        if not KERAS.dtype(y_true).startswith(("int", "uint")):
            num_classes = None  # float targets are used as they are
        else:
            check_class_ids(y_true, num_classes, KERAS, name)
        targets = to_float_targets(y_true, num_classes, name, ops=KERAS)
        if sample_weight is not None:
            sample_weight = KERAS.cast(KERAS.convert(sample_weight), "float32")
        if record.params is None:
            return targets, sample_weight
        targets = mix_targets(targets, record.params, self.targets, ops=KERAS)
        if sample_weight is not None:
            sample_weight = mix_targets(sample_weight, record.params, self.targets, ops=KERAS)
        return targets, sample_weight

    # ------------------------------------------------------------------ in tf.data

    def _mix_element(self, features, labels, sample_weight=None, training=None):
        """tf.data use: mix (features, labels[, sample_weight]) together, with TensorFlow ops."""
        element = (features, labels) if sample_weight is None else (features, labels, sample_weight)
        batch, with_sample_weight = parse_element(element, f"MixupLayer '{self.name}'")
        # The layer outputs its compute dtype, floating features included; integer
        # features are converted inside the blend (gathered as uint8, not as floats).
        dtype = self.compute_dtype
        batch = batch._replace(
            features=map_tensors(
                lambda t: tf.cast(t, dtype) if tf.as_dtype(t.dtype).is_floating else t,
                batch.features,
            )
        )
        if training is False:
            batch = validated(batch, "MixupLayer", self.num_classes)
            mixed = mix_batch(
                batch,
                None,
                num_classes=self.num_classes,
                feature_dtype=dtype,
                targets=self.targets,
                ops=TENSORFLOW,
            )
            return pack_element(mixed, with_sample_weight)
        return self._transform()(*pack_element(batch, with_sample_weight))

    def _transform(self) -> MixupTransform:
        """The MixupTransform that mixes for this layer in tf.data (same alpha)."""
        if self._tf_data_transform is None:
            with tf.init_scope():
                transform = MixupTransform(
                    **self.mixing_config(),
                    num_classes=self.num_classes,
                    seed=self.seed,
                    dtype=self.compute_dtype,
                    targets=self.targets,
                )
            transform.settings = self.settings
            transform.name = f"MixupLayer '{self.name}'"
            self._tf_data_transform = transform
        return self._tf_data_transform


def register_follower(follower) -> None:
    """Records a `MixupLoss` / `MixupAccuracy` (for error messages)."""
    _BOUND_OBJECTS.add(follower)

"""MixupLayer: mixup inside a Keras model (targets mixed by `MixupLoss`), and in
data pipelines (tf.data, Grain, `keras.layers.Pipeline`).

A layer in a model only sees the inputs, but mixup must mix the targets with the
same lambda and pairing (mixing inputs alone is the paper's "mix inputs only"
ablation, which does not work). The mechanism:

1. In a training step, `MixupLayer` draws `MixParams` (its `MixSpec`), mixes its
   inputs and keeps the parameter tensors as its *record* of that step
   (`layer.record`).
2. `MixupLoss` (and `MixupAccuracy`), bound to the layer, read the record in the
   same step and mix `y_true` and the sample weights with exactly those tensors
   (`layer._step_targets`). Keras traces the forward pass, the loss and the metrics
   into one function (one XLA cluster under `jit_compile=True`, one `jax.jit`
   program on JAX), so the record is an ordinary tensor of that function: no
   extra variables, no recomputation.
3. In evaluation and prediction the layer is the identity and records "no
   mixing", so the loss is the plain wrapped loss.

Pipeline or model is decided by what the layer is given, as Keras's
preprocessing layers decide which library to run on: a whole element (features
*and* labels: `(x, y[, w])`, or Keras's dict with 'labels') is mixed as a data
pipeline does it, every part together, in the element's own kind of tensor
(TensorFlow ops in tf.data, NumPy in Grain); features alone are a model's inputs.
"""

from __future__ import annotations

import sys
import weakref
from typing import NamedTuple

import keras
import numpy as np

from keras_mixup._src.bindings.ops import (
    KERAS,
    in_grain_pipeline,
    in_tensorflow_graph,
    is_traced,
)
from keras_mixup._src.core.elements import is_whole_element, parse_element
from keras_mixup._src.core.mixing import blend_tensor, map_tensors, mixed_mask, zero_padding
from keras_mixup._src.core.options import options_of
from keras_mixup._src.core.sampling import fold_in
from keras_mixup._src.core.spec import MixSpec
from keras_mixup._src.core.structures import MixParams, Parts
from keras_mixup._src.core.validation import user_error, validate_layer_reference, validate_seed
from keras_mixup._src.fronts.eager import draw_on_host
from keras_mixup._src.fronts.element_mixer import ElementMixer
from keras_mixup._src.fronts.runtime import RuntimeSettings, RuntimeVariables

_OWN_OPTIONS = options_of("layer")  # the option table's, in its order

# The live layers by name, only to resolve the layer name in a saved MixupLoss /
# MixupAccuracy configuration: Keras deserializes a model's layers before its
# compile configuration, so the restored layer is found here by its name.
_LAYERS_BY_NAME: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def find_layer(name: str) -> MixupLayer | None:
    """The live `MixupLayer` called `name`, if any (see `_LAYERS_BY_NAME`)."""
    return _LAYERS_BY_NAME.get(name)


class StepRecord(NamedTuple):
    """What a `MixupLayer` did in its last forward pass."""

    params: MixParams | None  # None: the pass did not mix (inference)
    graph: object  # the TensorFlow graph the tensors belong to (None: eager, JAX, torch)
    shards: int = 1  # partners from the example's own shard of the batch (keras.distribution)


def _enclosing_keras_calls():
    """`(called_by_another_layer, in_shape_inference)`, read from Python's stack: whether
    another Keras layer or model is calling this one (`keras.layers.Layer.__call__` of an
    object other than the caller's own), and whether Keras is tracing layers only for
    their outputs' shapes and dtypes (`compute_output_spec`: a layer's, e.g. of a
    `keras.layers.Pipeline` in a model being built, or the backend's, with which Keras
    builds a layer by running it on symbolic inputs). Keras has no public getter for its
    call context; these functions on the stack say the same, without its private modules
    (`in_grain_pipeline` reads the stack the same way)."""
    frame = sys._getframe(2)  # the caller's caller: the MixupLayer method asking
    caller = frame.f_locals.get("self")
    called, shapes = False, False
    while frame is not None:
        name = frame.f_code.co_name
        if name in ("__call__", "compute_output_spec"):
            owner = frame.f_locals.get("self")
            is_layer = isinstance(owner, keras.layers.Layer)
            called |= name == "__call__" and is_layer and owner is not caller
            in_keras = frame.f_globals.get("__name__", "").startswith("keras.")
            shapes |= name == "compute_output_spec" and (is_layer or in_keras)
        frame = frame.f_back
    return called, shapes


def _outermost_call() -> bool:
    """Whether no other Keras layer or model is calling this one (a data pipeline,
    or the user, calls it directly)."""
    return not _enclosing_keras_calls()[0]


def _shape_inference() -> bool:
    """Whether Keras is tracing the layer only for its output's shape and dtype
    (`compute_output_spec`, e.g. of a `keras.layers.Pipeline` in a model being built)."""
    return _enclosing_keras_calls()[1]


def _current_graph():
    if not in_tensorflow_graph():
        return None
    from keras_mixup._src.bindings.tf_ops import tf

    return tf.compat.v1.get_default_graph()


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixupLayer(RuntimeSettings, keras.layers.Layer):
    """Mixup (Zhang et al., 2018) and its family (k-way, CutMix) as a Keras layer.

    In a model, with `training=True`, the layer replaces its input batch by
    `lam * x + (1 - lam) * x[perm]` (`lam ~ Beta(alpha, alpha)`, `perm` a random
    permutation of the batch) and the `MixupLoss` bound to it mixes the targets
    with the same `lam` and `perm`. With `training=False` (evaluate, predict,
    exported SavedModels) it is the identity, apart from casting its inputs to the
    layer's compute dtype, which it does in both modes. The layer runs on every
    Keras backend (TensorFlow, JAX, PyTorch) with the same sampler and mixing
    code; the same seed draws the same parameters on each. Where the backend runs
    eagerly (PyTorch, JAX without `jit`), the few parameters are drawn on the host
    and moved once.

    A model with several inputs needs one `MixupLayer` called on all of them
    (`mixup([image, metadata])`): every input is mixed with the same lambda and
    partners, which one loss can follow.

    Placed after some layers of a model rather than at its input, the layer mixes
    latent representations (feature maps) with the labels mixed by `MixupLoss`
    as usual: the paper's "mix labels and latent representations" ablation
    (Table 5, layers 1 to 5). Layers before it see the unmixed batch.

    In a data pipeline, like Keras's preprocessing layers, the layer mixes whole
    elements: `dataset.batch(n).map(layer)` on `(x, y)`, `(x, y, sample_weight)`
    or Keras's dict (`{"images", "labels", ...}`), in tf.data (TensorFlow ops,
    any backend), Grain and on NumPy batches, and inside
    `keras.layers.Pipeline([...])`; labels come out as float32 targets, so use a
    categorical loss. Given features alone outside a model, it raises an error
    that says which element it expects.

    `layer.alpha` lives in a non-trainable variable of the layer: assigning it
    (directly or through `AlphaScheduler`) takes effect at the next training step
    without retracing on TensorFlow and PyTorch; on JAX, whose trainer copies the
    model's variables into the compiled step at the start of each epoch, an
    assignment made during an epoch of `fit` takes effect at the next epoch.

    Args:
        alpha: mixup's Beta(alpha, alpha) concentration, finite and >= 0 (0: no
            mixup).
        num_classes: number of classes (or a nest per label), for integer labels in
            a data pipeline. In a model `MixupLoss` takes the number of classes from
            the predictions.
        per_example: draw an independent lambda per example instead of one per batch.
        inputs_only: if True, mixing inputs without a `MixupLoss` is allowed (the
            inputs are mixed, the targets stay those of each sample). By default it
            is an error.
        targets: how the bound `MixupLoss` (and pipeline use) forms targets:
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
        gridmix_alpha: GridMix's concentration (> 0 turns GridMix on, default 0): the
            partner shows through the holes of a grid in a random crop, the hole
            side set by lambda ~ Beta(gridmix_alpha, gridmix_alpha); images only.
        gridmix_holes: `(low, high)`, default (2, 6): GridMix's number of cells
            across the crop's width, drawn uniformly from this range.
        fmix_alpha: FMix's concentration (> 0 turns FMix on, default 0): the partner
            shows through a random low-frequency mask covering `1 - lambda` of the
            pixels, lambda ~ Beta(fmix_alpha, fmix_alpha); images of a fixed size.
        fmix_decay_power: the decay of FMix's spectrum (> 0, default 3).
        fmix_max_soft: in [0, 0.5], default 0: the share of pixels on each side of
            FMix's threshold that get soft weights.
        fmix_reformulate: if True, FMix's lambda ~ Beta(fmix_alpha + 1, fmix_alpha).
        smoothmix_alpha: SmoothMix's concentration (> 0 turns SmoothMix on, default
            0): the partner blended in through a Gaussian blob at a random centre,
            its width drawn within `smoothmix_sigma` ~ Beta(smoothmix_alpha,
            smoothmix_alpha) (1: uniform, as published); images only.
        smoothmix_sigma: `(low, high)`, default (0.25, 0.5): the range of
            SmoothMix's width as a share of the image's side.
        resizemix_alpha: ResizeMix's concentration (> 0 turns ResizeMix on, default
            0): the partner's whole image resized into a patch of side ratio drawn
            within `resizemix_scope` ~ Beta(resizemix_alpha, resizemix_alpha) (1:
            uniform, as published), at a random position; images only.
        resizemix_scope: `(low, high)`, default (0.1, 0.8): the range of
            ResizeMix's side ratio.
        mosaic_alpha: Mosaic's concentration (> 0 turns Mosaic on, default 0): the
            example and three partners tiled around a centre whose offsets are drawn
            within `mosaic_offset` ~ Beta(mosaic_alpha, mosaic_alpha) (1: uniform);
            images (or feature maps) only, pairs only.
        mosaic_offset: `(low, high)`, default (0.25, 0.75): the range of Mosaic's
            centre as a share of the image's height and width.
        switch_prob: with mixup and a method that pastes pixels on (CutMix, GridMix,
            FMix, SmoothMix, ResizeMix, Mosaic), the probability of one of those (split equally among
            those on) instead of mixup for a batch (an example, with `per_example`).
        prob: the probability that a batch (an example) is mixed at all.
        exact_cutmix_weight: True (default): a cut example's target weight is
            exactly the share of its pixels it keeps; False: the drawn lambda.
        mix_across_devices: under a `keras.distribution` (`DataParallel`, or the data
            axis of `ModelParallel`), the layer mixes each device's shard of the batch
            apart by default: partners from the same shard, parameters drawn per shard,
            no collective on the inputs (as each replica does under tf.distribute).
            True: partners from the whole global batch, which gathers every input onto
            every device in each step.
        ignore_class: the id of unlabelled ("void") pixels in integer segmentation
            masks, e.g. 255 (VOC, Cityscapes). None (default): every id must be a
            class in `[0, num_classes)`. Where masks become one-hot targets (mixup),
            such pixels get an all-zero row, so a mixed pixel's targets sum to the
            weight of its labelled sources: a categorical cross-entropy then weighs
            each pixel by that share (a pixel void in every source adds 0 to the sum,
            but counts in a `sum_over_batch_size` mean). Where each pixel comes from
            one source (CutMix, GridMix, FMix without soft edges or ResizeMix, alone;
            `targets="dominant"`) integer masks are kept as
            they are, void ids included, for
            `SparseCategoricalCrossentropy(ignore_class=...)`.
        bounding_box_format: the format of the boxes of Keras's element dict in a data
            pipeline, as for `MixupTransform`.
        min_box_visibility: under a method that pastes pixels, the share of its area
            a box's source must still show (as for `MixupTransform`; default 0.1).
        data_format: "channels_last" or "channels_first" images (for CutMix's box and
            the boxes); None: `keras.config.image_data_format()`.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    The options mean what they mean for `MixupTransform`, which documents them in
    full; `alpha`, `switch_prob`, `prob` and the methods' alphas (`cutmix_alpha`,
    `gridmix_alpha`, `fmix_alpha`, `smoothmix_alpha`, `resizemix_alpha`, `mosaic_alpha`)
    are run-time
    settings (layer
    variables) that `AlphaScheduler` can drive.

    Call arguments:
        inputs: a batch of features (tensor or nest of tensors) in a model; in a
            data pipeline, the whole element (see above).
        training: whether to mix. In a model Keras sets it; in a pipeline it
            defaults to True.

    Returns:
        The mixed (or cast) inputs in a model; the mixed element in a pipeline.

    Raises:
        ValueError: invalid arguments; a training step with no `MixupLoss` bound
            and `inputs_only=False`; in a pipeline, an element of another form.

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
        num_classes: int | dict | list | tuple | None = None,
        per_example: bool = False,
        inputs_only: bool = False,
        targets: str = "mixed",
        seed: int | None = None,
        num_mixed: int = 2,
        cutmix_alpha: float = 0.0,
        gridmix_alpha: float = 0.0,
        gridmix_holes: tuple[int, int] = (2, 6),
        fmix_alpha: float = 0.0,
        fmix_decay_power: float = 3.0,
        fmix_max_soft: float = 0.0,
        fmix_reformulate: bool = False,
        smoothmix_alpha: float = 0.0,
        smoothmix_sigma: tuple[float, float] = (0.25, 0.5),
        resizemix_alpha: float = 0.0,
        resizemix_scope: tuple[float, float] = (0.1, 0.8),
        mosaic_alpha: float = 0.0,
        mosaic_offset: tuple[float, float] = (0.25, 0.75),
        switch_prob: float = 0.5,
        prob: float = 1.0,
        exact_cutmix_weight: bool = True,
        mix_across_devices: bool = False,
        bounding_box_format: str | None = None,
        min_box_visibility: float = 0.1,
        data_format: str | None = None,
        ignore_class: int | None = None,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.runtime = RuntimeVariables(
            MixSpec(
                alpha=alpha,
                num_classes=num_classes,
                per_example=per_example,
                targets=targets,
                num_mixed=num_mixed,
                cutmix_alpha=cutmix_alpha,
                gridmix_alpha=gridmix_alpha,
                gridmix_holes=gridmix_holes,
                fmix_alpha=fmix_alpha,
                fmix_decay_power=fmix_decay_power,
                fmix_max_soft=fmix_max_soft,
                fmix_reformulate=fmix_reformulate,
                smoothmix_alpha=smoothmix_alpha,
                smoothmix_sigma=smoothmix_sigma,
                resizemix_alpha=resizemix_alpha,
                resizemix_scope=resizemix_scope,
                mosaic_alpha=mosaic_alpha,
                mosaic_offset=mosaic_offset,
                switch_prob=switch_prob,
                prob=prob,
                exact_cutmix_weight=exact_cutmix_weight,
                mix_across_devices=mix_across_devices,
                bounding_box_format=bounding_box_format,
                min_box_visibility=min_box_visibility,
                data_format=data_format,
                ignore_class=ignore_class,
            )
        )
        self.inputs_only = bool(inputs_only)
        self.seed = validate_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.runtime.add_keras_variables(self)
        self.record: StepRecord | None = None
        self._step_masks = None  # the output masks of the last mixing call (compute_mask)
        self._symbolic_outputs = None
        self._followers: weakref.WeakSet = weakref.WeakSet()
        self._elements = ElementMixer(
            self,
            owner=self.owner,
            seed=self.seed,
            feature_dtype=self.compute_dtype,
            floating_dtype=self.compute_dtype,
        )
        _LAYERS_BY_NAME[self.name] = self
        # every variable exists now (nothing depends on the input shape): a Pipeline or
        # model holding the layer need not build it
        self.built = True

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            **self.spec.config(*_OWN_OPTIONS),
            "inputs_only": self.inputs_only,
            "seed": self.seed,
        }

    def load_own_variables(self, store):
        if len(store.keys()) < len(self.non_trainable_variables):
            # saved before a run-time option was added (0.2.0 saved four): the saved
            # values by their index (options.RUNTIME appends new ones), the rest as built
            for index in range(len(store.keys())):
                self.non_trainable_variables[index].assign(store[str(index)])
        else:
            super().load_own_variables(store)
        # the loaded values, except where they equal the current ones in float32 (which
        # keeps the exact Python values of the configuration)
        changed = {
            name: value
            for name, value in self.runtime.keras_numpy().items()
            if np.float32(getattr(self.spec, name)) != np.float32(value)
        }
        if changed:
            self.runtime.set(**changed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def _bind(self, follower) -> None:
        """Registers a `MixupLoss` / `MixupAccuracy` that follows this layer's mixing."""
        self._followers.add(follower)

    def _bound_followers(self) -> list:
        """The `MixupLoss` / `MixupAccuracy` objects bound to this layer (a method,
        not a property: Keras's saving walks properties, and these point back here)."""
        return list(self._followers)

    @property
    def owner(self) -> str:
        return f"MixupLayer '{self.name}'"

    # ------------------------------------------------------------------ dispatch

    def __call__(self, *args, **kwargs):
        if is_whole_element(args):
            return self._mix_element(args, kwargs.get("training", True) is not False)
        first = keras.tree.flatten(args[0])[0] if args else None
        if (
            kwargs.get("training") is None
            and not isinstance(first, keras.KerasTensor)
            and _outermost_call()
            and (in_tensorflow_graph() or in_grain_pipeline())
        ):
            # Mapped over a data pipeline (no model around it) with no labels: a dict
            # whose labels cannot be told from its features, or features alone.
            parse_element(args, f"{self.owner} in a data pipeline")
        return super().__call__(*args, **kwargs)

    # ------------------------------------------------------------------ in a model

    def call(self, inputs, training=None, mask=None):
        dtype = self.compute_dtype
        flat = keras.tree.flatten(inputs)
        self._step_masks = None
        if not training or _shape_inference():  # shape inference: nothing to draw
            self.record = StepRecord(None, _current_graph())
            return map_tensors(lambda t: KERAS.cast(t, dtype), inputs)
        self._check_bound()
        masks = self._masks(flat, mask)
        shards = self._shards(flat[0])
        params = self._step_params(inputs, flat[0], shards)
        self.record = StepRecord(params, _current_graph(), shards)
        channels_first = self.spec.channels_first
        mixed = [
            blend_tensor(
                t if m is None else zero_padding(t, m, ops=KERAS),
                params,
                dtype=dtype,
                shards=shards,
                channels_first=channels_first,
                ops=KERAS,
            )
            for t, m in zip(flat, masks, strict=True)
        ]
        if any(m is not None for m in masks):
            self._step_masks = [
                None if m is None else mixed_mask(m, params, shards=shards, ops=KERAS)
                for m in masks
            ]
        return keras.tree.pack_sequence_as(inputs, mixed)

    def _masks(self, flat_inputs: list, mask) -> list:
        """The Keras mask of each input (None where it has none).

        Raises:
            ValueError: a method that pastes pixels (CutMix, GridMix, FMix, SmoothMix, ResizeMix, Mosaic)
                with masked (sequence) inputs: it mixes regions of images.
        """
        masks = [None] * len(flat_inputs) if mask is None else keras.tree.flatten(mask)
        if len(masks) != len(flat_inputs):
            masks = [None] * len(flat_inputs)
        if self.spec.cuts and any(m is not None for m in masks):
            cutting = self.spec.cutting_methods[0]
            name, method = cutting.alpha, cutting.title
            raise user_error(
                ValueError,
                f"{self.owner} has {name}={getattr(self.spec, name)}, but its input carries a "
                "Keras mask (a padded sequence, e.g. after Embedding(mask_zero=True)): "
                f"{method} mixes regions of images and is not defined for sequences. Use "
                f"mixup ({name}=0) on sequences.",
            )
        return masks

    def compute_output_spec(self, *args, **kwargs):
        outputs = super().compute_output_spec(*args, **kwargs)
        self._symbolic_outputs = outputs  # for compute_mask, in the same call
        return outputs

    def compute_mask(self, inputs, previous_mask=None):
        """The output's Keras mask: in a training step that mixed masked inputs, the
        union of the mixed sources' masks (`mixing.mixed_mask`), else the input's.

        In a functional model (and `keras.Sequential`) Keras passes masks along the
        graph it builds, so the output mask is a `MixedSequenceMask` node there, fed
        by this layer's output: it reads the union of the same step."""
        if previous_mask is None:
            return None
        masks = keras.tree.flatten(previous_mask)
        if any(isinstance(m, keras.KerasTensor) for m in masks):
            outputs = keras.tree.flatten(self._symbolic_outputs)
            masks = [
                None if m is None else MixedSequenceMask(self, index=i)(outputs[i], m)
                for i, m in enumerate(masks)
            ]
        elif self._step_masks is not None:
            masks = self._step_masks
        return keras.tree.pack_sequence_as(previous_mask, masks)

    def _mask_of_step(self, index: int, mask):
        """The output mask of input `index` in the current step (see `compute_mask`)."""
        if self._step_masks is None or self._step_masks[index] is None:
            return mask
        return self._step_masks[index]

    def _shards(self, first) -> int:
        """How many shards of the batch to mix apart: the devices on the batch axis of
        a `keras.distribution` (DataParallel, or ModelParallel's data axis), unless
        `mix_across_devices=True` or the batch does not split evenly (then 1: the
        global batch, whose partners come from every device)."""
        distribution = keras.distribution.distribution()
        if distribution is None or self.spec.mix_across_devices:
            return 1
        mesh = getattr(distribution, "device_mesh", None)
        axis = getattr(distribution, "batch_dim_name", None)
        if mesh is None or axis not in tuple(mesh.axis_names):
            return 1
        shards = int(mesh.shape[tuple(mesh.axis_names).index(axis)])
        batch = first.shape[0]
        return shards if batch is not None and shards > 1 and batch % shards == 0 else 1

    def _replicated(self, params: MixParams) -> MixParams:
        """Under a keras.distribution, the (small) parameters on every device: each
        device then reads its shard's part locally, with no collective."""
        mesh = keras.distribution.distribution().device_mesh

        def replicate(value):
            layout = keras.distribution.TensorLayout([None] * len(value.shape), mesh)
            return keras.distribution.distribute_tensor(value, layout)

        return MixParams(*(None if v is None else replicate(v) for v in params))

    def _step_params(self, inputs, first, shards: int = 1) -> MixParams:
        """This step's parameters: drawn in the traced step where it is compiled,
        else on the host (NumPy) and moved to the backend once."""
        seed = self.seed_generator.next()
        if keras.backend.backend() == "tensorflow":
            from keras_mixup._src.bindings.tf_ops import tf

            # Under a multi-replica tf.distribute strategy the seed generator's state
            # is mirrored: each replica folds its id in to draw its own parameters.
            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                seed = fold_in(seed, context.replica_id_in_sync_group, ops=KERAS)
        parts = Parts(features=inputs)
        if is_traced(first) or in_tensorflow_graph():
            values = self.runtime.keras_values()
            params = self.spec.draw(seed, parts, values, owner=self.owner, ops=KERAS, shards=shards)
            return self._replicated(params) if shards > 1 else params
        return draw_on_host(
            self.spec,
            keras.ops.convert_to_numpy(seed),
            parts,
            owner=self.owner,
            data_ops=KERAS,
            shards=shards,
        )

    def _check_bound(self) -> None:
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
        record = self.record
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
        if record.graph is not _current_graph():
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

    # ------------------------------------------------------------------ in a pipeline

    def _mix_element(self, args: tuple, training: bool):
        """A whole element, mixed as a data pipeline mixes it, in its own kind of tensor."""
        return self._elements.mix(args, training=training)


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
        layer = source if isinstance(source, MixupLayer) else find_layer(source)
        self.source = layer.name if isinstance(source, MixupLayer) else source
        self.index = int(index)
        if layer is None:
            raise user_error(
                ValueError,
                f"MixedSequenceMask gives the mask of MixupLayer '{source}', but no such "
                "layer exists in this process (it is deserialized before its mask node).",
            )
        # a weak reference: an attribute holding a layer would make it a sublayer
        self._layer = None if layer is None else weakref.ref(layer)

    def call(self, mixed, mask):
        return self._layer()._mask_of_step(self.index, mask)

    def compute_output_spec(self, mixed, mask):
        return keras.KerasTensor(mask.shape, dtype="bool")

    def compute_mask(self, inputs, previous_mask=None):
        return None  # its output is a mask: it carries none itself

    def get_config(self) -> dict:
        return {**super().get_config(), "source": self.source, "index": self.index}


class LayerFollower:
    """Binding to a `MixupLayer` by object or by name (for objects restored from a
    saved model, whose layers are deserialized before the compile configuration)."""

    layer_name: str | None = None
    _layer: MixupLayer | None = None

    def _follow(self, layer) -> None:
        validate_layer_reference(layer, isinstance(layer, MixupLayer))
        if isinstance(layer, MixupLayer):
            self.layer_name, self._layer = layer.name, layer
        else:
            self.layer_name, self._layer = layer, find_layer(layer)
        if self._layer is not None:
            self._layer._bind(self)

    @property
    def layer(self) -> MixupLayer:
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

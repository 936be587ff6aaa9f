"""MixupLayer: mixup inside a Keras model (targets mixed by `MixupLoss`), and in
data pipelines (tf.data, Grain, `keras.layers.Pipeline`).

In a training step the layer draws `MixParams` (its `MixSpec`), mixes its inputs and
keeps the parameters as the record its `MixupLoss` and `MixupAccuracy` read in the same
step (`followers.py`); in evaluation and prediction it is the identity and records "no
mixing". Pipeline or model is decided by what the layer is given, as Keras's
preprocessing layers decide which library to run on: a whole element (features *and*
labels: `(x, y[, w])`, or Keras's dict with 'labels') is mixed as a data pipeline does
it, every part together, in the element's own kind of tensor (`element_mixer.py`);
features alone are a model's inputs. Its other parts: where it is called from
(`call_context.py`), sequence masks (`sequence_masks.py`), devices (`sharding.py`), the
run-time values' variables (`runtime.py`).
"""

from __future__ import annotations

import keras
import numpy as np

from keras_mixup._src.bindings.ops import KERAS, in_grain_pipeline, in_tensorflow_graph, is_traced
from keras_mixup._src.core.elements import is_whole_element, parse_element
from keras_mixup._src.core.mixing import blend_tensor, map_tensors, mixed_mask, zero_padding
from keras_mixup._src.core.options import options_of
from keras_mixup._src.core.spec import MixSpec
from keras_mixup._src.core.structures import MixParams, Parts
from keras_mixup._src.core.validation import validate_seed
from keras_mixup._src.fronts.call_context import current_graph, outermost_call, shape_inference
from keras_mixup._src.fronts.eager import draw_on_host
from keras_mixup._src.fronts.element_mixer import ElementMixer
from keras_mixup._src.fronts.followers import Followed, StepRecord
from keras_mixup._src.fronts.runtime import RuntimeSettings, RuntimeVariables
from keras_mixup._src.fronts.sequence_masks import MixedSequenceMask, input_masks
from keras_mixup._src.fronts.sharding import batch_shards, replica_seed, replicated

_OWN_OPTIONS = options_of("layer")  # the option table's, in its order


@keras.saving.register_keras_serializable(package="keras_mixup")
class MixupLayer(RuntimeSettings, Followed, keras.layers.Layer):
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
        self.register()  # by name, for followers restored from a file
        self._step_masks = None  # the output masks of the last mixing call (compute_mask)
        self._symbolic_outputs = None
        self._elements = ElementMixer(
            self,
            owner=self.owner,
            seed=self.seed,
            feature_dtype=self.compute_dtype,
            floating_dtype=self.compute_dtype,
        )
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
            and outermost_call()
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
        if not training or shape_inference():  # shape inference: nothing to draw
            self.record = StepRecord(None, current_graph())
            return map_tensors(lambda t: KERAS.cast(t, dtype), inputs)
        self._check_bound()
        masks = input_masks(flat, mask, self.spec, self.owner)
        shards = batch_shards(flat[0], self.spec.mix_across_devices)
        params = self._step_params(inputs, flat[0], shards)
        self.record = StepRecord(params, current_graph(), shards)
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

    def _step_params(self, inputs, first, shards: int = 1) -> MixParams:
        """This step's parameters: drawn in the traced step where it is compiled,
        else on the host (NumPy) and moved to the backend once."""
        seed = replica_seed(self.seed_generator.next())
        parts = Parts(features=inputs)
        if is_traced(first) or in_tensorflow_graph():
            values = self.runtime.keras_values()
            params = self.spec.draw(seed, parts, values, owner=self.owner, ops=KERAS, shards=shards)
            return replicated(params) if shards > 1 else params
        return draw_on_host(
            self.spec,
            keras.ops.convert_to_numpy(seed),
            parts,
            owner=self.owner,
            data_ops=KERAS,
            shards=shards,
        )

    # ------------------------------------------------------------------ in a pipeline

    def _mix_element(self, args: tuple, training: bool):
        """A whole element, mixed as a data pipeline mixes it, in its own kind of tensor."""
        return self._elements.mix(args, training=training)

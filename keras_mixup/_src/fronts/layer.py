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
from keras_mixup._src.core.composition import methods_config, mixer_options
from keras_mixup._src.core.elements import is_whole_element, parse_element
from keras_mixup._src.core.methods import MixingMethod
from keras_mixup._src.core.mixing import blend_tensor, map_tensors, mixed_mask, zero_padding
from keras_mixup._src.core.options import OPTIONS, options_of
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
    """Mixup (Zhang et al., 2018) and its family (`keras_mixup.methods`) as a Keras layer.

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
        methods: the mixing methods to choose among (`keras_mixup.methods`, e.g.
            `methods=[Mixup(0.8), CutMix(1.0)]`), as for `MixupTransform`; None
            (default): the shortcuts below. Methods that paste pixels need images.
        method_probs: with `methods`, each one's probability of being chosen (None:
            equal), as for `MixupTransform`.
        num_mixed: shortcut (None: 2): `Mixup(num_mixed=k)`, k-way mixup.
        cutmix_alpha: shortcut (None: 0, off): `methods=[Mixup(alpha),
            CutMix(cutmix_alpha)]`; the loss gets the area-corrected weights.
        switch_prob: shortcut (None: 0.5): with mixup and CutMix on, the probability of
            CutMix for a batch (an example, with `per_example`).
        prob: the probability that a batch (an example) is mixed at all.
        exact_cutmix_weight: shortcut (None: True): `CutMix(exact_weight=...)`.
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
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...); the method
            keywords of the 0.3.0 development versions (`gridmix_alpha`, ...) raise a
            TypeError that shows the `methods=[...]` form.

    The options mean what they mean for `MixupTransform`, which documents them in
    full; `alpha`, `switch_prob`, `prob` and the methods' alphas (`cutmix_alpha`,
    `gridmix_alpha`, ... as properties of the layer) are run-time settings (layer
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
        alpha: float | None = None,
        *,
        methods: list[MixingMethod] | None = None,
        method_probs: list[float] | None = None,
        num_classes: int | dict | list | tuple | None = None,
        per_example: bool = False,
        inputs_only: bool = False,
        targets: str = "mixed",
        seed: int | None = None,
        num_mixed: int | None = None,
        cutmix_alpha: float | None = None,
        switch_prob: float | None = None,
        prob: float = 1.0,
        exact_cutmix_weight: bool | None = None,
        mix_across_devices: bool = False,
        bounding_box_format: str | None = None,
        min_box_visibility: float = 0.1,
        data_format: str | None = None,
        ignore_class: int | None = None,
        **kwargs,
    ):
        options, self._listed = mixer_options(
            "MixupLayer",
            methods,
            method_probs,
            {
                "alpha": alpha,
                "num_mixed": num_mixed,
                "cutmix_alpha": cutmix_alpha,
                "exact_cutmix_weight": exact_cutmix_weight,
                "switch_prob": switch_prob,
            },
            # the methods' options of the development versions: our error with the new form
            # (any other unknown keyword is Keras's to refuse, as for every layer)
            {k: v for k, v in kwargs.items() if k in OPTIONS and OPTIONS[k].owner != "core"},
        )
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.runtime = RuntimeVariables(
            MixSpec(
                **options,
                num_classes=num_classes,
                per_example=per_example,
                targets=targets,
                prob=prob,
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
            **methods_config(self.spec, self._listed),
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

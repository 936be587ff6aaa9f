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
    permutation of the batch) and the `MixupLoss` bound to it mixes the targets with the
    same `lam` and `perm`; with `training=False` it only casts to its compute dtype. It
    runs on TensorFlow, JAX and PyTorch with the same draws for the same seed. Several
    inputs: one layer called on all of them (`mixup([image, metadata])`). Placed after
    some layers it mixes latent representations (the paper's Table 5 ablation).

    In a data pipeline (`dataset.map(layer)`, Grain, NumPy, `keras.layers.Pipeline`) it
    mixes whole elements, as `MixupTransform` does. The options mean what they mean for
    `MixupTransform`; `alpha`, `switch_prob`, `prob` and each method's alpha are layer
    variables that `AlphaScheduler` drives without retracing (on JAX, an assignment made
    during an epoch of `fit` takes effect at the next epoch).

    Args:
        alpha: mixup's Beta concentration, finite and >= 0 (0: no mixup).
        num_classes: the number of classes (or a nest per label) of integer labels in a
            pipeline; in a model `MixupLoss` reads it from the predictions.
        per_example: independent draws for every example instead of one per batch.
        inputs_only: True: mixing inputs without a bound `MixupLoss` is allowed.
        targets: "mixed" (the paper's) or "dominant" (Table 5's "mix inputs only").
        seed: an int for reproducible draws (the same on every backend), or None.
        methods: the methods to choose among (`keras_mixup.methods`); None: the shortcuts.
        method_probs: each method's probability of being chosen (None: equal).
        num_mixed: shortcut for `Mixup(num_mixed=k)`, k-way mixup (None: 2).
        cutmix_alpha: shortcut for `CutMix(cutmix_alpha)` beside mixup (None: off).
        switch_prob: shortcut: with mixup and CutMix on, CutMix's probability (None: 0.5).
        prob: the probability that a batch (an example) is mixed at all.
        exact_cutmix_weight: shortcut for `CutMix(exact_weight=...)` (None: True).
        mix_across_devices: under a `keras.distribution`, partners from the global batch
            (gathering every input) instead of each device's shard (default).
        ignore_class: the id of void pixels in integer segmentation masks (e.g. 255).
        bounding_box_format: the format of the dict's boxes in a pipeline.
        min_box_visibility: the share of a box's area that must still show (0.1).
        data_format: "channels_last" or "channels_first" images (None: Keras's).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...); the unreleased
            method keywords (`gridmix_alpha`, ...) raise a TypeError with the new form.

    Call arguments:
        inputs: a batch of features (a tensor or nest) in a model; in a pipeline, the
            whole element.
        training: whether to mix; Keras sets it in a model, True in a pipeline.

    Returns:
        The mixed (or cast) inputs in a model; the mixed element in a pipeline.

    Raises:
        ValueError: invalid arguments; a training step with no `MixupLoss` bound and
            `inputs_only=False`; in a pipeline, an element of another form.

    Examples:
        >>> mixup = MixupLayer(alpha=0.2, seed=0)
        >>> model = keras.Sequential([keras.Input((8,)), mixup, keras.layers.Dense(3)])
        >>> model.compile(optimizer="sgd",
        ...               loss=MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
        ...               metrics=[MixupAccuracy(layer=mixup)])
        >>> history = model.fit(np.zeros((16, 8), "float32"), np.arange(16) % 3, epochs=1, verbose=0)
        >>> sorted(history.history)
        ['loss', 'mixup_accuracy']

    References:
        - Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk
          Minimization", ICLR 2018, Sections 2 and 3.
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
        mixed = self._mixed_inputs(flat, masks, params, shards)
        if any(m is not None for m in masks):
            self._step_masks = self._mixed_masks(masks, params, shards)
        return keras.tree.pack_sequence_as(inputs, mixed)

    def _mixed_inputs(self, flat: list, masks: list, params: MixParams, shards: int) -> list:
        """The flat inputs mixed with `params`, in the layer's compute dtype."""
        return [
            blend_tensor(
                t if m is None else zero_padding(t, m, ops=KERAS),
                params,
                dtype=self.compute_dtype,
                shards=shards,
                channels_first=self.spec.channels_first,
                ops=KERAS,
            )
            for t, m in zip(flat, masks, strict=True)
        ]

    def _mixed_masks(self, masks: list, params: MixParams, shards: int) -> list:
        """The output masks of a mixing step: for each masked input, the union of its mixed
        sources' masks (`mixing.mixed_mask`); None where the input has no mask."""
        return [
            None if m is None else mixed_mask(m, params, shards=shards, ops=KERAS) for m in masks
        ]

    def _step_seed(self):
        """This step's seed: the generator's next, folded per replica."""
        return replica_seed(self.seed_generator.next())

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
        seed = self._step_seed()
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

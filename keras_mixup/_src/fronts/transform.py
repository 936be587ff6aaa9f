"""MixupTransform: mixup as a transformation of batched elements, for tf.data,
Grain and NumPy pipelines."""

from __future__ import annotations

import hashlib
from typing import Any

import keras
import numpy as np

from keras_mixup._src.bindings.ops import is_tensorflow_dataset
from keras_mixup._src.core.composition import methods_config, mixer_options
from keras_mixup._src.core.methods import MixingMethod
from keras_mixup._src.core.options import options_of
from keras_mixup._src.core.seeds import seed_from_generator
from keras_mixup._src.core.spec import MixSpec
from keras_mixup._src.core.validation import floating_dtype, validate_seed
from keras_mixup._src.fronts.element_mixer import ElementMixer
from keras_mixup._src.fronts.runtime import RuntimeSettings, RuntimeVariables

_OWN_OPTIONS = options_of("transform")  # the core's options it takes, in the table's order


# tf.data.Dataset is named, not imported: TensorFlow is imported on first use (tf_data)
def checkpointable(dataset: tf.data.Dataset) -> tf.data.Dataset:  # noqa: F821
    """`dataset` with tf.data's external-state policy set to IGNORE, unless the
    user chose a policy: then `tf.train.Checkpoint(iterator=...)` can save it.

    A mixup pipeline reads its run-time settings (alpha, ...) from variables, and
    the `map` form its seeds from a generator: state outside the dataset, which
    tf.data refuses to checkpoint by default. Ignoring it is right for the
    settings, which the training code (or `AlphaScheduler`) sets again after a
    restore; the `map` form's batches after a restore are mixed with fresh
    parameters. (`dataset.apply(MixupTransform(...))` is checkpointable as it is,
    and resumes bit-identically.)

    Args:
        dataset: a `tf.data.Dataset`.

    Returns:
        The same dataset with the policy set.

    Raises:
        ImportError: TensorFlow is not installed.
    """
    from keras_mixup._src.fronts import tf_data

    return tf_data.checkpointable(dataset)


class MixupTransform(RuntimeSettings):
    """Mixup (Zhang et al., 2018) and its family for batched input pipelines.

    Each batch is mixed with a shuffled copy of itself: `x~ = lam x + (1 - lam) x[perm]`,
    `y~ = lam y + (1 - lam) y[perm]`, `lam ~ Beta(alpha, alpha)` once per batch (the
    paper's) or per example. The family (`keras_mixup.methods`) is composed with
    `methods=[...]` and chosen with `method_probs`; `alpha`, `cutmix_alpha` and
    `switch_prob` (timm's) are shortcuts for mixup and CutMix.

    Runs as `dataset.batch(n).apply(transform)` (tf.data; a stateless seed per batch:
    bit-identical and checkpointable), `.map(transform, num_parallel_calls=...)`, Grain's
    `.random_map(transform, seed=s)`, or on NumPy batches (`transform(x, y)`); in tf.data
    it runs TensorFlow ops whatever the Keras backend. The user guide says more (pipelines,
    checkpointing), the semantics page every rule.

    Elements: `(features, labels[, sample_weight])` or Keras's dict (`{"images", "labels",
    "bounding_boxes", "segmentation_masks"}`); features a tensor or a nest, mixed alike.
    Labels: class ids (with `num_classes`), one-hot / soft / multi-hot or regression
    targets, out as float32 (train with a categorical loss). Integer features come out in
    `dtype`, floating ones keep theirs. A batch of one is returned unchanged.

    Args:
        alpha: mixup's Beta concentration, a finite number >= 0 (0: no mixup; the paper
            uses 0.1 to 0.4 on ImageNet, 1 on CIFAR); shortcut for `Mixup(alpha)`.
        num_classes: the number of classes of integer labels (or a nest matching several
            labels, None where a label is not class ids).
        per_example: independent draws (lambda, box, method, `prob`) for every example.
        seed: an int for reproducible runs; None: fresh randomness.
        dtype: the floating dtype of integer features (None: Keras's compute dtype).
        jit_compile: draw and mix under XLA in one pass (tf.data; default True).
        pairing: "random" (the paper's), "same_class" (Table 5's "SC") or "c_mixup"
            (Yao et al., NeurIPS 2022, Eq. 6: partners by a Gaussian kernel of the
            distance between regression targets).
        c_mixup_bandwidth: that kernel's bandwidth, > 0, in the targets' units.
        targets: "mixed" (the paper's) or "dominant" (the label of the largest weight).
        label_smoothing: eps in [0, 1), applied to class targets before mixing.
        methods: the methods to choose among (`keras_mixup.methods`), each once with its
            options, e.g. `[Mixup(0.8), CutMix(1.0)]`; None: the shortcuts.
        method_probs: each method's probability of being chosen (numbers >= 0,
            normalised over those whose alpha is > 0); None: equal.
        num_mixed: shortcut for `Mixup(alpha, num_mixed=k)`, k-way mixup (None: 2).
        cutmix_alpha: shortcut for `CutMix(cutmix_alpha)` beside mixup (None: off).
        switch_prob: shortcut: with mixup and CutMix on, CutMix's probability (None: 0.5).
        prob: the probability that a batch (an example) is mixed at all (default 1).
        exact_cutmix_weight: shortcut for `CutMix(exact_weight=...)` (None: True).
        **removed: the unreleased method keywords (`gridmix_alpha`, ...) raise a
            TypeError that shows the `methods=[...]` form.
        bounding_box_format: the format of the dict's boxes ("xyxy", "rel_xywh", ...):
            every source's boxes follow its pixels (`[B, k N, 4]`, with `mix_weights`).
        min_box_visibility: the share of a box's area that must still show for it to
            stay (default 0.1, YOLOv5's).
        ignore_class: the id of void pixels in integer segmentation masks (e.g. 255).
        data_format: "channels_last" or "channels_first" images (None: Keras's).

    `alpha`, `switch_prob`, `prob` and each method's alpha (`cutmix_alpha`, ...) are
    properties read from variables at run time: assigning them (or `AlphaScheduler`)
    changes the next batches without retracing.

    Returns (when called on a batch):
        The mixed element, in the input's structure and kind of tensor.

    Raises:
        ValueError: an argument out of range (named); integer labels without
            `num_classes`; an element the options cannot mix (unbatched, batch sizes
            that differ, a feature that is not an image for a method that pastes pixels).
        TypeError: an argument of the wrong type; non-numeric, ragged or sparse tensors.
        ImportError: a tf.data use without TensorFlow installed.

    Examples:
        >>> images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 3), dtype=np.uint8)
        >>> dataset = tf.data.Dataset.from_tensor_slices((images, np.arange(8) % 3)).batch(4)
        >>> x, y = next(iter(dataset.apply(MixupTransform(alpha=0.2, num_classes=3, seed=1))))
        >>> x.dtype.name, y.shape
        ('float32', TensorShape([4, 3]))

    References:
        - Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk
          Minimization", ICLR 2018, Section 2 (each method's class cites its own).
    """

    def __init__(
        self,
        alpha: float | None = None,
        *,
        methods: list[MixingMethod] | None = None,
        method_probs: list[float] | None = None,
        num_classes: int | dict | list | tuple | None = None,
        per_example: bool = False,
        seed: int | None = None,
        dtype: str | None = None,
        jit_compile: bool = True,
        pairing: str = "random",
        c_mixup_bandwidth: float = 1.0,
        targets: str = "mixed",
        label_smoothing: float = 0.0,
        num_mixed: int | None = None,
        cutmix_alpha: float | None = None,
        switch_prob: float | None = None,
        prob: float = 1.0,
        exact_cutmix_weight: bool | None = None,
        bounding_box_format: str | None = None,
        min_box_visibility: float = 0.1,
        data_format: str | None = None,
        ignore_class: int | None = None,
        **removed: Any,
    ):
        options, self._listed = mixer_options(
            "MixupTransform",
            methods,
            method_probs,
            {
                "alpha": alpha,
                "num_mixed": num_mixed,
                "cutmix_alpha": cutmix_alpha,
                "exact_cutmix_weight": exact_cutmix_weight,
                "switch_prob": switch_prob,
            },
            removed,
        )
        self.runtime = RuntimeVariables(
            MixSpec(
                **options,
                num_classes=num_classes,
                per_example=per_example,
                pairing=pairing,
                c_mixup_bandwidth=c_mixup_bandwidth,
                targets=targets,
                label_smoothing=label_smoothing,
                prob=prob,
                bounding_box_format=bounding_box_format,
                min_box_visibility=min_box_visibility,
                data_format=data_format,
                ignore_class=ignore_class,
            )
        )
        self.name = "MixupTransform"  # how error messages call this transform
        self.seed = validate_seed(seed)
        self.dtype = floating_dtype(dtype)
        self.jit_compile = bool(jit_compile)
        self._elements = ElementMixer(
            self,
            owner=self.name,
            seed=self.seed,
            feature_dtype=self.dtype,
            jit_compile=self.jit_compile,
        )

    def get_config(self) -> dict:
        return {
            **methods_config(self.spec, self._listed),
            **self.spec.config(*_OWN_OPTIONS),
            "seed": self.seed,
            "dtype": self.dtype,
            "jit_compile": self.jit_compile,
        }

    def sharing_settings(self, **overrides) -> MixupTransform:
        """A transform with this one's config changed by `overrides`, whose run-time
        settings (alpha) are this one's: assigning one assigns both."""
        derived = MixupTransform(**{**self.get_config(), **overrides})
        derived.runtime = self.runtime
        return derived

    def for_input_pipeline(self, input_context) -> MixupTransform:
        """The transform for one input pipeline of `strategy.distribute_datasets_from_function`.

        Every worker runs the same dataset function; with the same seed, all
        workers would draw the same lambdas and permutations. This returns a
        transform whose seed also depends on `input_context.input_pipeline_id`
        (reproducible, different per pipeline). With a single input pipeline
        (one worker) it returns `self`, so a run on one machine draws what it
        draws without a strategy. With `seed=None` every pipeline draws fresh
        randomness anyway. The derived transform shares this one's run-time
        variables: an `AlphaScheduler` given this transform drives all of them
        (in the same process).

        Example (mixing inside each replica's batch):

            def dataset_fn(input_context):
                batch = input_context.get_per_replica_batch_size(global_batch_size)
                transform = MixupTransform(0.2, num_classes=10, seed=1)
                return (make_dataset(input_context).batch(batch)
                        .map(transform.for_input_pipeline(input_context)))
        """
        if input_context.num_input_pipelines == 1 or self.seed is None:
            return self
        key = f"keras_mixup/{self.seed}/{input_context.input_pipeline_id}".encode()
        seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1
        return self.sharing_settings(seed=seed)

    def __repr__(self) -> str:
        config = self.get_config()
        if "methods" in config:  # the objects, not their serialization
            config["methods"] = [
                keras.saving.deserialize_keras_object(m) for m in config["methods"]
            ]
        args = ", ".join(f"{key}={value!r}" for key, value in config.items())
        return f"MixupTransform({args})"

    # ------------------------------------------------------------------ fronts

    def __call__(self, *element):
        """Mixes one batched element (`dataset.map`, Grain's `map`, NumPy batches),
        or maps a whole tf.data dataset deterministically (`dataset.apply`)."""
        if len(element) == 1 and is_tensorflow_dataset(element[0]):
            return self._elements.tf_data().apply_to_dataset(element[0])
        if len(element) == 2 and isinstance(element[1], np.random.Generator):
            return self.random_map(*element)  # Grain's random_map calls fn(element, rng)
        return self._elements.mix(element)

    def random_map(self, element, rng):
        """Grain's random-map protocol: `dataset.random_map(transform, seed=s)` mixes
        each batch with a seed from the generator Grain gives its record."""
        return self._elements.mix((element,), seed=seed_from_generator(rng))

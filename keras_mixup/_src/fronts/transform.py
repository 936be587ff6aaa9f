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

    Each batch is mixed with a shuffled copy of itself:
    `x~ = lam * x + (1 - lam) * x[perm]`, `y~ = lam * y + (1 - lam) * y[perm]`,
    with `lam ~ Beta(alpha, alpha)` (one per batch by default, as in the paper and
    the authors' code) and `perm` a uniformly random permutation of the batch.
    The family, from the same sampler and blend: `methods=[...]` of
    `keras_mixup.methods` (k-way mixup, CutMix, GridMix, FMix, SmoothMix, ResizeMix,
    Mosaic), chosen per batch (or per example) with `method_probs`, and mixing only a
    share of the batches (`prob`). timm's trio `alpha`, `cutmix_alpha`, `switch_prob` is
    a shortcut for mixup and CutMix.

    Elements may be `(features, labels)`, `(features, labels, sample_weight)` or
    Keras's preprocessing dict (`{"images": ..., "labels": ...}`); features may be
    a tensor or any nest (dict, tuple) of tensors, all mixed with the same weights
    and partners. Labels may be integer class ids (one-hot encoded with
    `num_classes`; per-pixel ids `[B, H, W]` too), one-hot / soft / multi-hot
    targets, or regression targets of any rank; they come out as float32, so train
    with a *categorical* loss (`CategoricalCrossentropy`, not the sparse one).
    Sample weights are mixed like labels. Integer features (uint8 images) come out
    in `dtype` (the Keras compute dtype by default); floating features keep their
    dtype.

    Where it runs:

    - `dataset.batch(n).map(MixupTransform(...), num_parallel_calls=...)` (tf.data):
      TensorFlow ops whatever the Keras backend, so it feeds `model.fit` on JAX and
      PyTorch too. The parameters come from a `tf.random.Generator` seeded by
      `seed`: with a sequential map the same pipeline built twice gives
      bit-identical batches; with parallel calls, each epoch draws the same set of
      parameters, but which batch receives which may vary from run to run.
    - `dataset.batch(n).apply(MixupTransform(...))` (tf.data): every batch is paired
      with its own stateless seed from `tf.data.Dataset.random(seed)`, so the output
      is bit-identical across runs whatever the parallelism (it maps with
      `num_parallel_calls=AUTOTUNE, deterministic=True`), each epoch draws fresh
      parameters, and a checkpointed iterator resumes with bit-identical batches.
      Use this form when runs must be reproducible.
    - Grain: `dataset.batch(n).random_map(MixupTransform(...), seed=s)` draws from the
      generator Grain gives each record (deterministic per seed and record index,
      and resumable with Grain's checkpoints); `.map(transform)` uses the
      transform's own host seeds.
    - NumPy batches (a Python generator, a `keras.utils.PyDataset`, a PyTorch data
      loader's collate function): `transform(x, y)` returns NumPy arrays. Neither
      this nor Grain needs TensorFlow.

    Checkpointing a tf.data iterator (`tf.train.Checkpoint(iterator=iter(dataset))`):
    the `apply` form sets tf.data's external-state policy to IGNORE (unless the
    dataset already has a policy), because the run-time settings (alpha, ...) live
    in variables outside the dataset; after a restore it resumes at the same batch
    with the same parameters as the uninterrupted run. The `map` form reads those
    variables and its seed generator from inside the map function, which tf.data
    cannot save: wrap the mapped dataset in `keras_mixup.checkpointable(dataset)`
    (or set the policy yourself); after a restore it resumes at the same position
    in the data with fresh parameters. Saving it unwrapped raises a
    `tf.errors.FailedPreconditionError` from keras_mixup that names both fixes. The settings are not part of the iterator's
    state: batches already mixed when the iterator was saved come back as they
    were, later ones use the values the run sets (as `AlphaScheduler` does at
    every epoch start).

    A batch of size 1 has nothing to mix with and is returned unchanged (apart
    from the dtype conversions); the last partial batch of an epoch and odd batch
    sizes are mixed normally.

    Args:
        alpha: mixup's concentration, a finite number >= 0: lambda ~
            Beta(alpha, alpha). 0 disables mixup (the paper's alpha -> 0 limit is
            ordinary training); 1 draws lambda uniformly; the paper uses 0.1 to 0.4
            on ImageNet, 1 on CIFAR and 8 or 32 against label noise.
        num_classes: number of classes, required when labels are integer class ids
            (one-hot labels must then have this width); with several labels, an int
            applies to the integer labels only, and a nest matching the labels
            (`{"cls": 8, "box": None}`) gives each its own (None: not class ids).
        per_example: if True, draw independent parameters (lambda, box, switch and
            `prob` decisions) for every example instead of one set per batch.
        seed: int for reproducible runs, or None for fresh randomness.
        dtype: floating dtype for integer features (e.g. uint8 images); None means
            the Keras compute dtype at construction time (float32, or float16 /
            bfloat16 under a mixed-precision policy).
        jit_compile: if True (default), draw and mix under XLA in one fused pass
            (tf.data). Set False to debug or where XLA is unavailable.
        pairing: "random" (default): partners by a random permutation of the
            batch, the paper's mixup ("AC + RP"). "same_class": each example's
            partners are drawn among the examples of its own class in the batch
            ("SC + RP", Table 5); needs class-id or one-hot labels. "c_mixup":
            C-Mixup for regression (Yao et al., NeurIPS 2022, Eq. 6): example `j` is
            example `i`'s partner with probability proportional to
            `exp(-||y_i - y_j||^2 / (2 c_mixup_bandwidth^2))` (`i` included), so
            examples mix mostly with those of similar targets; needs one floating
            label `[batch, ...]` (the regression targets).
        c_mixup_bandwidth: the bandwidth of C-Mixup's kernel, a float > 0 in the
            units of the targets (default 1.0; the paper tunes it per data set, e.g.
            by validation; standardised targets make 0.1 to 2 the useful range).
        targets: "mixed" (default): `y~ = lam * y + (1 - lam) * y[perm]`.
            "dominant": the label (and sample weight) of the example with the
            largest weight, unmixed: the paper's "mix inputs only" ablation.
        label_smoothing: eps in [0, 1): class targets become
            `(1 - eps) * y + eps / num_classes` (Szegedy et al.), before mixing
            (smoothing and mixing commute). 0 (default) leaves them as they are.
        methods: the mixing methods to choose among, each once with its own options
            (`keras_mixup.methods`: `Mixup`, `CutMix`, `GridMix`, `FMix`, `SmoothMix`,
            `ResizeMix`, `Mosaic`; their docs say what each does, its shapes and
            source), e.g. `methods=[Mixup(0.8), CutMix(1.0)]`. None (default): the
            shortcuts below. Methods that paste pixels need images `[B, H, W(, C)]`
            (`[B, C, H, W]` with `data_format="channels_first"`).
        method_probs: with `methods`, each one's probability of being chosen for a
            batch (an example, with `per_example`), numbers >= 0 normalised over the
            methods whose alpha is > 0; None (default): equally likely.
        num_mixed: shortcut (None: 2): how many examples mixup combines (k >= 3:
            Dirichlet weights over k examples, the paper's Section 2); as
            `Mixup(alpha, num_mixed=k)`.
        cutmix_alpha: shortcut (None: 0, off): CutMix's concentration (timm's
            `cutmix_alpha`); as `methods=[Mixup(alpha), CutMix(cutmix_alpha)]`.
        switch_prob: shortcut (None: 0.5): with mixup and CutMix on, the probability
            of CutMix for a batch (timm's `switch_prob`); as `method_probs=[1 -
            switch_prob, switch_prob]`. Run-time, as the alphas.
        prob: the probability that a batch (an example) is mixed at all (default
            1); the others pass through with the same conversions.
        exact_cutmix_weight: shortcut (None: True): `CutMix(exact_weight=...)`.
        **removed: none taken: the method keywords of the 0.3.0 development versions
            (`gridmix_alpha`, `fmix_decay_power`, ...) raise a TypeError that shows
            the `methods=[...]` form.
        bounding_box_format: the format of the boxes of Keras's element dict
            (`element["bounding_boxes"] = {"boxes": [B, N, 4], "labels": [B, N]}`, padded
            with label -1, dense or ragged), as Keras names it: "xyxy", "yxyx", "xywh",
            "center_xywh", "center_yxhw", or their "rel_" (relative) forms. Under mixup
            the mixed image carries the boxes of every source image (`[B, k N, 4]`,
            labels `[B, k N]`, aligned); under CutMix the partner's boxes are clipped to
            the pasted region and the example's own boxes lose what it covers. The
            output adds `bounding_boxes["mix_weights"]` `[B, k N]`, the weight of each
            box's source image (Bag of Freebies' per-box loss weights).
        min_box_visibility: under a method that pastes pixels, a box whose source
            shows less than this share of its area (default 0.1, as YOLOv5's
            `box_candidates`: a tenth of an object is about the least a detector can
            be asked to find) becomes padding. Under CutMix a box is clipped to
            what shows where that is a rectangle; under GridMix, FMix and SmoothMix
            (masks of other shapes) boxes keep their geometry and the share is the
            exact mean of the source's per-pixel share over the box; under
            ResizeMix the partner's boxes are scaled and moved into the patch; under
            Mosaic each source's boxes are moved into its tile and clipped to it.
        ignore_class: the id of unlabelled ("void") pixels in integer segmentation
            masks, e.g. 255 (VOC, Cityscapes). None (default): every id must be a
            class in `[0, num_classes)`. Where masks become one-hot targets (mixup),
            such pixels get an all-zero row, so a mixed pixel's targets sum to the
            weight of its labelled sources: a categorical cross-entropy then weighs
            each pixel by that share (a pixel void in every source adds 0 to the sum,
            but counts in a `sum_over_batch_size` mean). Where each pixel comes from
            one source (CutMix, GridMix or FMix without soft edges, alone;
            `targets="dominant"`) integer masks are kept as
            they are, void ids included, for
            `SparseCategoricalCrossentropy(ignore_class=...)`.
        data_format: "channels_last" (`[B, H, W, C]`) or "channels_first"
            (`[B, C, H, W]`) images, for CutMix's box and the boxes; None:
            `keras.config.image_data_format()`.

    `alpha`, `switch_prob`, `prob` and the methods' alphas (`cutmix_alpha`,
    `gridmix_alpha`, `fmix_alpha`, `smoothmix_alpha`, `resizemix_alpha`, `mosaic_alpha`,
    as properties of the transform) are read from variables at run time: assigning them
    (or `AlphaScheduler`) changes the next batches without rebuilding the pipeline.

    Returns (when called on a batch):
        The mixed element, in the input's structure and kind of tensor.

    Raises:
        ValueError: invalid arguments (naming the argument); integer labels without
            `num_classes`; float labels whose class axis is not `num_classes` wide;
            an unbatched element; tensors whose batch sizes differ; an element that
            is not one of the forms above; with CutMix, a feature that is not an
            image; with `pairing="c_mixup"`, labels that are not one floating tensor.
        TypeError: a non-numeric feature; ragged or sparse tensors (naming the
            component and how to densify it); arguments of the wrong type.
        ImportError: a tf.data use without TensorFlow installed.

    Examples:
        >>> import numpy as np
        >>> images = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
        >>> labels = np.arange(10) % 3
        >>> dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
        >>> mixed = dataset.apply(MixupTransform(alpha=0.2, num_classes=3, seed=1))
        >>> x, y = next(iter(mixed))
        >>> x.dtype.name, y.shape
        ('float32', TensorShape([4, 3]))
        >>> np.allclose(y.numpy().sum(axis=1), 1.0)
        True
        >>> recipe = MixupTransform(alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5,
        ...                         label_smoothing=0.1, num_classes=3, seed=1)
        >>> x, y = next(iter(dataset.apply(recipe)))
        >>> bool(np.all(y.numpy() >= 0.1 / 3 - 1e-6))
        True
        >>> x, y = recipe(images[:4], labels[:4])  # NumPy in, NumPy out
        >>> type(x).__name__, y.shape
        ('ndarray', (4, 3))

    References:
        - Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk
          Minimization", ICLR 2018.
        - Yun, Han, Oh, Chun, Choe & Yoo, "CutMix: Regularization Strategy to Train
          Strong Classifiers with Localizable Features", ICCV 2019.
        - Yao, Wang, Li, Zhang, Liang, Zou & Finn, "C-Mixup: Improving
          Generalization in Regression", NeurIPS 2022.
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

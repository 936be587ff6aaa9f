"""MixupTransform: mixup as a `tf.data` transformation of batched elements."""

from __future__ import annotations

import hashlib

import tensorflow as tf

from keras_mixup.mixing import mix_batch
from keras_mixup.ops import TENSORFLOW
from keras_mixup.settings import MixConfig, MixingOptions, mix_settings, read
from keras_mixup.structures import Batch
from keras_mixup.validation import (
    cutmix_image_size,
    floating_dtype,
    parse_element,
    same_class_groups,
    validate_label_smoothing,
    validate_num_classes,
    validate_pairing,
    validate_seed,
    validate_target_mode,
    validated,
)

# Mixed into the per-batch seeds of the `apply` form; any constant works, it only
# separates keras_mixup's stream from other users of the same seed.
_APPLY_SEED_SALT = 0x6D697875  # "mixu"


def pack_element(batch: Batch, with_sample_weight: bool) -> tuple:
    if with_sample_weight:
        return batch.features, batch.labels, batch.sample_weight
    return batch.features, batch.labels


def checkpointable(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` with tf.data's external-state policy set to IGNORE, unless the
    user chose a policy: then `tf.train.Checkpoint(iterator=...)` can save it.

    A mixup pipeline reads alpha from a variable (and the `map` form its seeds
    from a generator): state outside the dataset, which tf.data refuses to
    checkpoint by default. Ignoring it is right for alpha, which the training
    code (or `AlphaScheduler`) sets again after a restore.
    """
    if dataset.options().experimental_external_state_policy is not None:
        return dataset
    options = tf.data.Options()
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    return dataset.with_options(options)


class MixupTransform(MixingOptions):
    """Mixup (Zhang et al., 2018) and its family for batched `tf.data` pipelines.

    Each batch is mixed with a shuffled copy of itself:
    `x~ = lam * x + (1 - lam) * x[perm]`, `y~ = lam * y + (1 - lam) * y[perm]`,
    with `lam ~ Beta(alpha, alpha)` (one per batch by default, as in the paper and
    the authors' code) and `perm` a uniformly random permutation of the batch.
    The family, from the same sampler and blend: k-way mixing (`num_mixed=k`:
    weights ~ Dirichlet(alpha, ..., alpha) over k examples, the paper's Section
    2), CutMix (`cutmix_alpha > 0`: a box of the partner's pixels, Yun et al.
    2019), a per-batch (or per-example) switch between the two (`switch_prob`),
    and mixing only a share of the batches (`prob`).

    Elements may be `(features, labels)` or `(features, labels, sample_weight)`;
    features may be a tensor or any nest (dict, tuple) of tensors, all mixed with
    the same weights and partners. Labels may be integer class ids (one-hot encoded
    with `num_classes`; per-pixel ids `[B, H, W]` too), one-hot / soft / multi-hot
    targets, or regression targets of any rank; they come out as float32, so train
    with a *categorical* loss (`CategoricalCrossentropy`, not the sparse one). Sample
    weights are mixed like labels. Integer features (uint8 images) come out in
    `dtype` (the Keras compute dtype by default); floating features keep their
    dtype. The transform runs TensorFlow ops inside tf.data whatever the Keras
    backend, so it feeds `model.fit` on JAX and PyTorch too.

    Two ways to use it:

    - `dataset.batch(n).map(MixupTransform(...), num_parallel_calls=...)`: the
      parameters come from a `tf.random.Generator` seeded by `seed`. With a
      sequential map (no `num_parallel_calls`) the same pipeline built twice gives
      bit-identical batches. With parallel calls, each epoch draws the same set of
      parameters, but which batch receives which may vary from run to run.
    - `dataset.batch(n).apply(MixupTransform(...))`: every batch is paired with its
      own stateless seed from `tf.data.Dataset.random(seed)`, so the output is
      bit-identical across runs whatever the parallelism (it maps with
      `num_parallel_calls=AUTOTUNE, deterministic=True`), each epoch draws fresh
      parameters, and a checkpointed iterator resumes with bit-identical batches.
      Use this form when runs must be reproducible.

    Checkpointing an iterator (`tf.train.Checkpoint(iterator=iter(dataset))`): the
    `apply` form sets tf.data's external-state policy to IGNORE (unless the
    dataset already has a policy), because the run-time settings (alpha, ...) live
    in variables outside the dataset; after a restore it resumes at the same batch
    with the same parameters as the uninterrupted run. In the `map` form the seeds
    come from a generator outside the dataset: wrap the mapped dataset in
    `keras_mixup.checkpointable(dataset)` (or set the policy yourself); after a
    restore it resumes at the same position in the data with fresh parameters (the
    generator has run ahead of the iterator by the batches it prefetched). The
    settings are not part of the iterator's state: batches already mixed when the
    iterator was saved come back as they were, later ones use the values the run
    sets (as `AlphaScheduler` does at every epoch start).

    A batch of size 1 has nothing to mix with and is returned unchanged (apart
    from the dtype conversions); the last partial batch of an epoch and odd batch
    sizes are mixed normally.

    Args:
        alpha: mixup's concentration, a finite number >= 0: lambda ~
            Beta(alpha, alpha). 0 disables mixup (the paper's alpha -> 0 limit is
            ordinary training); 1 draws lambda uniformly; the paper uses 0.1 to 0.4
            on ImageNet, 1 on CIFAR and 8 or 32 against label noise.
        num_classes: number of classes, required when labels are integer class ids;
            one-hot labels must then have this width.
        per_example: if True, draw independent parameters (lambda, box, switch and
            `prob` decisions) for every example instead of one set per batch.
        seed: int for reproducible runs, or None for fresh randomness.
        dtype: floating dtype for integer features (e.g. uint8 images); None means
            the Keras compute dtype at construction time (float32, or float16 /
            bfloat16 under a mixed-precision policy).
        jit_compile: if True (default), draw and mix under XLA in one fused pass.
            Set False to debug or where XLA is unavailable.
        pairing: "random" (default): partners by a random permutation of the
            batch, the paper's mixup ("AC + RP"). "same_class": each example's
            partners are drawn among the examples of its own class in the batch
            ("SC + RP", Table 5); needs class-id or one-hot labels.
        targets: "mixed" (default): `y~ = lam * y + (1 - lam) * y[perm]`.
            "dominant": the label (and sample weight) of the example with the
            largest weight, unmixed: the paper's "mix inputs only" ablation.
        label_smoothing: eps in [0, 1): class targets become
            `(1 - eps) * y + eps / num_classes` (Szegedy et al.), before mixing
            (smoothing and mixing commute). 0 (default) leaves them as they are.
        num_mixed: how many examples mixup combines (>= 2). 2 (default): the
            paper's pairs. k >= 3: weights ~ Dirichlet(alpha, ..., alpha), exactly
            (normalized Gamma draws of the same sampler), with k - 1 independent
            partner permutations; targets and sample weights get the same weights.
            Not with CutMix.
        cutmix_alpha: CutMix's concentration (> 0 turns CutMix on, default 0):
            lambda ~ Beta(cutmix_alpha, cutmix_alpha) sets a box of area
            `(1 - lambda) H W` with the image's aspect ratio at a uniformly random
            centre, clipped to the image; the partner's pixels fill it. Every
            feature must then be an image `[B, H, W(, C)]`, channels last, any H x W;
            per-pixel labels (segmentation masks) are cut with the same box.
        switch_prob: with both `alpha > 0` and `cutmix_alpha > 0`, the probability
            that a batch (an example, with `per_example`) uses CutMix instead of
            mixup (default 0.5, as in timm and the DeiT / ConvNeXt recipes).
        prob: the probability that a batch (an example) is mixed at all (default
            1); the others pass through with the same conversions.
        exact_cutmix_weight: if True (default), an example cut by a box keeps the
            target weight `1 - (clipped box area) / (H W)`, exactly the share of its
            pixels it keeps (timm's `correct_lam=True`); if False, the drawn lambda,
            which overstates it when the box was clipped at the image border.

    `alpha`, `cutmix_alpha`, `switch_prob` and `prob` are read from variables at
    run time: assigning them (or `AlphaScheduler(..., attribute=...)`) changes the
    next batches without rebuilding the pipeline.

    Returns (when called on a batch):
        The mixed element, in the input's structure.

    Raises:
        ValueError: invalid arguments (naming the argument); integer labels without
            `num_classes`; float labels whose class axis is not `num_classes` wide;
            an unbatched element; tensors whose batch sizes differ; an element that
            is not `(features, labels[, sample_weight])`; with CutMix, a feature
            that is not an image.
        TypeError: a non-numeric feature; arguments of the wrong type.

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

    References:
        - Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk
          Minimization", ICLR 2018.
        - Yun, Han, Oh, Chun, Choe & Yoo, "CutMix: Regularization Strategy to Train
          Strong Classifiers with Localizable Features", ICCV 2019.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        num_classes: int | None = None,
        per_example: bool = False,
        seed: int | None = None,
        dtype=None,
        jit_compile: bool = True,
        pairing: str = "random",
        targets: str = "mixed",
        label_smoothing: float = 0.0,
        num_mixed: int = 2,
        cutmix_alpha: float = 0.0,
        switch_prob: float = 0.5,
        prob: float = 1.0,
        exact_cutmix_weight: bool = True,
    ):
        self.settings = mix_settings(alpha, cutmix_alpha, switch_prob, prob)
        self.config = MixConfig.create(per_example, num_mixed, cutmix_alpha, exact_cutmix_weight)
        self.name = "MixupTransform"  # how error messages call this transform
        self.num_classes = validate_num_classes(num_classes)
        self.seed = validate_seed(seed)
        self.dtype = floating_dtype(dtype)
        self.jit_compile = bool(jit_compile)
        self.pairing = validate_pairing(pairing)
        self.targets = validate_target_mode(targets)
        self.label_smoothing = validate_label_smoothing(label_smoothing)
        read(self.settings)  # the variables exist before any tf.data function is traced
        with tf.device("/CPU:0"):
            self._generator = (
                tf.random.Generator.from_seed(self.seed)
                if self.seed is not None
                else tf.random.Generator.from_non_deterministic_state()
            )
        self._mix_with_seed = tf.function(
            self._mix_with_seed_impl, jit_compile=self.jit_compile, reduce_retracing=True
        )

    def get_config(self) -> dict:
        return {
            **self.mixing_config(),
            "num_classes": self.num_classes,
            "seed": self.seed,
            "dtype": self.dtype,
            "jit_compile": self.jit_compile,
            "pairing": self.pairing,
            "targets": self.targets,
            "label_smoothing": self.label_smoothing,
        }

    def sharing_settings(self, **overrides) -> MixupTransform:
        """A transform with this one's config changed by `overrides`, whose run-time
        settings (alpha) are this one's: assigning one assigns both."""
        derived = MixupTransform(**{**self.get_config(), **overrides})
        derived.settings = self.settings
        return derived

    def for_input_pipeline(self, input_context: tf.distribute.InputContext) -> MixupTransform:
        """The transform for one input pipeline of `strategy.distribute_datasets_from_function`.

        Every worker runs the same dataset function; with the same seed, all
        workers would draw the same lambdas and permutations. This returns a
        transform whose seed also depends on `input_context.input_pipeline_id`
        (reproducible, different per pipeline). With a single input pipeline
        (one worker) it returns `self`, so a run on one machine draws what it
        draws without a strategy. With `seed=None` every pipeline draws fresh
        randomness anyway. The derived transform shares this one's alpha, so an
        `AlphaScheduler` given this transform drives all of them.

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
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"MixupTransform({args})"

    @tf.autograph.experimental.do_not_convert
    def __call__(self, *element):
        """Mixes one batched element (`dataset.map`), or maps a whole dataset
        deterministically (`dataset.apply`)."""
        if len(element) == 1 and isinstance(element[0], tf.data.Dataset):
            return self._apply_to_dataset(element[0])
        batch, with_sample_weight = parse_element(element, self.name)
        seed = self._generator.make_seeds(1)[:, 0]
        return pack_element(self.mix(batch, seed), with_sample_weight)

    def mix(self, batch: Batch, seed) -> Batch:
        """Validates `batch` and mixes it with parameters drawn from `seed` (two integers)."""
        batch = validated(batch, self.name, self.num_classes)
        if self.config.cutmix:
            cutmix_image_size(batch.features, self.name)  # raises here, not inside XLA
        return self._mix_with_seed(batch, seed)

    @tf.autograph.experimental.do_not_convert
    def _mix_with_seed_impl(self, batch: Batch, seed) -> Batch:
        values = read(self.settings)

        def apply(params):
            return mix_batch(
                batch,
                params,
                num_classes=self.num_classes,
                feature_dtype=self.dtype,
                targets=self.targets,
                label_smoothing=self.label_smoothing,
                ops=TENSORFLOW,
            )

        def mix():
            groups = (
                same_class_groups(batch.labels, self.name) if self.pairing == "same_class" else None
            )
            size = TENSORFLOW.size(tf.convert_to_tensor(tf.nest.flatten(batch.labels)[0]))
            params = self.config.draw(
                seed, batch.features, size, values, self.name, TENSORFLOW, groups
            )
            return apply(params)

        # The values are read at run time, so a schedule can switch mixing on and off.
        return tf.cond(self.config.mixes(values), mix, lambda: apply(None))

    def _apply_to_dataset(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        seeds = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True)

        @tf.autograph.experimental.do_not_convert
        def mix_element(element, random_value):
            batch, with_sample_weight = parse_element((element,), self.name)
            # Both halves of the 64-bit random value; the salt separates the stream.
            seed = tf.stack(
                [
                    tf.cast(random_value, tf.int32),
                    tf.bitwise.bitwise_xor(
                        tf.cast(tf.bitwise.right_shift(random_value, 32), tf.int32),
                        _APPLY_SEED_SALT,
                    ),
                ]
            )
            return pack_element(self.mix(batch, seed), with_sample_weight)

        mixed = tf.data.Dataset.zip(dataset, seeds).map(
            mix_element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        return checkpointable(mixed)

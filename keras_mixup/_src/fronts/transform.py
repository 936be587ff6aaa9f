"""MixupTransform: mixup as a transformation of batched elements, for tf.data,
Grain and NumPy pipelines."""

from __future__ import annotations

import hashlib

import numpy as np

from keras_mixup._src.bindings.ops import is_tensorflow_dataset
from keras_mixup._src.core.options import options_of
from keras_mixup._src.core.seeds import seed_from_generator
from keras_mixup._src.core.spec import MixSpec
from keras_mixup._src.core.validation import floating_dtype, validate_seed
from keras_mixup._src.fronts.element_mixer import ElementMixer
from keras_mixup._src.fronts.runtime import RuntimeSettings, RuntimeVariables

_OWN_OPTIONS = options_of("transform")  # the option table's, in its order


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
    The family, from the same sampler and blend: k-way mixing (`num_mixed=k`:
    weights ~ Dirichlet(alpha, ..., alpha) over k examples, the paper's Section
    2), CutMix (`cutmix_alpha > 0`: a box of the partner's pixels, Yun et al.
    2019), GridMix (`gridmix_alpha > 0`: the partner through a grid of holes,
    Baek et al. 2021), FMix (`fmix_alpha > 0`: through a low-frequency random mask,
    Harris et al. 2020), SmoothMix (`smoothmix_alpha > 0`: blended in through a soft
    Gaussian blob, Lee et al. 2020), ResizeMix (`resizemix_alpha > 0`: the whole
    partner resized into a patch, Qin et al. 2020), Mosaic (`mosaic_alpha > 0`: four
    images tiled around a random centre, Bochkovskiy et al. 2020), a per-batch (or
    per-example) choice among them
    (`switch_prob`), and mixing only a share of the batches (`prob`).

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
        num_mixed: how many examples mixup combines (>= 2). 2 (default): the
            paper's pairs. k >= 3: weights ~ Dirichlet(alpha, ..., alpha), exactly
            (normalized Gamma draws of the same sampler), with k - 1 independent
            partner permutations; targets and sample weights get the same weights.
            Not with CutMix.
        cutmix_alpha: CutMix's concentration (> 0 turns CutMix on, default 0):
            lambda ~ Beta(cutmix_alpha, cutmix_alpha) sets a box of area
            `(1 - lambda) H W` with the image's aspect ratio at a uniformly random
            centre, clipped to the image; the partner's pixels fill it. Every
            feature must then be an image `[B, H, W(, C)]` (`[B, C, H, W]` with
            `data_format="channels_first"`), any H x W;
            per-pixel labels (segmentation masks) are cut with the same box.
        gridmix_alpha: GridMix's concentration (> 0 turns GridMix on, default 0;
            Baek et al., Pattern Recognition 2021): lambda ~ Beta(gridmix_alpha,
            gridmix_alpha) sets the holes of a grid of square cells in a random crop
            (half the image to all of it, aspect ratio 0.5 to 2); the partner shows
            through the holes (side `cell * sqrt(1 - lambda)`). The targets weigh
            each source by the share of pixels it shows, exactly. Images only, as
            for CutMix; not with `num_mixed > 2`.
        gridmix_holes: `(low, high)`, default (2, 6): GridMix's number of cells
            across the crop's width, drawn uniformly from this inclusive range (at
            most half the crop's width in pixels).
        fmix_alpha: FMix's concentration (> 0 turns FMix on, default 0; Harris et
            al. 2020): lambda ~ Beta(fmix_alpha, fmix_alpha) sets the share of the
            pixels the example keeps; the partner shows through the rest, a random
            low-frequency shape (a Gaussian spectrum decaying as `1 / f **
            fmix_decay_power`, binarised by rank). The targets weigh each source by
            its realised share of the pixels, exactly. Images of a fixed size only;
            not with `num_mixed > 2`. With `per_example=True` each example draws
            its own mask (`H W` normals each).
        fmix_decay_power: the decay of FMix's spectrum (> 0, default 3, the
            paper's): larger values give smoother, blobbier masks.
        fmix_max_soft: in [0, 0.5], default 0: the share of pixels on each side of
            FMix's threshold that get soft weights (0: a binary mask).
        fmix_reformulate: if True, FMix's lambda ~ Beta(fmix_alpha + 1,
            fmix_alpha) (the paper's reformulation); default False.
        smoothmix_alpha: SmoothMix's concentration (> 0 turns SmoothMix on, default
            0; Lee et al., CVPR Workshops 2020): the partner is blended in through a
            Gaussian blob `G` at a uniformly random centre (the example keeps `1 -
            G` of each pixel), its width `s sqrt(H W)` with `s` in
            `smoothmix_sigma` drawn ~ Beta(smoothmix_alpha, smoothmix_alpha) (1:
            uniform, as published). SmoothMix draws no mixing ratio: the targets
            weigh the partner by `mean(G)`, the example by `mean(1 - G)`, exactly.
            Images only; pixels mix two sources, so integer segmentation masks
            need `num_classes`.
        smoothmix_sigma: `(low, high)`, default (0.25, 0.5): the range of
            SmoothMix's width as a share of the image's side.
        resizemix_alpha: ResizeMix's concentration (> 0 turns ResizeMix on, default
            0; Qin et al. 2020): the partner's whole image, resized by nearest
            neighbour to a patch of side ratio `tau` (of H and of W), pasted at a
            uniformly random position inside the example; `tau` in
            `resizemix_scope` drawn ~ Beta(resizemix_alpha, resizemix_alpha) (1:
            uniform, as published). Target weights: the patch's share of the
            pixels, exactly. The partner's boxes are scaled into the patch; integer
            segmentation masks are resized and pasted as they are.
        resizemix_scope: `(low, high)`, default (0.1, 0.8): the range of
            ResizeMix's side ratio `tau`.
        mosaic_alpha: Mosaic's concentration (> 0 turns Mosaic on, default 0;
            Bochkovskiy et al., YOLOv4, 2020): the example and three partners (from
            three permutations of the batch) tiled around a centre `(cy, cx)`, the
            output keeping the input's size: the example's bottom-right corner in the
            top-left tile, the partners' nearest corners in the top-right, bottom-left
            and bottom-right tiles (keras-cv's `Mosaic` without its resampling). The
            centre's offsets (shares of H and W) in `mosaic_offset` are drawn ~
            Beta(mosaic_alpha, mosaic_alpha) (1: uniform, as keras-cv). Target weights:
            the tiles' shares of the pixels, exactly. Boxes are moved into their tile
            and clipped to it (`[B, 4 N, 4]`); integer segmentation masks follow the
            pixels as they are under Mosaic alone (beside mixup they become one-hot
            targets and need `num_classes`). Pairs only (`num_mixed=2`).
        mosaic_offset: `(low, high)` in (0, 1], default (0.25, 0.75) (keras-cv's
            `offset`): the range of Mosaic's centre as a share of the image's height
            and width.
        switch_prob: with `alpha > 0` and a method that pastes pixels on
            (`cutmix_alpha`, `gridmix_alpha`, `fmix_alpha`, `smoothmix_alpha`,
            `resizemix_alpha` or `mosaic_alpha > 0`), the probability that a batch (an example, with `per_example`) uses
            one of those (split equally among those on) instead of mixup (default
            0.5, as in timm and the DeiT / ConvNeXt recipes).
        prob: the probability that a batch (an example) is mixed at all (default
            1); the others pass through with the same conversions.
        exact_cutmix_weight: if True (default), an example cut by a box keeps the
            target weight `1 - (clipped box area) / (H W)`, exactly the share of its
            pixels it keeps (timm's `correct_lam=True`); if False, the drawn lambda,
            which overstates it when the box was clipped at the image border.
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
    `gridmix_alpha`, `fmix_alpha`, `smoothmix_alpha`, `resizemix_alpha`, `mosaic_alpha`)
    are read
    from variables at
    run time: assigning them (or `AlphaScheduler(..., attribute=...)`) changes the
    next batches without rebuilding the pipeline.

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
        - Baek, Bang & Shim, "GridMix: Strong regularization through local context
          mapping", Pattern Recognition 110, 2021.
        - Harris, Marcu, Painter, Niranjan, Prügel-Bennett & Hare, "FMix: Enhancing
          Mixed Sample Data Augmentation", arXiv 2002.12047, 2020.
        - Lee, Zaheer, Astrid & Lee, "SmoothMix: a Simple Yet Effective Data
          Augmentation to Train Robust Classifiers", CVPR Workshops 2020.
        - Qin, Fang, Liu, Wang & Wang, "ResizeMix: Mixing Data with Preserved
          Object Information and True Labels", arXiv 2012.11101, 2020.
        - Yao, Wang, Li, Zhang, Liang, Zou & Finn, "C-Mixup: Improving
          Generalization in Regression", NeurIPS 2022.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        num_classes: int | dict | list | tuple | None = None,
        per_example: bool = False,
        seed: int | None = None,
        dtype: str | None = None,
        jit_compile: bool = True,
        pairing: str = "random",
        c_mixup_bandwidth: float = 1.0,
        targets: str = "mixed",
        label_smoothing: float = 0.0,
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
        bounding_box_format: str | None = None,
        min_box_visibility: float = 0.1,
        data_format: str | None = None,
        ignore_class: int | None = None,
    ):
        self.runtime = RuntimeVariables(
            MixSpec(
                alpha=alpha,
                num_classes=num_classes,
                per_example=per_example,
                pairing=pairing,
                c_mixup_bandwidth=c_mixup_bandwidth,
                targets=targets,
                label_smoothing=label_smoothing,
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
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
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

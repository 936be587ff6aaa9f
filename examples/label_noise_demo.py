"""ERM vs mixup on digits with 50 % corrupted training labels (`make demo`).

The paper's Table 2 effect at toy scale, fully offline: a small CNN trained
with plain ERM memorizes the corrupted labels and its test error climbs as
training goes on; the same CNN, from the same initial weights, trained through
`dataset.map(MixupTransform(alpha=8))` resists the noise.

Data: scikit-learn's digits (1,797 8x8 images, 10 classes), a stratified
1,297 / 500 train / test split; 50 % of the training labels are replaced by a
uniformly random class (fixed seed, kept for the whole run; some keep their
class by chance). Test labels are clean.

Both runs use the same `tf.data` pipeline; ERM is `MixupTransform(alpha=0)`,
which the paper's alpha -> 0 limit defines as ordinary training and which
keras_mixup implements as "no mixing, same dtype conversions".

Usage:
    python examples/label_noise_demo.py [--epochs 100] [--alpha 8] [--output runs/demo]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import (  # noqa: E402
    NUM_CLASSES,
    error_percent,
    fit_small_cnn,
    load_digits_split,
    small_cnn,
    train_pipeline,
    write_results,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=8.0, help="mixup alpha (paper: 8 or 32)")
    parser.add_argument("--noise", type=float, default=0.5, help="share of corrupted train labels")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("runs/demo"))
    args = parser.parse_args(argv)

    x_train, y_noisy, y_clean, x_test, y_test = load_digits_split(args.seed, args.noise)
    corrupted = y_noisy != y_clean
    print(
        f"digits: {len(x_train)} train ({corrupted.mean():.1%} labels changed by the "
        f"{args.noise:.0%} corruption), {len(x_test)} clean test images"
    )
    test_ds = (
        tf.data.Dataset.from_tensor_slices(
            (x_test, keras.utils.to_categorical(y_test, NUM_CLASSES))
        )
        .batch(500)
        .cache()
    )
    initial_weights = small_cnn(seed=args.seed).get_weights()
    runs = {}
    for name, alpha in [("ERM", 0.0), (f"mixup alpha={args.alpha:g}", args.alpha)]:
        print(f"\n=== {name} ===")
        start = time.perf_counter()
        train_ds = train_pipeline(
            x_train, y_noisy, alpha=alpha, batch_size=args.batch_size, seed=args.seed
        )
        model, history = fit_small_cnn(
            initial_weights,
            train_ds,
            epochs=args.epochs,
            learning_rate=args.learning_rate,
            validation_data=test_ds,
        )
        test_error = [100.0 * (1.0 - a) for a in history.history["val_accuracy"]]
        runs[name] = {
            "alpha": alpha,
            "test_error_per_epoch": test_error,
            "best_test_error": min(test_error),
            "last_test_error": test_error[-1],
            "train_error_real_labels": error_percent(model, x_train, y_clean),
            "train_error_corrupted_labels_vs_given": error_percent(
                model, x_train[corrupted], y_noisy[corrupted]
            ),
            "seconds": time.perf_counter() - start,
        }

    print(
        f"\nTest error (%) on clean digits, {args.noise:.0%} corrupted training labels, "
        f"{args.epochs} epochs, seed {args.seed}"
    )
    header = f"{'method':<18}{'best':>8}{'last':>8}{'train err (real)':>18}{'fit to corrupted':>18}"
    print(header)
    print("-" * len(header))
    for name, run in runs.items():
        fit_noise = 100.0 - run["train_error_corrupted_labels_vs_given"]
        print(
            f"{name:<18}{run['best_test_error']:>8.1f}{run['last_test_error']:>8.1f}"
            f"{run['train_error_real_labels']:>18.1f}{fit_noise:>17.1f}%"
        )
    print(
        "'fit to corrupted': share of corrupted training images predicted as their wrong "
        "label (memorization)."
    )
    results_path = write_results(args.output, vars(args), runs)
    plot_path = args.output / "test_error.png"
    plot(runs, plot_path, args)
    print(f"\nwrote {results_path} and {plot_path}")


def plot(runs, path, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, run in runs.items():
        epochs = np.arange(1, len(run["test_error_per_epoch"]) + 1)
        ax.plot(epochs, run["test_error_per_epoch"], label=name)
    for drop in (args.epochs // 2, args.epochs * 3 // 4):
        ax.axvline(drop + 0.5, color="grey", linestyle=":", linewidth=1)
    ax.text(args.epochs // 2 + 1, ax.get_ylim()[1] * 0.95, "lr / 10", color="grey", fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"digits, {args.noise:.0%} corrupted labels: ERM vs mixup (seed {args.seed})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()

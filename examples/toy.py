"""Figure 1b: ERM vs mixup (alpha = 1) on a 2-D two-class toy problem, p(y = 1 | x) shading.

The paper's figure shows that ERM learns a sharp transition between the classes
while mixup makes p(y = 1 | x) change linearly in between. Data: scikit-learn's
two interleaved half-moons with Gaussian noise (offline). Model: an MLP with two
hidden layers of 128 ReLU units, Adam, full-batch-sized shuffled minibatches;
ERM and mixup train from the same initial weights through the same `tf.data`
pipeline (`MixupTransform(alpha=0)` is ERM).

One number per run summarizes the picture: the share of a grid around the data
where the model is unsure, 0.1 < p(y = 1 | x) < 0.9 (the width of the
transition band), with the training error.

    python examples/toy.py --output runs/toy          # ~3 minutes (3 seeds) on 2 CPU cores
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import mean_std, write_results  # noqa: E402

from keras_mixup import MixupTransform  # noqa: E402


def toy_data(seed: int, n: int = 200, noise: float = 0.2):
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return x.astype("float32"), y.astype("int64")


def mlp(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(2),
        ]
    )


def grid(x, steps: int = 200):
    low, high = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], steps), np.linspace(low[1], high[1], steps))
    return xx, yy, np.stack([xx.ravel(), yy.ravel()], axis=1).astype("float32")


def train(x, y, alpha: float, initial_weights, args, seed: int) -> keras.Model:
    model = mlp(seed)
    model.set_weights(initial_weights)
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(args.batch_size)
        .apply(MixupTransform(alpha, num_classes=2, seed=seed))  # rank-2 features
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    model.fit(dataset, epochs=args.epochs, verbose=0, shuffle=False)
    return model


def probability_of_class_1(model, points) -> np.ndarray:
    return keras.ops.convert_to_numpy(
        keras.ops.softmax(model.predict(points, verbose=0, batch_size=4096))
    )[:, 1]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("runs/toy"))
    args = parser.parse_args(argv)

    runs = {"ERM": [], f"mixup α = {args.alpha:g}": []}
    shading = {}
    for seed in range(args.seed, args.seed + args.seeds):
        x, y = toy_data(seed)
        xx, yy, points = grid(x)
        initial = mlp(seed).get_weights()
        for name, alpha in zip(runs, (0.0, args.alpha), strict=True):
            model = train(x, y, alpha, initial, args, seed)
            p = probability_of_class_1(model, points)
            train_error = 100.0 * float(np.mean((probability_of_class_1(model, x) > 0.5) != y))
            runs[name].append(
                {
                    "uncertain_share": 100.0 * float(np.mean((p > 0.1) & (p < 0.9))),
                    "train_error": train_error,
                }
            )
            print(
                f"seed {seed} {name}: 0.1 < p < 0.9 on {runs[name][-1]['uncertain_share']:.1f} % "
                f"of the grid, training error {train_error:.1f} %",
                flush=True,
            )
            if seed == args.seed:
                shading[name] = (x, y, xx, yy, p.reshape(xx.shape))

    print(f"\nFigure 1b (two moons, noise 0.2, 200 points, {args.seeds} seed(s), mean ± std)")
    print(f"{'method':<16}{'grid share with 0.1 < p < 0.9':>32}{'training error':>18}")
    for name, values in runs.items():
        share = mean_std([v["uncertain_share"] for v in values])
        error = mean_std([v["train_error"] for v in values])
        print(f"{name:<16}{share + ' %':>32}{error + ' %':>18}")
    print("Paper: a figure only (ERM: sharp transition; mixup: smooth, linear in between).")
    path = write_results(args.output, vars(args), runs)
    plot(shading, args.output / "toy_shading.png")
    print(f"wrote {path} and {args.output / 'toy_shading.png'}")
    return runs


def plot(shading: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(shading), figsize=(5 * len(shading), 4.2))
    for ax, (name, (x, y, xx, yy, p)) in zip(np.atleast_1d(axes), shading.items(), strict=True):
        image = ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 21), cmap="Blues")
        ax.scatter(*x[y == 0].T, s=10, c="tab:green", label="class 0")
        ax.scatter(*x[y == 1].T, s=10, c="tab:orange", label="class 1")
        ax.set(title=f"{name}: p(y = 1 | x)", xticks=[], yticks=[])
    fig.colorbar(image, ax=axes, shrink=0.8)
    np.atleast_1d(axes)[0].legend(loc="lower left", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

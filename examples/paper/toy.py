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

    python -m examples.paper.toy --output runs/toy     # ~3 minutes (3 seeds) on 2 CPU cores
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from examples.paper.common import argument_parser, cell, markdown_table, mean_std, write_results
from keras_mixup import MixupTransform


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


def grid(x, steps: int = 60):
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
    parser = argument_parser(__doc__)
    parser.add_argument("--alpha", type=float, default=1.0, help="mixup alpha")
    parser.add_argument("--epochs", type=int, default=100, help="training epochs per run")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch size")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (data and weights)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--output", type=Path, default=Path("runs/toy"), help="output folder")
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
            if seed == args.seed:  # the figure's data, kept in the results file
                shading[name] = {
                    "points": np.round(x, 4).tolist(),
                    "labels": y.tolist(),
                    "grid_x": np.round(xx[0], 4).tolist(),
                    "grid_y": np.round(yy[:, 0], 4).tolist(),
                    "p_class_1": np.round(p.reshape(xx.shape), 4).tolist(),
                }

    print(f"\nFigure 1b (two moons, noise 0.2, 200 points, {args.seeds} seed(s), mean ± std)")
    print(f"{'method':<16}{'grid share with 0.1 < p < 0.9':>32}{'training error':>18}")
    for name, values in runs.items():
        share = mean_std([v["uncertain_share"] for v in values])
        error = mean_std([v["train_error"] for v in values])
        print(f"{name:<16}{share + ' %':>32}{error + ' %':>18}")
    print("Paper: a figure only (ERM: sharp transition; mixup: smooth, linear in between).")
    results = {"runs": runs, "figure": shading}
    path = write_results(args.output, vars(args), results)
    figures({"config": vars(args), "results": results}, args.output, "toy_shading")
    print(f"wrote {path} and {args.output / 'toy_shading.png'}")
    return runs


def markdown(data: dict) -> str:
    rows = [
        [
            name,
            cell([v["uncertain_share"] for v in values]),
            cell([v["train_error"] for v in values]),
        ]
        for name, values in data["results"]["runs"].items()
    ]
    return markdown_table(
        ["method", "grid share with 0.1 < p(y=1|x) < 0.9 (%)", "training error (%)"], rows
    )


def figures(data: dict, folder: Path, name: str) -> list[Path]:
    path = folder / f"{name}.png"
    plot(data["results"]["figure"], path)
    return [path]


def plot(shading: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(shading), figsize=(5 * len(shading), 4.2))
    for ax, (name, figure) in zip(np.atleast_1d(axes), shading.items(), strict=True):
        x, y = np.asarray(figure["points"]), np.asarray(figure["labels"])
        xx, yy = np.meshgrid(figure["grid_x"], figure["grid_y"])
        p = np.asarray(figure["p_class_1"])
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

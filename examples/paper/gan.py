"""Figure 5: mixup as a GAN discriminator regularizer on 2-D toy data.

The paper's setting: 8 Gaussians on a ring and 25 Gaussians on a grid (std 0.01),
generator and discriminator MLPs with three hidden layers of 512 ReLU units,
Adam with default parameters, minibatches of 128, five discriminator steps per
generator step, 20,000 generator iterations; the mixup discriminator is trained on

    min_d  BCE(d(lam * x + (1 - lam) * g(z)), lam),   lam ~ Beta(alpha, alpha), alpha = 0.2,

against the usual BCE(d(x), 1) + BCE(d(g(z)), 0). The real/fake pairs are mixed
with the library's own pieces: `sample_mix_params` draws lambda (one per batch,
the library's default), `blend(real, params, partner=fake)` mixes, and lambda is
the target. Choices the paper leaves open (said here, not hidden): the generator
minimizes the non-saturating -log d(g(z)) in both runs; z is 2-D standard normal;
the ring has radius 2 and the grid spacing 1 (coordinates -2..2).

Scores, from 2,500 generator samples at every snapshot: `high_quality`, the share
of samples within 3 std of their nearest mode, and `modes_covered`, the modes that
received at least 20 % of their uniform share (0.2 * 2,500 / modes) of those
high-quality samples.

    python -m examples.paper.gan --quick --output runs/gan-quick   # smaller nets, minutes on CPU
    python -m examples.paper.gan --output runs/gan                 # the paper's scale
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
    parse_with_quick,
    write_results,
)
from keras_mixup import blend, sample_mix_params

STD = 0.01
PAPER_SNAPSHOTS = (10, 100, 1_000, 10_000, 20_000)
EVAL_SAMPLES = 2_500
FIGURE_SAMPLES = 500
COVERAGE_SHARE = 0.2


def mode_centres(name: str) -> np.ndarray:
    if name == "ring8":
        angles = 2 * np.pi * np.arange(8) / 8
        return np.stack([2 * np.cos(angles), 2 * np.sin(angles)], axis=1).astype("float32")
    if name == "grid25":
        axis = np.arange(-2, 3, dtype="float32")
        return np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    raise SystemExit(f"unknown data set {name!r}; choose ring8 or grid25")


def sample_real(generator: tf.random.Generator, centres: tf.Tensor, batch_size: int):
    """A batch from the mixture: a uniformly chosen centre plus N(0, STD^2) noise."""
    index = generator.uniform([batch_size], 0, centres.shape[0], dtype=tf.int32)
    return tf.gather(centres, index) + STD * generator.normal([batch_size, 2])


def mlp(output_units: int, width: int, depth: int, name: str) -> keras.Model:
    layers = [keras.Input((2,))]
    layers += [keras.layers.Dense(width, activation="relu") for _ in range(depth)]
    layers.append(keras.layers.Dense(output_units))
    return keras.Sequential(layers, name=name)


def score(samples: np.ndarray, centres: np.ndarray) -> dict:
    """Share of samples within 3 std of their nearest mode, and modes covered."""
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    good = distances.min(axis=1) <= 3 * STD
    counts = np.bincount(nearest[good], minlength=len(centres))
    threshold = COVERAGE_SHARE * len(samples) / len(centres)
    return {
        "high_quality": float(good.mean()),
        "modes_covered": int((counts >= threshold).sum()),
        "modes": len(centres),
    }


class ToyGAN:
    """Generator and discriminator with a compiled iteration: `d_steps`
    discriminator steps (mixup or plain) then one generator step."""

    def __init__(self, args, alpha: float, seed: int):
        keras.utils.set_random_seed(seed)
        self.generator = mlp(2, args.width, args.depth, "generator")
        self.discriminator = mlp(1, args.width, args.depth, "discriminator")
        self.g_optimizer = keras.optimizers.Adam()
        self.d_optimizer = keras.optimizers.Adam()
        self.alpha = alpha
        self.batch_size = args.batch_size
        self.d_steps = args.d_steps
        self.rng = tf.random.Generator.from_seed(seed)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def noise(self, count):
        return self.rng.normal([count, 2])

    def discriminator_loss(self, real, fake):
        if self.alpha > 0:
            params = sample_mix_params(self.rng.make_seeds(1)[:, 0], self.batch_size, self.alpha)
            mixed = blend(real, params, partner=fake)
            return self.bce(params.mix_weight[:, None], self.discriminator(mixed, training=True))
        logits = self.discriminator(tf.concat([real, fake], axis=0), training=True)
        targets = tf.concat([tf.ones([self.batch_size, 1]), tf.zeros([self.batch_size, 1])], 0)
        return self.bce(targets, logits)

    @tf.function(jit_compile=True)
    def iterations(self, centres, count):
        """`count` training iterations in one compiled loop; the last losses."""
        d_loss = g_loss = tf.constant(0.0)
        for _ in tf.range(count):
            d_loss, g_loss = self.iteration(centres)
        return d_loss, g_loss

    def iteration(self, centres):
        for _ in range(self.d_steps):
            real = sample_real(self.rng, centres, self.batch_size)
            fake = self.generator(self.noise(self.batch_size), training=True)
            with tf.GradientTape() as tape:
                d_loss = self.discriminator_loss(real, fake)
            variables = self.discriminator.trainable_variables
            self.d_optimizer.apply(tape.gradient(d_loss, variables), variables)
        with tf.GradientTape() as tape:
            logits = self.discriminator(self.generator(self.noise(self.batch_size)), training=True)
            g_loss = self.bce(tf.ones_like(logits), logits)  # -log d(g(z)), non-saturating
        variables = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(g_loss, variables), variables)
        return d_loss, g_loss


def train(dataset: str, alpha: float, args, seed: int):
    """One run; returns per-snapshot scores and samples."""
    centres = mode_centres(dataset)
    gan = ToyGAN(args, alpha, seed)
    centres_tensor = tf.constant(centres)
    snapshots = sorted({s for s in PAPER_SNAPSHOTS if s <= args.iterations} | {args.iterations})
    method = f"mixup α={alpha:g}" if alpha else "GAN"
    print(f"{dataset} {method} seed {seed}", flush=True)
    progress = keras.utils.Progbar(args.iterations, verbose=args.verbose, interval=5.0)
    record = {"snapshots": {}, "samples": {}}
    evaluation_noise = tf.random.Generator.from_seed(10_000 + seed).normal([EVAL_SAMPLES, 2])
    # Run in compiled chunks that end at every snapshot and every 100 iterations.
    stops = sorted(set(snapshots) | set(range(100, args.iterations, 100)))
    done = 0
    for stop in stops:
        d_loss, g_loss = gan.iterations(centres_tensor, tf.constant(stop - done))
        done = stop
        if done in snapshots:
            samples = gan.generator(evaluation_noise, training=False).numpy()
            record["snapshots"][done] = score(samples, centres)
            record["samples"][done] = samples
        progress.update(done, [("d_loss", float(d_loss)), ("g_loss", float(g_loss))])
    final = record["snapshots"][args.iterations]
    print(
        f"  after {args.iterations} iterations: {final['modes_covered']}/{final['modes']} modes, "
        f"{100 * final['high_quality']:.1f} % of samples within 3 std of a mode",
        flush=True,
    )
    return record


def plot(records: dict, centres: np.ndarray, path: Path, title: str) -> None:
    """Rows: the runs; columns: the snapshots. Grey: modes; blue: generator samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(records)
    iterations = sorted(records[names[0]]["samples"])
    fig, axes = plt.subplots(
        len(names), len(iterations), figsize=(2.3 * len(iterations), 2.4 * len(names)),
        squeeze=False,
    )  # fmt: skip
    limit = np.abs(centres).max() + 1.0
    for row, name in enumerate(names):
        for column, iteration in enumerate(iterations):
            ax = axes[row, column]
            samples = records[name]["samples"][iteration]
            ax.scatter(centres[:, 0], centres[:, 1], s=30, c="0.75", zorder=1)
            ax.scatter(samples[:, 0], samples[:, 1], s=1, c="tab:blue", alpha=0.5, zorder=2)
            scores = records[name]["snapshots"][iteration]
            ax.set_title(
                f"{name}, it {iteration}\n{scores['modes_covered']}/{scores['modes']} modes, "
                f"{100 * scores['high_quality']:.0f} % near",
                fontsize=7,
            )
            ax.set(xlim=(-limit, limit), ylim=(-limit, limit), xticks=[], yticks=[])
            ax.set_aspect("equal")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


QUICK = {"iterations": 5_000, "width": 128, "seeds": 3}


def main(argv=None) -> dict:
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--datasets", default="ring8,grid25", help="comma-separated: ring8 and/or grid25"
    )
    parser.add_argument("--alpha", type=float, default=0.2, help="mixup alpha (> 0)")
    parser.add_argument("--iterations", type=int, default=20_000, help="generator steps")
    parser.add_argument("--width", type=int, default=512, help="hidden units per layer")
    parser.add_argument("--depth", type=int, default=3, help="hidden layers of G and D")
    parser.add_argument("--batch-size", type=int, default=128, help="minibatch size")
    parser.add_argument(
        "--d-steps", type=int, default=5, help="discriminator steps per generator step"
    )
    add_quick_flag(parser, QUICK, "smaller networks, fewer iterations")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--verbose", type=int, default=1, help="1: progress bars")
    parser.add_argument("--output", type=Path, default=Path("runs/gan"), help="output folder")
    args = parse_with_quick(parser, argv, QUICK)
    if args.alpha <= 0:
        parser.error(f"--alpha must be > 0 for the mixup run; got {args.alpha}")

    results, samples = {}, {}
    for dataset in args.datasets.split(","):
        for method, alpha in (("GAN", 0.0), (f"mixup α={args.alpha:g}", args.alpha)):
            runs = [
                train(dataset, alpha, args, seed)
                for seed in range(args.seed, args.seed + args.seeds)
            ]
            results[f"{dataset} {method}"] = [
                {str(k): v for k, v in run["snapshots"].items()} for run in runs
            ]
            # the figure's data: 500 of the first seed's samples at every snapshot
            samples[f"{dataset} {method}"] = {
                str(k): np.round(v[:FIGURE_SAMPLES], 3).tolist()
                for k, v in runs[0]["samples"].items()
            }

    print(f"\nFigure 5: after {args.iterations} iterations, {args.seeds} seed(s) "
          f"(modes covered; % of samples within 3 std of a mode), per seed")  # fmt: skip
    for name, runs in results.items():
        final = [run[str(args.iterations)] for run in runs]
        cells = ", ".join(
            f"{f['modes_covered']}/{f['modes']} ({100 * f['high_quality']:.0f} %)" for f in final
        )
        print(f"{name:<22}{cells}")
    path = write_results(args.output, vars(args), {"scores": results, "samples": samples})
    figures(
        {"config": vars(args), "results": {"scores": results, "samples": samples}},
        args.output,
        "figure5",
    )
    print(f"wrote {path} and figure5_*.png")
    return results


def markdown(data: dict) -> str:
    """Modes covered and the share of samples near a mode, after the last iteration, per seed."""
    iterations = str(data["config"]["iterations"])
    rows = []
    for name, runs in data["results"]["scores"].items():
        final = [run[iterations] for run in runs]
        rows.append([
            name,
            ", ".join(f"{f['modes_covered']}/{f['modes']}" for f in final),
            cell([100 * f["high_quality"] for f in final]),
        ])  # fmt: skip
    return markdown_table(
        ["data set and method", "modes covered, per seed", "samples within 3 std of a mode (%)"],
        rows,
    )


def figures(data: dict, folder: Path, name: str) -> list[Path]:
    """One figure per data set: generator samples of the first seed at each snapshot."""
    config, results = data["config"], data["results"]
    paths = []
    for dataset in config["datasets"].split(","):
        records = {
            key.split(" ", 1)[1]: {
                "samples": {int(k): np.asarray(v) for k, v in results["samples"][key].items()},
                "snapshots": {int(k): v for k, v in results["scores"][key][0].items()},
            }
            for key in results["samples"]
            if key.startswith(dataset + " ")
        }
        path = folder / f"{name}_{dataset}.png"
        plot(records, mode_centres(dataset), path,
             f"{dataset}: generator samples (seed {config['seed']}; width {config['width']}, "
             f"{config['iterations']} iterations)")  # fmt: skip
        paths.append(path)
    return paths


if __name__ == "__main__":
    main()

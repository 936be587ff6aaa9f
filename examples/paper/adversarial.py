"""Table 3: robustness of ERM and mixup models to FGSM and I-FGSM, white-box and black-box.

The paper's protocol: three ImageNet ResNet-101 models, two trained with ERM and
one with mixup. White-box: each of ERM model 1 and the mixup model is attacked
with examples crafted on itself. Black-box: examples crafted on ERM model 1 are
fed to ERM model 2 and to the mixup model. FGSM and I-FGSM (10 equal steps),
epsilon = 4 on the [0, 255] pixel scale; top-1 and top-5 error.

Full scale (needs the ImageNet validation set and three checkpoints, e.g. from
examples.paper.imagenet, that take [0, 255] RGB images with their normalization
inside the model):

    python -m examples.paper.adversarial --erm1 erm1.keras --erm2 erm2.keras --mixup mixup.keras \
        --data-dir ~/tensorflow_datasets --output runs/table3

Quick profile (offline, minutes on 2 CPU cores): the same protocol on
scikit-learn's digits ([0, 1] pixels) with small CNNs, ERM models 1 and 2 from
different seeds and the mixup model (alpha 1) from ERM 1's initial weights,
several epsilons, several seeds:

    python -m examples.paper.adversarial --quick --output runs/table3-quick

The same quick protocol on real images: `--dataset fashion_mnist` trains the small CNNs on a
stratified `--train-size` subset of Fashion-MNIST's training images and attacks `--limit` test
images (stratified; all when not given), pixels in [0, 1]:

    python -m examples.paper.adversarial --quick --dataset fashion_mnist --train-size 5000 \
        --limit 1000 --epochs 20 --output runs/table3-fashion
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
from examples.paper.data import imagenet_validation, load_digits_split, load_fashion_mnist_split
from examples.paper.models import small_cnn
from examples.paper.training import error_percent, fit_small_cnn, train_pipeline
from keras_mixup.adversarial import evaluate_adversarial

# Table 3 of the paper (ImageNet, ResNet-101, epsilon = 4 of 255), error in %.
PAPER = {
    "white": {
        ("ERM", "FGSM"): (90.7, 63.1),
        ("ERM", "I-FGSM"): (99.9, 93.4),
        ("mixup", "FGSM"): (75.2, 49.1),
        ("mixup", "I-FGSM"): (99.6, 95.8),
    },
    "black": {
        ("ERM", "FGSM"): (57.0, 24.8),
        ("ERM", "I-FGSM"): (57.3, 18.1),
        ("mixup", "FGSM"): (46.0, 17.4),
        ("mixup", "I-FGSM"): (40.9, 11.8),
    },
}
ATTACKS = {"FGSM": "fgsm", "I-FGSM": "i_fgsm"}


def run_protocol(
    models: dict, dataset, epsilon: float, clip, steps: int, top_k, verbose=False
) -> dict:
    """White-box on ERM 1 and mixup, black-box from ERM 1 to ERM 2 and mixup."""
    rows = {}
    for attack_name, attack in ATTACKS.items():
        for setting, pairs in (
            ("white", [("ERM", models["erm1"], None), ("mixup", models["mixup"], None)]),
            (
                "black",
                [
                    ("ERM", models["erm2"], models["erm1"]),
                    ("mixup", models["mixup"], models["erm1"]),
                ],
            ),
        ):
            for name, target, source in pairs:
                rows[(setting, name, attack_name)] = evaluate_adversarial(
                    target,
                    dataset,
                    epsilon,
                    attack=attack,
                    source_model=source,
                    steps=steps,
                    top_k=top_k,
                    clip=clip,
                    verbose=verbose,
                )
    return rows


def print_table(title: str, summary: dict, top_k, with_paper: bool) -> None:
    print(f"\n{title}")
    for setting, label in (("white", "(a) white-box"), ("black", "(b) black-box")):
        print(f"  {label}")
        print(
            f"    {'metric':<7}{'method':<8}{'FGSM':>16}{'I-FGSM':>16}"
            + ("   paper FGSM / I-FGSM" if with_paper else "")
        )
        for k in top_k:
            for name in ("ERM", "mixup"):
                cells = [summary[(setting, name, attack)][k] for attack in ATTACKS]
                paper = ""
                if with_paper:
                    index = 0 if k == 1 else 1
                    paper = "   {:.1f} / {:.1f}".format(
                        *(PAPER[setting][(name, a)][index] for a in ATTACKS)
                    )
                print(f"    top-{k:<3}{name:<8}{cells[0]:>16}{cells[1]:>16}{paper}")


def quick_data(args, seed: int):
    """(x_train, y_train, x_test, y_test, source) of the quick protocol, pixels in [0, 1]."""
    if args.dataset == "fashion_mnist":
        x_train, y_train, _, _, x_test, y_test, source = load_fashion_mnist_split(
            seed, train_size=args.train_size, test_size=args.limit
        )
        return x_train, y_train, x_test, y_test, source
    x_train, y_train, _, x_test, y_test = load_digits_split(seed)
    return x_train, y_train, x_test, y_test, "scikit-learn's digits"


def quick(args) -> None:
    epsilons = [0.02, 0.05, 0.1, 0.2]
    per_seed = []
    for seed in range(args.seeds):
        x_train, y_train, x_test, y_test, args.data_source = quick_data(args, seed)
        shape = x_train.shape[1:]
        test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(250)
        initial = {
            1: small_cnn(seed=100 * seed + 1, input_shape=shape).get_weights(),
            2: small_cnn(seed=100 * seed + 2, input_shape=shape).get_weights(),
        }
        models = {}
        for key, alpha, init in (("erm1", 0.0, 1), ("erm2", 0.0, 2), ("mixup", 1.0, 1)):
            print(f"seed {seed}: training {key} (alpha={alpha:g})")
            train_ds = train_pipeline(
                x_train, y_train, alpha=alpha, batch_size=64, seed=100 * seed + init
            )
            models[key], _ = fit_small_cnn(
                initial[init],
                train_ds,
                epochs=args.epochs,
                learning_rate=0.05,
                verbose=0,
                input_shape=shape,
            )
            print(f"  clean test error {error_percent(models[key], x_test, y_test):.1f} %")
        per_seed.append(
            {eps: run_protocol(models, test, eps, (0.0, 1.0), 10, (1, 5)) for eps in epsilons}
        )

    results = {}
    for eps in epsilons:
        summary = {}
        for key in per_seed[0][eps]:
            summary[key] = {
                k: mean_std([s[eps][key][f"adversarial_top{k}"] for s in per_seed]) for k in (1, 5)
            }
            results[f"eps={eps}|{'|'.join(key)}"] = {
                f"adversarial_top{k}": [s[eps][key][f"adversarial_top{k}"] for s in per_seed]
                for k in (1, 5)
            } | {"clean_top1": [s[eps][key]["clean_top1"] for s in per_seed]}
        print_table(
            f"Error (%) under attack, {args.dataset} quick profile, epsilon = {eps} on [0, 1] pixels "
            f"(mean ± std over {args.seeds} seeds)",
            summary,
            (1, 5),
            with_paper=False,
        )
    print(
        "\nPaper (ImageNet ResNet-101, epsilon 4/255), error %: white-box FGSM top-1 ERM 90.7 vs "
        "mixup 75.2; black-box FGSM top-1 ERM 57.0 vs mixup 46.0, I-FGSM ERM 57.3 vs mixup 40.9."
    )
    path = write_results(args.output, vars(args) | {"epsilons": epsilons}, results)
    figures(
        {"config": vars(args) | {"epsilons": epsilons}, "results": results},
        args.output,
        "error_vs_epsilon",
    )
    print(f"wrote {path} and {args.output / 'error_vs_epsilon.png'}")


def markdown(data: dict) -> str:
    """Table 3's layout (top-1 error under attack), one block per epsilon of the quick profile."""
    results, epsilons = data["results"], data["config"]["epsilons"]
    rows = []
    for eps in epsilons:
        for setting in ("white", "black"):
            for attack in ("FGSM", "I-FGSM"):
                cells = [
                    cell(results[f"eps={eps}|{setting}|{name}|{attack}"]["adversarial_top1"])
                    for name in ("ERM", "mixup")
                ]
                rows.append([f"{eps:g}", f"{setting}-box", attack, *cells])
    table = markdown_table(
        [
            "epsilon ([0, 1] scale)",
            "setting",
            "attack",
            "ERM top-1 error (%)",
            "mixup top-1 error (%)",
        ],
        rows,
    )
    config = data["config"]
    if config.get("dataset") != "fashion_mnist":
        return table
    return table + (
        f"\n\nData: {config['data_source']}; the small CNNs trained {config['epochs']} epochs on "
        f"a stratified subset of {config['train_size']:,} training images; "
        f"{format(config['limit'], ',') if config['limit'] else 'every'} test images attacked."
    )


def figures(data: dict, folder: Path, name: str) -> list[Path]:
    path = folder / f"{name}.png"
    plot_quick(data["results"], data["config"]["epsilons"], path, data["config"]["seeds"])
    return [path]


def plot_quick(results: dict, epsilons, path: Path, seeds: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, setting in zip(axes, ("white", "black"), strict=True):
        for name in ("ERM", "mixup"):
            for attack, style in (("FGSM", "-"), ("I-FGSM", "--")):
                values = [
                    results[f"eps={eps}|{setting}|{name}|{attack}"]["adversarial_top1"]
                    for eps in epsilons
                ]
                means = [np.mean(v) for v in values]
                stds = [np.std(v, ddof=1) if len(v) > 1 else 0 for v in values]
                ax.errorbar(
                    epsilons,
                    means,
                    yerr=stds,
                    linestyle=style,
                    marker="o",
                    capsize=3,
                    label=f"{name} {attack}",
                )
        ax.set(
            xlabel="epsilon ([0, 1] pixel scale)", title=f"{setting}-box, top-1 error", xscale="log"
        )
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"error under attack (%), mean ± std, {seeds} seeds")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def full(args) -> None:
    missing = [flag for flag in ("erm1", "erm2", "mixup") if getattr(args, flag) is None]
    if missing:
        raise SystemExit(
            f"full scale needs --erm1, --erm2 and --mixup checkpoints; missing: {missing} (or use --quick)"
        )
    models = {
        key: keras.models.load_model(getattr(args, key), compile=False)
        for key in ("erm1", "erm2", "mixup")
    }
    dataset = imagenet_validation(args.data_dir, args.batch_size, args.limit)
    rows = run_protocol(
        models, dataset, args.epsilon, (0.0, 255.0), args.steps, (1, 5), verbose=True
    )
    summary = {
        key: {k: f"{value[f'adversarial_top{k}']:.1f}" for k in (1, 5)}
        for key, value in rows.items()
    }
    print_table(
        f"Error (%) under attack, ImageNet validation, epsilon {args.epsilon} of 255",
        summary,
        (1, 5),
        with_paper=True,
    )
    path = write_results(
        args.output, vars(args), {"|".join(key): value for key, value in rows.items()}
    )
    print(f"wrote {path}")


def main(argv=None) -> None:
    parser = argument_parser(__doc__)
    add_quick_flag(parser, {}, "small CNNs trained here")
    parser.add_argument(
        "--dataset",
        choices=("digits", "fashion_mnist"),
        default="digits",
        help="quick profile: scikit-learn's digits or Fashion-MNIST's real images",
    )
    parser.add_argument(
        "--train-size", type=int, default=5000, help="fashion_mnist: training images (stratified)"
    )
    parser.add_argument("--erm1", type=Path, help="full scale: ERM model 1 (.keras)")
    parser.add_argument("--erm2", type=Path, help="full scale: ERM model 2 (.keras)")
    parser.add_argument("--mixup", type=Path, help="full scale: the mixup model (.keras)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="TFDS data directory with imagenet2012"
    )
    parser.add_argument(
        "--epsilon", type=float, default=4.0, help="full scale: on the [0, 255] pixel scale"
    )
    parser.add_argument("--steps", type=int, default=10, help="I-FGSM steps")
    parser.add_argument("--batch-size", type=int, default=64, help="evaluation batch size")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only this many images")
    parser.add_argument("--seeds", type=int, default=3, help="quick profile: seeds")
    parser.add_argument("--epochs", type=int, default=30, help="quick profile: training epochs")
    parser.add_argument("--output", type=Path, default=Path("runs/table3"), help="output folder")
    args = parse_with_quick(parser, argv, {})
    quick(args) if args.quick else full(args)


if __name__ == "__main__":
    main()

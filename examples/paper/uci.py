"""Table 4: ERM vs mixup on UCI tabular classification problems.

The paper's setting: an MLP with two hidden layers of 128 ReLU units, Adam with
default parameters, 10 epochs of minibatches of 16. The paper does not state
alpha, the split or the preprocessing; here: alpha 1 (`--alpha`), a stratified
80 / 20 split per seed, features standardized with the training statistics
(missing values set to the training mean), ERM and mixup from the same initial
weights on the same split, several seeds (mean ± std of the test error).

Mixup on tabular features is the same `MixupTransform` as for images: rank-2
features `[batch, num_features]` (which `keras.layers.MixUp` rejects).

Data: Iris, wine and breast_cancer ship with scikit-learn (offline). Abalone,
Arcene, Arrhythmia, HTRU2 and Phishing are downloaded from OpenML on first use
and cached in --data-home; without internet access they fail with a clear error.
(The download path could not be exercised on the offline machine this was written on.)

Each data set's ERM and mixup errors are paired by seed (same split, same initial
weights); the Wilcoxon signed-rank test on the pairs says whether the difference is
significant at the 5 % level.

    python -m examples.paper.uci --quick --output runs/uci-quick    # iris, wine, breast_cancer
    python -m examples.paper.uci --datasets abalone,arcene,arrhythmia,htru2,iris,phishing
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
from keras_mixup import MixupTransform

# Table 4 of the paper: test error (%) ERM, mixup.
PAPER_TABLE4 = {
    "abalone": (74.0, 73.6),
    "arcene": (57.6, 48.0),
    "arrhythmia": (56.6, 46.3),
    "htru2": (2.0, 2.0),
    "iris": (21.3, 17.3),
    "phishing": (16.3, 15.2),
}
OFFLINE = {"iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer"}
# OpenML data set ids (the UCI data sets as OpenML hosts them).
OPENML = {"abalone": 183, "arcene": 1458, "arrhythmia": 5, "htru2": 45557, "phishing": 4534}


def load(name: str, data_home: Path | None):
    """Features (float32, NaN for missing values) and integer class ids."""
    import sklearn.datasets

    if name in OFFLINE:
        bunch = getattr(sklearn.datasets, OFFLINE[name])()
        x, y = bunch.data, bunch.target
    elif name in OPENML:
        try:
            # as_frame=False: no pandas needed; nominal features come back as category codes.
            bunch = sklearn.datasets.fetch_openml(
                data_id=OPENML[name], data_home=data_home, as_frame=False, parser="liac-arff"
            )
        except Exception as error:  # network errors come in many types
            raise SystemExit(
                f"could not download {name!r} (OpenML data set {OPENML[name]}): {error}. "
                f"It needs internet access once (then it is cached in --data-home); the "
                f"offline sets are {sorted(OFFLINE)} (--quick)."
            ) from error
        data = bunch.data.toarray() if hasattr(bunch.data, "toarray") else bunch.data
        x = np.asarray(data, dtype="float64")
        _, y = np.unique(np.asarray(bunch.target).astype(str), return_inverse=True)
    else:
        raise SystemExit(f"unknown data set {name!r}; choose from {sorted(OFFLINE | OPENML)}")
    return np.asarray(x, "float32"), np.asarray(y, "int64")


def split(x, y, seed: int):
    """Stratified 80 / 20 split, standardized and mean-imputed with training statistics."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=seed
    )
    mean = np.nanmean(x_train, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.nanstd(x_train, axis=0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)

    def prepare(part):
        part = np.where(np.isnan(part), mean, part)
        return ((part - mean) / std).astype("float32")

    return prepare(x_train), y_train, prepare(x_test), y_test


def mlp(num_features: int, num_classes: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((num_features,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(num_classes),
        ]
    )


def run_dataset(name: str, args) -> dict:
    x, y = load(name, args.data_home)
    num_classes = int(y.max()) + 1
    errors = {"ERM": [], "mixup": []}
    for seed in range(args.seed, args.seed + args.seeds):
        x_train, y_train, x_test, y_test = split(x, y, seed)
        initial = mlp(x.shape[1], num_classes, seed).get_weights()
        for method, alpha in (("ERM", 0.0), ("mixup", args.alpha)):
            model = mlp(x.shape[1], num_classes, seed)
            model.set_weights(initial)
            model.compile(
                optimizer=keras.optimizers.Adam(),
                loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            )
            train = (
                tf.data.Dataset.from_tensor_slices((x_train, y_train))
                .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
                .batch(args.batch_size)
                .apply(MixupTransform(alpha, num_classes=num_classes, seed=seed))
            )
            model.fit(train, epochs=args.epochs, verbose=0, shuffle=False)
            predictions = np.argmax(model.predict(x_test, verbose=0, batch_size=1024), axis=1)
            errors[method].append(100.0 * float(np.mean(predictions != y_test)))
    print(
        f"{name}: {len(x)} examples, {x.shape[1]} features, {num_classes} classes; test error "
        f"ERM {mean_std(errors['ERM'])} %, mixup {mean_std(errors['mixup'])} %",
        flush=True,
    )
    errors["wilcoxon_p"] = paired_test(errors["ERM"], errors["mixup"])
    errors["shape"] = {"examples": len(x), "features": int(x.shape[1]), "classes": num_classes}
    return errors


def paired_test(erm, mixup) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value of the per-seed differences (None when
    every pair is tied, where the test is undefined: no difference at all)."""
    from scipy import stats

    differences = np.asarray(erm) - np.asarray(mixup)
    if not np.any(differences):
        return None
    return float(stats.wilcoxon(erm, mixup, zero_method="zsplit").pvalue)


QUICK = {"datasets": "iris,wine,breast_cancer", "seeds": 10}


def main(argv=None) -> dict:
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--datasets",
        default="abalone,arcene,arrhythmia,htru2,iris,phishing",
        help="comma-separated data sets (offline: iris, wine, breast_cancer; others from OpenML)",
    )
    add_quick_flag(parser, QUICK, "the offline scikit-learn sets")
    parser.add_argument("--alpha", type=float, default=1.0, help="mixup alpha")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (paper: 10)")
    parser.add_argument("--batch-size", type=int, default=16, help="minibatch size (paper: 16)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds: splits and initial weights")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--data-home", type=Path, default=None, help="OpenML cache directory")
    parser.add_argument("--output", type=Path, default=Path("runs/uci"), help="output folder")
    args = parse_with_quick(parser, argv, QUICK)
    names = args.datasets.split(",")

    results = {name: run_dataset(name, args) for name in names}
    print(f"\nTable 4: test error (%), mean ± std over {args.seeds} seeds (paper: one number)")
    print(f"{'data set':<16}{'ERM':>14}{'mixup':>14}{'Wilcoxon p':>12}   paper ERM / mixup")
    for name, errors in results.items():
        paper = PAPER_TABLE4.get(name)
        paper_cell = f"{paper[0]} / {paper[1]}" if paper else "(not in the paper)"
        p_value = errors["wilcoxon_p"]
        p_cell = "ties" if p_value is None else f"{p_value:.3f}"
        print(
            f"{name:<16}{mean_std(errors['ERM']):>14}{mean_std(errors['mixup']):>14}"
            f"{p_cell:>12}   {paper_cell}"
        )
    path = write_results(args.output, vars(args), results)
    print(f"wrote {path}")
    return results


def markdown(data: dict) -> str:
    """Table 4 from a results file: per data set, errors over seeds and the paired test."""
    rows = []
    for name, errors in data["results"].items():
        p_value = errors["wilcoxon_p"]
        verdict = (
            "no difference (all pairs tied)"
            if p_value is None
            else f"{p_value:.3f} ({'significant' if p_value < 0.05 else 'not significant'} at 5 %)"
        )
        paper = PAPER_TABLE4.get(name)
        shape = errors["shape"]
        rows.append([
            f"{name} ({shape['examples']} examples, {shape['features']} features, {shape['classes']} classes)",
            cell(errors["ERM"]), cell(errors["mixup"]), verdict,
            "" if paper is None else f"{paper[0]} / {paper[1]}",
        ])  # fmt: skip
    return markdown_table(
        [
            "data set",
            "ERM test error (%)",
            "mixup test error (%)",
            "Wilcoxon p",
            "paper ERM / mixup",
        ],
        rows,
    )


if __name__ == "__main__":
    main()

"""Diagnostics for mixup-trained models: behaviour in between examples (Figure 2) and calibration.

- `in_between`: for random pairs of examples and lambda on a grid, the share of
  predictions at `lam * x_i + (1 - lam) * x_j` that are neither `y_i` nor `y_j`
  (a "miss"), and the mean norm of the loss gradient with respect to that input.
- `expected_calibration_error` and `reliability_diagram`: how far confidence is
  from accuracy (Guo et al., 2017), which mixup tends to improve.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core import labels as label_rules
from keras_mixup._src.core.validation import validate_pairs_pool, validate_probabilities
from keras_mixup._src.paper.gradients import compiled, value_and_input_gradient
from keras_mixup._src.paper.models import outputs_logits

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def probabilities(
    model: keras.Model,
    x: Any,  # what `model.predict` takes: arrays, tensors, a dataset, ...
    batch_size: int = 512,
) -> np.ndarray:
    """Class probabilities of `model` on `x`, applying softmax if the model outputs logits.

    Args:
        model: a classifier whose output is `[N, C]` scores (probabilities or logits).
        x: inputs `[N, ...]`, as `model.predict` takes them.
        batch_size: the prediction batch size.

    Returns:
        NumPy `[N, C]` probabilities, in the model's output dtype (float32 unless
        its policy says otherwise).
    """
    scores = model.predict(x, batch_size=batch_size, verbose=0)
    return (
        keras.ops.convert_to_numpy(keras.ops.softmax(scores)) if outputs_logits(model) else scores
    )


def in_between(
    model: keras.Model,
    x: ArrayLike,
    y: ArrayLike,
    *,
    num_pairs: int = 1000,
    lambdas: ArrayLike | None = None,
    seed: int = 0,
    from_logits: bool | None = None,
) -> dict:
    """Prediction misses and input-gradient norms in between random pairs of examples.

    Args:
        model: a classifier.
        x: inputs, shape `[N, ...]`.
        y: integer class ids, shape `[N]`.
        num_pairs: how many random pairs `(i, j)`, `i != j`, to evaluate.
        lambdas: the interpolation weights (default 0, 0.1, ..., 1).
        seed: seed of the pair draw.
        from_logits: whether the model outputs logits; None infers it.

    Returns:
        `{"lambdas": [L], "miss_rate": [L] (percent), "gradient_norm": [L]}`; the
        gradient is that of the cross-entropy against the mixed target
        `lam * onehot(y_i) + (1 - lam) * onehot(y_j)` with respect to the input.

    Raises:
        ValueError: fewer than two examples, or a class id outside
            `[0, number of the model's outputs)`.
    """
    x = np.asarray(x, np.float32)
    y = np.asarray(y)
    validate_pairs_pool(x)
    lambdas = np.linspace(0.0, 1.0, 11) if lambdas is None else np.asarray(lambdas, np.float32)
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(x), num_pairs)
    second = (first + rng.integers(1, len(x), num_pairs)) % len(x)  # j != i
    from_logits = outputs_logits(model) if from_logits is None else from_logits
    num_classes = model.output_shape[-1]
    label_rules.check_ids(y, num_classes, name="y", ops=NUMPY)
    one_hot = np.asarray(label_rules.to_float_targets(y, num_classes, name="y", ops=NUMPY))
    onehot_i, onehot_j = one_hot[first], one_hot[second]

    def measure(lam):
        inputs = lam * x[first] + (1.0 - lam) * x[second]
        targets = lam * onehot_i + (1.0 - lam) * onehot_j

        def scores_of(batch):
            return keras.ops.cast(model(batch, training=False), "float32")

        def loss(batch):
            per_example = keras.losses.categorical_crossentropy(
                targets, scores_of(batch), from_logits=from_logits
            )
            return keras.ops.sum(per_example)

        _, gradient = value_and_input_gradient(loss, inputs)
        norms = keras.ops.norm(keras.ops.reshape(gradient, (num_pairs, -1)), axis=1)
        predicted = keras.ops.argmax(scores_of(inputs), axis=-1)
        miss = keras.ops.logical_and(predicted != y[first], predicted != y[second])
        return keras.ops.mean(keras.ops.cast(miss, "float32")), keras.ops.mean(norms)

    measure = compiled(measure)
    results = [measure(keras.ops.convert_to_tensor(np.float32(lam))) for lam in lambdas]
    return {
        "lambdas": lambdas,
        "miss_rate": 100.0 * np.array([float(keras.ops.convert_to_numpy(m)) for m, _ in results]),
        "gradient_norm": np.array([float(keras.ops.convert_to_numpy(n)) for _, n in results]),
    }


def plot_in_between(results: dict, path: str | os.PathLike) -> None:
    """Both Figure 2 panels for several models, saved as a PNG at `path`: miss rate (%)
    and gradient norm against lambda; `results` maps a name to `in_between`'s output.

    Raises:
        ImportError: matplotlib is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, result in results.items():
        left.plot(result["lambdas"], result["miss_rate"], marker="o", label=name)
        right.plot(result["lambdas"], result["gradient_norm"], marker="o", label=name)
    left.set(
        xlabel="lambda (weight of x_i)",
        ylabel="miss rate (%)",
        title="prediction not in {y_i, y_j}",
    )
    right.set(
        xlabel="lambda (weight of x_i)", ylabel="mean ||d loss / d x||", title="input-gradient norm"
    )
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _bins(probs, labels, num_bins):
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels)
    validate_probabilities(probs, labels, num_bins)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, num_bins - 1)
    counts = np.bincount(index, minlength=num_bins)
    mean_confidence = np.bincount(index, confidence, num_bins) / np.maximum(counts, 1)
    accuracy = np.bincount(index, correct.astype(float), num_bins) / np.maximum(counts, 1)
    return edges, counts, mean_confidence, accuracy


def reliability_bins(probabilities: ArrayLike, labels: ArrayLike, num_bins: int = 15) -> dict:
    """Equal-width confidence bins: their centres, counts, mean confidence and accuracy
    (the data of a reliability diagram).

    Args:
        probabilities: float `[N, C]`, each row a class distribution (e.g.
            `probabilities(model, x)`).
        labels: integer class ids `[N]`.
        num_bins: how many equal-width confidence bins over [0, 1] (an integer >= 1).

    Returns:
        `{"centres", "counts", "confidence", "accuracy"}`, NumPy arrays `[num_bins]`
        (confidence and accuracy as fractions; 0 in empty bins).

    Raises:
        ValueError: `probabilities` not `[N, C]` or not as long as `labels`; `num_bins`
            not an integer >= 1.
    """
    edges, counts, confidence, accuracy = _bins(probabilities, labels, num_bins)
    return {
        "centres": (edges[:-1] + edges[1:]) / 2,
        "counts": counts,
        "confidence": confidence,
        "accuracy": accuracy,
    }


def expected_calibration_error(
    probabilities: ArrayLike, labels: ArrayLike, num_bins: int = 15
) -> float:
    """ECE in percent: the count-weighted mean of |accuracy - confidence| over
    equal-width confidence bins (Guo et al., "On Calibration of Modern Neural
    Networks", ICML 2017).

    Args:
        probabilities: float `[N, C]`, each row a class distribution (e.g.
            `probabilities(model, x)`).
        labels: integer class ids `[N]`.
        num_bins: how many equal-width confidence bins over [0, 1] (an integer >= 1).

    Returns:
        A float, percent.

    Raises:
        ValueError: `probabilities` not `[N, C]` or not as long as `labels`; `num_bins`
            not an integer >= 1.

    Examples:
        >>> expected_calibration_error(np.array([[0.9, 0.1], [0.8, 0.2]]), np.array([0, 1]), num_bins=10)
        45.0
    """
    return _ece(*_bins(probabilities, labels, num_bins)[1:])


def _ece(counts, confidence, accuracy) -> float:
    return float(100.0 * np.sum(counts * np.abs(accuracy - confidence)) / max(counts.sum(), 1))


def reliability_diagram(
    probabilities: ArrayLike,
    labels: ArrayLike,
    path: str | os.PathLike,
    *,
    num_bins: int = 15,
    title: str = "",
) -> dict:
    """Saves a reliability diagram (accuracy per confidence bin against the diagonal)
    as a PNG at `path`, its title ending in the ECE.

    Args:
        probabilities: float `[N, C]`, each row a class distribution (e.g.
            `probabilities(model, x)`).
        labels: integer class ids `[N]`.
        num_bins: how many equal-width confidence bins over [0, 1] (an integer >= 1).
        path: where the PNG goes.
        title: the start of the plot's title.

    Returns:
        `{"edges": [num_bins + 1], "counts", "confidence", "accuracy": [num_bins],
        "ece": percent}`.

    Raises:
        ValueError: `probabilities` not `[N, C]` or not as long as `labels`; `num_bins`
            not an integer >= 1.
        ImportError: matplotlib is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges, counts, confidence, accuracy = _bins(probabilities, labels, num_bins)
    ece = _ece(counts, confidence, accuracy)
    centers = (edges[:-1] + edges[1:]) / 2
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    filled = counts > 0
    ax.bar(
        centers[filled],
        accuracy[filled],
        width=1.0 / num_bins,
        edgecolor="black",
        alpha=0.7,
        label="accuracy",
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.set(
        xlabel="confidence",
        ylabel="accuracy",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"{title} ECE {ece:.1f} %".strip(),
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return {
        "edges": edges,
        "counts": counts,
        "confidence": confidence,
        "accuracy": accuracy,
        "ece": ece,
    }

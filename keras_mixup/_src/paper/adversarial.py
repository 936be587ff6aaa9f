"""FGSM, I-FGSM and the white-box / black-box evaluator of the paper's Table 3, with
`keras.ops` and the backend's input gradient (`gradients.py`); what epsilon and the
input range mean: the public module `keras_mixup.adversarial`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import keras
import numpy as np

from keras_mixup._src.bindings.ops import KERAS, batch_count
from keras_mixup._src.core import labels as label_rules
from keras_mixup._src.core.validation import validate_attack, validate_choice
from keras_mixup._src.paper.gradients import compiled, value_and_input_gradient
from keras_mixup._src.paper.models import outputs_logits


def _targets(y, num_classes):
    # out-of-range ids raise (else NaN targets, NaN adversarial inputs)
    return label_rules.targets_for(y, num_classes, name="y", ops=KERAS)


def _num_classes(model):
    return model.output_shape[-1] if hasattr(model, "output_shape") else None


def _gradient(model, x, targets, from_logits):
    def loss(inputs):
        predictions = keras.ops.cast(model(inputs, training=False), "float32")
        per_example = keras.losses.categorical_crossentropy(
            targets, predictions, from_logits=from_logits
        )
        return keras.ops.sum(per_example)

    return value_and_input_gradient(loss, x)[1]


def _project(adversarial, original, epsilon, clip):
    adversarial = keras.ops.clip(adversarial, original - epsilon, original + epsilon)
    if clip is not None:
        adversarial = keras.ops.clip(adversarial, clip[0], clip[1])
    return adversarial


def fgsm(
    model: keras.Model | Callable,
    x: Any,  # an array or a tensor of the Keras backend
    y: Any,
    epsilon: float,
    *,
    from_logits: bool | None = None,
    clip: tuple[float, float] | None = (0.0, 1.0),
):
    """Fast gradient sign method: `x + epsilon * sign(grad_x loss(model(x), y))`, clipped.

    Args:
        model: a Keras model (or callable) mapping inputs to class scores.
        x: a batch of inputs (float), array or backend tensor.
        y: class ids `[B]` / `[B, 1]`, or one-hot / probability targets `[B, C]`.
        epsilon: the L-infinity size of the perturbation, in input units (>= 0).
        from_logits: whether the model outputs logits; None infers it from the
            model's last activation (`outputs_logits`).
        clip: the valid input range `(low, high)`, or None for no clipping.

    Returns:
        The adversarial batch, a backend tensor with the shape and dtype of `x`.

    Raises:
        ValueError: a negative or infinite `epsilon`, a `clip` that is not
            `(low, high)` with low < high, a class id outside `[0, C)`.

    Examples:
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> x = np.full((2, 4), 0.5, "float32")
        >>> x_adv = fgsm(model, x, np.array([0, 2]), epsilon=0.1)
        >>> float(np.max(np.abs(keras.ops.convert_to_numpy(x_adv) - x))) <= 0.1 + 1e-6
        True
    """
    return i_fgsm(model, x, y, epsilon, steps=1, from_logits=from_logits, clip=clip)


def i_fgsm(
    model: keras.Model | Callable,
    x: Any,  # an array or a tensor of the Keras backend
    y: Any,
    epsilon: float,
    steps: int = 10,
    *,
    from_logits: bool | None = None,
    clip: tuple[float, float] | None = (0.0, 1.0),
):
    """Iterative FGSM: `steps` signed-gradient steps of `epsilon / steps`, each followed by
    projection onto the epsilon ball around `x` and the valid range `clip`.

    Args: as `fgsm`, plus `steps` (10 in the paper).

    Returns:
        The adversarial batch, a backend tensor with the shape and dtype of `x`.

    Raises:
        ValueError: as `fgsm`, and `steps` < 1.
    """
    validate_attack(epsilon, clip, steps)
    x = keras.ops.convert_to_tensor(x)
    dtype = x.dtype
    original = keras.ops.cast(x, "float32")
    from_logits = outputs_logits(model) if from_logits is None else from_logits
    targets = _targets(y, _num_classes(model))
    step_size = epsilon / steps
    adversarial = original
    for _ in range(steps):
        gradient = _gradient(model, adversarial, targets, from_logits)
        adversarial = _project(
            adversarial + step_size * keras.ops.sign(gradient), original, epsilon, clip
        )
    return keras.ops.cast(adversarial, dtype)


def _top_k_errors(scores, labels, ks) -> dict:
    labels = keras.ops.cast(keras.ops.reshape(labels, (-1,)), "int32")
    scores = keras.ops.cast(scores, "float32")
    errors = {}
    for k in ks:
        hit = keras.ops.in_top_k(labels, scores, k=min(k, scores.shape[-1]))
        errors[k] = keras.ops.sum(1.0 - keras.ops.cast(hit, "float32"))
    return errors


def evaluate_adversarial(
    model: keras.Model | Callable,
    dataset: Iterable,
    epsilon: float,
    *,
    attack: str = "fgsm",
    source_model: keras.Model | Callable | None = None,
    steps: int = 10,
    top_k: Sequence[int] = (1, 5),
    from_logits: bool | None = None,
    clip: tuple[float, float] | None = (0.0, 1.0),
    verbose: bool = True,
) -> dict:
    """Clean and adversarial top-k error (%) of `model` on a dataset.

    White-box (default): the examples are crafted on `model` itself. Black-box:
    pass `source_model`; the examples are crafted on it and `model` is evaluated.

    Args:
        model: the model evaluated.
        dataset: batches of `(x, class_ids)`: a `tf.data.Dataset`, a Grain dataset
            or any iterable of arrays.
        epsilon: attack size in input units.
        attack: "fgsm" or "i_fgsm".
        source_model: model the attack is crafted on (None: `model`, white-box).
        steps: I-FGSM steps.
        top_k: which top-k errors to report.
        from_logits: for the source model; None infers it.
        clip: valid input range.
        verbose: show a progress bar.

    Returns:
        `{"clean_top1": ..., "adversarial_top1": ..., "clean_top5": ..., ...,
        "examples": n}` with errors in percent.

    Raises:
        ValueError: an unknown `attack`, or invalid attack arguments.
    """
    attacks = {"fgsm": fgsm, "i_fgsm": lambda *a, **k: i_fgsm(*a, steps=steps, **k)}
    validate_choice(attack, "attack", attacks)
    validate_attack(epsilon, clip, steps)
    source = model if source_model is None else source_model
    craft = compiled(
        lambda x, y: attacks[attack](source, x, y, epsilon, from_logits=from_logits, clip=clip)
    )
    predict = compiled(lambda x: model(x, training=False))
    totals = {f"{kind}_top{k}": 0.0 for kind in ("clean", "adversarial") for k in top_k}
    count = step = 0
    progress = keras.utils.Progbar(batch_count(dataset), verbose=1 if verbose else 0)
    for step, (x, labels) in enumerate(dataset, start=1):
        x = keras.ops.convert_to_tensor(np.asarray(x))
        labels = keras.ops.convert_to_tensor(np.asarray(labels))
        x_adv = craft(x, labels)
        for kind, inputs in (("clean", x), ("adversarial", x_adv)):
            for k, value in _top_k_errors(predict(inputs), labels, top_k).items():
                totals[f"{kind}_top{k}"] += float(keras.ops.convert_to_numpy(value))
        count += int(labels.shape[0])
        progress.update(step, finalize=False)  # the last one below, whatever the length
    if step:
        progress.update(step, finalize=True)  # the final count, and the end of the line
    return {name: 100.0 * value / count for name, value in totals.items()} | {"examples": count}

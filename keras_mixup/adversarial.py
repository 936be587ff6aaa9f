"""FGSM and I-FGSM attacks and a white-box / black-box evaluator, Keras-native (Table 3).

Attacks are untargeted and work in the model's input units: `epsilon` is the
largest change of any input value (L-infinity), `clip` the valid input range.
For images in [0, 255] the paper's "epsilon = 4" is `epsilon=4.0, clip=(0, 255)`;
for images scaled to [0, 1] it is `epsilon=4 / 255, clip=(0, 1)`; for inputs
normalized outside the model ((x - mean) / std) it is `4 / 255 / std` per channel,
which a scalar cannot express: put the normalization inside the model instead
(a `keras.layers.Normalization` or `Rescaling` first layer) and attack raw pixels.

References:
    - Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial
      Examples", ICLR 2015 (FGSM).
    - Kurakin, Goodfellow & Bengio, "Adversarial examples in the physical world",
      2017 (iterative FGSM).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_mixup.validation import validate_attack, validate_choice


def outputs_logits(model: keras.Model) -> bool:
    """Whether `model` outputs logits (True) or probabilities (False).

    Probabilities when the last layer is a `Softmax` layer or has a softmax or
    sigmoid activation; logits otherwise.
    """
    last = model.layers[-1] if getattr(model, "layers", None) else model
    if isinstance(last, keras.layers.Softmax):
        return False
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", "")
    return name not in ("softmax", "sigmoid")


def _targets(y, num_classes: int) -> tf.Tensor:
    y = tf.convert_to_tensor(y)
    if y.dtype.is_integer:
        if y.shape.rank == 2 and y.shape[-1] == 1:
            y = tf.squeeze(y, -1)
        return tf.one_hot(y, num_classes, dtype=tf.float32)
    return tf.cast(y, tf.float32)


def _loss_and_gradient(model, x, targets, from_logits):
    with tf.GradientTape() as tape:
        tape.watch(x)
        predictions = tf.cast(model(x, training=False), tf.float32)
        loss = keras.losses.categorical_crossentropy(targets, predictions, from_logits=from_logits)
    return loss, tape.gradient(loss, x)


def fgsm(
    model, x, y, epsilon: float, *, from_logits: bool | None = None, clip=(0.0, 1.0)
) -> tf.Tensor:
    """Fast gradient sign method: `x + epsilon * sign(grad_x loss(model(x), y))`, clipped.

    Args:
        model: a Keras model (or callable) mapping inputs to class scores.
        x: a batch of inputs (float).
        y: class ids `[B]` / `[B, 1]`, or one-hot / probability targets `[B, C]`.
        epsilon: the L-infinity size of the perturbation, in input units (>= 0).
        from_logits: whether the model outputs logits; None infers it from the
            model's last activation (`outputs_logits`).
        clip: the valid input range `(low, high)`, or None for no clipping.

    Returns:
        The adversarial batch, same shape and dtype as `x`.

    Examples:
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> x = np.full((2, 4), 0.5, "float32")
        >>> x_adv = fgsm(model, x, np.array([0, 2]), epsilon=0.1)
        >>> float(np.max(np.abs(x_adv - x))) <= 0.1 + 1e-6
        True
    """
    validate_attack(epsilon, clip)
    x = tf.convert_to_tensor(x)
    dtype = x.dtype
    x = tf.cast(x, tf.float32)
    from_logits = outputs_logits(model) if from_logits is None else from_logits
    targets = _targets(y, model.output_shape[-1] if hasattr(model, "output_shape") else None)
    _, gradient = _loss_and_gradient(model, x, targets, from_logits)
    adversarial = x + epsilon * tf.sign(gradient)
    if clip is not None:
        adversarial = tf.clip_by_value(adversarial, clip[0], clip[1])
    return tf.cast(adversarial, dtype)


def i_fgsm(
    model,
    x,
    y,
    epsilon: float,
    steps: int = 10,
    *,
    from_logits: bool | None = None,
    clip=(0.0, 1.0),
) -> tf.Tensor:
    """Iterative FGSM: `steps` signed-gradient steps of `epsilon / steps`, each followed by
    projection onto the epsilon ball around `x` and the valid range `clip`.

    Args: as `fgsm`, plus `steps` (10 in the paper).

    Returns:
        The adversarial batch, same shape and dtype as `x`.
    """
    validate_attack(epsilon, clip, steps)
    x = tf.convert_to_tensor(x)
    dtype = x.dtype
    original = tf.cast(x, tf.float32)
    from_logits = outputs_logits(model) if from_logits is None else from_logits
    targets = _targets(y, model.output_shape[-1] if hasattr(model, "output_shape") else None)
    step_size = epsilon / steps
    adversarial = original
    for _ in range(steps):
        _, gradient = _loss_and_gradient(model, adversarial, targets, from_logits)
        adversarial = adversarial + step_size * tf.sign(gradient)
        adversarial = tf.clip_by_value(adversarial, original - epsilon, original + epsilon)
        if clip is not None:
            adversarial = tf.clip_by_value(adversarial, clip[0], clip[1])
    return tf.cast(adversarial, dtype)


def _top_k_errors(scores, labels, ks) -> dict:
    labels = tf.cast(labels, tf.int32)
    errors = {}
    for k in ks:
        hit = tf.math.in_top_k(labels, tf.cast(scores, tf.float32), k=min(k, scores.shape[-1]))
        errors[k] = tf.reduce_sum(1.0 - tf.cast(hit, tf.float32))
    return errors


def evaluate_adversarial(
    model,
    dataset,
    epsilon: float,
    *,
    attack: str = "fgsm",
    source_model=None,
    steps: int = 10,
    top_k=(1, 5),
    from_logits: bool | None = None,
    clip=(0.0, 1.0),
    verbose: bool = True,
) -> dict:
    """Clean and adversarial top-k error (%) of `model` on a `tf.data` dataset.

    White-box (default): the examples are crafted on `model` itself. Black-box:
    pass `source_model`; the examples are crafted on it and `model` is evaluated.

    Args:
        model: the model evaluated.
        dataset: batches of `(x, class_ids)`.
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
    """
    attacks = {"fgsm": fgsm, "i_fgsm": lambda *a, **k: i_fgsm(*a, steps=steps, **k)}
    validate_choice(attack, "attack", attacks)
    source = model if source_model is None else source_model
    craft = tf.function(
        lambda x, y: attacks[attack](source, x, y, epsilon, from_logits=from_logits, clip=clip)
    )
    predict = tf.function(lambda x: model(x, training=False))
    totals = {f"{kind}_top{k}": 0.0 for kind in ("clean", "adversarial") for k in top_k}
    count = 0
    cardinality = int(dataset.cardinality())
    progress = keras.utils.Progbar(
        cardinality if cardinality > 0 else None, verbose=1 if verbose else 0
    )
    for step, (x, labels) in enumerate(dataset):
        x_adv = craft(x, labels)
        for kind, inputs in (("clean", x), ("adversarial", x_adv)):
            for k, value in _top_k_errors(predict(inputs), labels, top_k).items():
                totals[f"{kind}_top{k}"] += float(value)
        count += int(tf.shape(labels)[0])
        progress.update(step + 1)
    return {name: 100.0 * value / count for name, value in totals.items()} | {"examples": count}

"""FGSM / I-FGSM against closed forms, the evaluator, in-between diagnostics and calibration."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup.adversarial import evaluate_adversarial, fgsm, i_fgsm, outputs_logits
from keras_mixup.diagnostics import expected_calibration_error, in_between, reliability_diagram

RNG = np.random.default_rng(0)
X = RNG.random((16, 6)).astype("float32")
Y = RNG.integers(0, 4, 16)


def linear_model(activation=None, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation=activation)])
    model.layers[-1].kernel.assign(RNG.normal(size=(6, 4)).astype("float32"))
    return model


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


@pytest.mark.parametrize("activation", [None, "softmax"])
def test_fgsm_on_a_linear_softmax_model_matches_the_closed_form(activation):
    """grad_x CE(softmax(x K + b), y) = (p - y) K^T, so FGSM = x + eps * sign((p - y) K^T)."""
    model = linear_model(activation)
    kernel, bias = (w.numpy() for w in model.layers[-1].weights)
    p = softmax(X @ kernel + bias)
    expected = X + 0.05 * np.sign((p - np.eye(4)[Y]) @ kernel.T)
    out = fgsm(model, X, Y, 0.05, clip=None).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # class ids and one-hot targets give the same attack
    np.testing.assert_allclose(fgsm(model, X, np.eye(4)[Y], 0.05, clip=None).numpy(), out)


def test_from_logits_is_inferred_from_the_last_activation():
    assert outputs_logits(linear_model(None)) is True
    assert outputs_logits(linear_model("softmax")) is False


def test_epsilon_zero_is_the_identity():
    model = linear_model()
    np.testing.assert_array_equal(fgsm(model, X, Y, 0.0).numpy(), X)
    np.testing.assert_array_equal(i_fgsm(model, X, Y, 0.0).numpy(), X)


def test_i_fgsm_stays_in_the_ball_and_the_range_and_reaches_at_least_fgsm_loss():
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(4)]
    )
    epsilon = 0.1
    one_step = fgsm(model, X, Y, epsilon).numpy()
    iterated = i_fgsm(model, X, Y, epsilon, steps=10).numpy()
    for adversarial in (one_step, iterated):
        assert np.all(np.abs(adversarial - X) <= epsilon + 1e-6)
        assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(loss(Y, model(iterated))) >= float(loss(Y, model(one_step))) - 1e-6
    assert float(loss(Y, model(one_step))) > float(loss(Y, model(X)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epsilon": -1.0}, r"epsilon=-1\.0"),
        ({"epsilon": 0.1, "clip": (1, 0)}, r"low < high"),
        ({"epsilon": 0.1, "steps": 0}, r"steps=0"),
    ],
)
def test_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        i_fgsm(linear_model(), X, Y, **kwargs)


def test_evaluator_white_and_black_box():
    model, other = linear_model(seed=0), linear_model(seed=1)
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(5)
    white = evaluate_adversarial(model, dataset, 0.2, top_k=(1, 2), verbose=False)
    assert white["examples"] == 16
    predictions = np.argmax(model.predict(X, verbose=0), axis=1)
    np.testing.assert_allclose(white["clean_top1"], 100 * np.mean(predictions != Y))
    assert white["adversarial_top1"] >= white["clean_top1"]
    assert white["clean_top2"] <= white["clean_top1"]
    black = evaluate_adversarial(
        model, dataset, 0.2, source_model=other, attack="i_fgsm", steps=3, verbose=False
    )
    crafted = i_fgsm(other, X, Y, 0.2, steps=3).numpy()
    expected = 100 * np.mean(np.argmax(model.predict(crafted, verbose=0), axis=1) != Y)
    np.testing.assert_allclose(black["adversarial_top1"], expected, atol=1e-4)
    with pytest.raises(ValueError, match="attack"):
        evaluate_adversarial(model, dataset, 0.1, attack="pgd", verbose=False)


def test_in_between_endpoints_and_shapes():
    model = linear_model()
    result = in_between(model, X, Y, num_pairs=50, lambdas=[0.0, 0.5, 1.0], seed=0)
    assert result["miss_rate"].shape == (3,) and result["gradient_norm"].shape == (3,)
    # at lambda = 1 the input is x_i itself: a miss is a prediction that is neither y_i nor y_j
    assert np.all((result["miss_rate"] >= 0) & (result["miss_rate"] <= 100))
    assert np.all(result["gradient_norm"] > 0)
    with pytest.raises(ValueError, match="at least 2"):
        in_between(model, X[:1], Y[:1])
    with pytest.raises(ValueError, match=r"`y`.*\[0, "):  # was the last class, silently
        in_between(model, X, np.where(np.arange(len(Y)) == 3, -1, Y), num_pairs=5)


def test_in_between_miss_rate_for_a_constant_classifier():
    """A model that always predicts class 3 misses exactly the pairs where neither label is 3."""
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
    model.layers[-1].kernel.assign(np.zeros((6, 4), "float32"))
    model.layers[-1].bias.assign(np.array([0, 0, 0, 5], "float32"))
    result = in_between(model, X, Y, num_pairs=200, lambdas=[0.3], seed=3)
    rng = np.random.default_rng(3)
    first = rng.integers(0, 16, 200)
    second = (first + rng.integers(1, 16, 200)) % 16
    expected = 100 * np.mean((Y[first] != 3) & (Y[second] != 3))
    np.testing.assert_allclose(result["miss_rate"][0], expected, atol=1e-4)


def test_expected_calibration_error_closed_forms(tmp_path):
    # Two bins used: confidence 0.9 correct (gap 0.1) and 0.8 wrong (gap 0.8): ECE = 45 %.
    probs = np.array([[0.9, 0.1], [0.8, 0.2]])
    assert expected_calibration_error(probs, np.array([0, 1]), num_bins=10) == pytest.approx(45.0)
    # Perfectly calibrated: confidence 0.75, three of four correct.
    probs = np.tile([0.75, 0.25], (4, 1))
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1]), num_bins=10) == pytest.approx(
        0.0
    )
    stats = reliability_diagram(probs, np.array([0, 0, 0, 1]), tmp_path / "r.png", num_bins=10)
    assert stats["counts"].sum() == 4 and (tmp_path / "r.png").stat().st_size > 5000
    with pytest.raises(ValueError, match="matching"):
        expected_calibration_error(probs, np.array([0, 1]))


@pytest.mark.parametrize("attack", [fgsm, i_fgsm])
def test_a_class_id_out_of_range_raises_instead_of_nan_inputs(attack):
    model = linear_model()
    x = np.full((2, X.shape[1]), 0.5, "float32")
    with pytest.raises(ValueError, match=r"`y`"):
        attack(model, x, np.array([0, model.output_shape[-1]]), epsilon=0.1)

"""Mixup-aware prediction (Carratino et al. 2020): theta_bar, the input mean, the predictor."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import input_mean, mixup_aware_predictor, sample_mix_params, theta_bar

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("alpha", [0.05, 0.2, 1.0, 4.0, 32.0])
def test_theta_bar_matches_monte_carlo_with_the_librarys_sampler(alpha):
    lam = sample_mix_params(tf.constant([4, int(alpha * 100)]), 200_000, alpha, True).mix_weight
    theta = np.maximum(lam.numpy(), 1 - lam.numpy()).astype(np.float64)
    standard_error = theta.std() / np.sqrt(theta.size)
    assert abs(theta.mean() - theta_bar(alpha)) < 5 * standard_error


def test_theta_bar_values_and_limits():
    assert theta_bar(0.0) == 1.0
    assert theta_bar(1.0) == pytest.approx(0.75, abs=1e-12)
    assert theta_bar(1e-6) == pytest.approx(1.0, abs=1e-5)  # alpha -> 0: no mixing
    assert theta_bar(1e6) == pytest.approx(0.5, abs=1e-3)  # alpha -> inf: lambda = 1/2
    values = [theta_bar(a) for a in (0.1, 0.4, 1, 4, 16)]
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_mixed": 3}, r"derived for mixup of pairs; got num_mixed=3"),
        ({"cutmix_alpha": 1.0}, r"CutMix \(cutmix_alpha=1.0\) is not a shrink .* not apply"),
        ({"fmix_alpha": 0.5}, r"FMix \(fmix_alpha=0.5\) is not a shrink of the inputs"),
        ({"smoothmix_alpha": 1}, r"SmoothMix \(smoothmix_alpha=1\) is not a shrink"),
        ({"resizemix_alpha": 1}, r"ResizeMix \(resizemix_alpha=1\) is not a shrink"),
    ],
)
def test_theta_bar_raises_for_the_methods_that_paste_pixels_and_k_way(kwargs, match):
    with pytest.raises(ValueError, match=match):
        theta_bar(1.0, **kwargs)
    assert theta_bar(1.0, cutmix_alpha=0.0, gridmix_alpha=0) == 0.75  # off: no change
    with pytest.raises(TypeError, match="unexpected keyword 'mixup_alpha'.*cutmix_alpha"):
        theta_bar(1.0, mixup_alpha=1.0)


def test_the_predictor_recovers_the_untransformed_least_squares_predictions():
    """A linear model at the optimum of the transformed data (closed form): wrapped, it
    predicts what least squares on the untransformed data predicts."""
    x = RNG.normal(2.0, 1.5, size=(500, 3)).astype("float64")
    y = x @ np.array([0.5, -1.0, 2.0]) + 0.3 + RNG.normal(0, 0.5, 500)
    alpha = 1.0
    shrink = theta_bar(alpha)
    x_bar, y_bar = x.mean(axis=0), y.mean()
    x_t, y_t = x_bar + shrink * (x - x_bar), y_bar + shrink * (y - y_bar)  # transformed data
    design = np.c_[x_t, np.ones(len(x_t))]
    coefficients = np.linalg.lstsq(design, y_t, rcond=None)[0]  # the transformed-data optimum
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.layers[0].set_weights(
        [coefficients[:3, None].astype("float32"), coefficients[3:].astype("float32")]
    )
    predictor = mixup_aware_predictor(
        model, input_mean=x_bar, alpha=alpha, output="linear", target_mean=[y_bar]
    )
    plain = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0]
    expected = np.c_[x, np.ones(len(x))] @ plain
    got = predictor.predict(x.astype("float32"), verbose=0)[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # without the map back, the model predicts the shrunk targets of shrunk inputs
    shrunk = model.predict((x_bar + shrink * (x - x_bar)).astype("float32"), verbose=0)[:, 0]
    np.testing.assert_allclose(shrunk, y_bar + shrink * (expected - y_bar), rtol=1e-4, atol=1e-4)


def _logit_twins():
    """A logits model and the same model ending in a softmax (same weights)."""
    keras.utils.set_random_seed(1)
    logits = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5)])
    probabilities = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(5, activation="softmax")]
    )
    probabilities.set_weights(logits.get_weights())
    return logits, probabilities


def test_softmax_outputs_are_mapped_as_scaled_logits():
    logits, probabilities = _logit_twins()
    x = RNG.normal(size=(16, 4)).astype("float32")
    mean = RNG.normal(size=4).astype("float32")
    on_logits = mixup_aware_predictor(logits, input_mean=mean, alpha=1.0, output="logits")
    on_softmax = mixup_aware_predictor(probabilities, input_mean=mean, alpha=1.0)  # auto: softmax
    expected = keras.ops.softmax(on_logits.predict(x, verbose=0))
    np.testing.assert_allclose(on_softmax.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    z = logits.predict(mean + 0.75 * (x - mean), verbose=0)
    np.testing.assert_allclose(on_logits.predict(x, verbose=0), z / 0.75, rtol=1e-5)


def test_logit_scaling_is_the_logit_map_up_to_the_softmax_shift_only_for_a_uniform_mean():
    z = RNG.normal(size=(8, 5)).astype("float32")
    shrink = 0.75
    uniform_mean = np.full(5, 0.7, "float32")
    varying_mean = np.array([1.0, -1.0, 0.5, 0.0, 2.0], "float32")
    scaled = keras.ops.convert_to_numpy(keras.ops.softmax(z / shrink))
    for mean, equal in ((uniform_mean, True), (varying_mean, False)):
        mapped = keras.ops.convert_to_numpy(keras.ops.softmax(mean + (z - mean) / shrink))
        assert np.allclose(mapped, scaled, atol=1e-6) == equal


def test_save_load_and_export_round_trip(tmp_path):
    _, probabilities = _logit_twins()
    predictor = mixup_aware_predictor(probabilities, input_mean=np.ones(4), alpha=0.4)
    x = RNG.normal(size=(6, 4)).astype("float32")
    expected = predictor.predict(x, verbose=0)
    predictor.save(tmp_path / "predictor.keras")
    restored = keras.saving.load_model(tmp_path / "predictor.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), expected, rtol=1e-6)
    predictor.export(str(tmp_path / "exported"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "exported"))  # keep it: it owns the variables
    served = reloaded.serve(tf.constant(x))
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-6)


def test_input_mean_streams_over_batches_with_labels_or_without(capsys):
    x = RNG.normal(size=(103, 3, 2)).astype("float32")
    with_labels = tf.data.Dataset.from_tensor_slices((x, np.zeros(103))).batch(10)
    np.testing.assert_allclose(input_mean(with_labels), x.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(input_mean(np.array_split(x, 7), verbose=0), x.mean(0), atol=1e-6)
    assert "batch" in capsys.readouterr().out  # the progress bar
    with pytest.raises(ValueError, match="yielded no examples"):
        input_mean([], verbose=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, r"exactly one of `alpha`"),
        ({"alpha": 1.0, "theta_bar": 0.7}, r"exactly one of `alpha`"),
        ({"theta_bar": 0.4}, r"`theta_bar` must be in \(1/2, 1\]"),
        ({"alpha": 1.0, "output": "probs"}, r"`output` must be one of"),
        ({"alpha": 1.0}, r"output='auto'.* does not\. Say what it outputs"),
        ({"alpha": 1.0, "output": "linear"}, r"needs `target_mean`"),
    ],
)
def test_predictor_argument_errors(kwargs, match):
    logits, _ = _logit_twins()
    with pytest.raises(ValueError, match=match):
        mixup_aware_predictor(logits, input_mean=np.zeros(4), **kwargs)

"""What every method that pastes pixels promises, method by method: its target weights are
the realised shares of the pixels each source shows (NumPy, tf.data, XLA; one draw per batch
and per example), the same seed draws the same parameters on every binding (NumPy,
TensorFlow eager and XLA, keras.ops), mixed with CutMix and mixup in one choice, and the layer
trains with it under XLA and saves it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import MixupLayer, MixupLoss, MixupTransform, sample_mix_params
from keras_mixup._src.bindings.ops import KERAS
from keras_mixup.methods import (
    CutMix,
    FMix,
    GridMix,
    Mixup,
    Mosaic,
    ResizeMix,
    SaliencyMix,
    SmoothMix,
)
from tests.images import coded_images, source_of

H, W = 12, 10
# SmoothMix: test_smoothmix.py
WHOLE_PIXELS = [
    "cutmix_alpha",
    "gridmix_alpha",
    "fmix_alpha",
    "resizemix_alpha",
    "mosaic_alpha",
    "saliencymix_alpha",
]
# each method's class (keras_mixup.methods), by the name of its alpha
CLASSES = {
    "cutmix_alpha": CutMix,
    "gridmix_alpha": GridMix,
    "fmix_alpha": FMix,
    "smoothmix_alpha": SmoothMix,
    "resizemix_alpha": ResizeMix,
    "mosaic_alpha": Mosaic,
    "saliencymix_alpha": SaliencyMix,
}


@pytest.mark.parametrize("method", WHOLE_PIXELS)
@pytest.mark.parametrize("where", ["numpy", "tf.data", "xla"])
@pytest.mark.parametrize("per_example", [False, True])
def test_target_weights_are_the_realised_pixel_shares(method, where, per_example):
    n = 6
    images, labels = coded_images(n, H, W), np.arange(n)
    transform = MixupTransform(
        methods=[CLASSES[method](1.0)], num_classes=n, per_example=per_example, seed=3,
        jit_compile=where == "xla",
    )  # fmt: skip
    for _ in range(3):
        if where == "numpy":
            mixed, targets = transform(images, labels)
        else:
            dataset = tf.data.Dataset.from_tensors((images, labels)).map(transform)
            mixed, targets = next(iter(dataset))
        source = source_of(mixed)
        own = np.array([(source[i] == i).mean() for i in range(n)])
        np.testing.assert_allclose(np.asarray(targets)[np.arange(n), np.arange(n)], own, atol=1e-6)
        assert (own < 1).any()
        # the realised area is a whole number of pixels
        np.testing.assert_allclose(own * H * W, np.round(own * H * W), atol=1e-3)


@pytest.mark.parametrize(
    "method",
    ["gridmix_alpha", "fmix_alpha", "smoothmix_alpha", "resizemix_alpha", "mosaic_alpha"],
)
def test_the_same_seed_draws_the_same_parameters_on_every_binding(method):
    seed = np.array([7, 1], "int32")
    kwargs = dict(per_example=True, methods=[Mixup(1.0), CutMix(1.0), CLASSES[method](0.5)],
                  method_probs=[1 - 0.7, 0.7 / 2, 0.7 / 2], image_size=(H, W))  # fmt: skip
    host = sample_mix_params(seed, 24, **kwargs)
    eager = sample_mix_params(tf.constant(seed), 24, **kwargs)
    xla = tf.function(lambda s: sample_mix_params(s, 24, **kwargs), jit_compile=True)(
        tf.constant(seed)
    )
    keras_ops = sample_mix_params(keras.ops.convert_to_tensor(seed), 24, ops=KERAS, **kwargs)
    assert host.cut.any() and (~host.cut).any()  # both methods and mixup in the batch
    for other in (eager, xla, keras_ops):
        for field in (
            "permutation",
            "more_permutations",
            "box",
            "holes",
            "cut",
            "resized",
            "tiled",
        ):
            if getattr(host, field) is not None:
                np.testing.assert_array_equal(
                    keras.ops.convert_to_numpy(getattr(other, field)), getattr(host, field)
                )
        for field in ("mix_weight", "partner_weight", "more_weights"):
            if getattr(host, field) is None:
                continue
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(getattr(other, field)), getattr(host, field),
                rtol=1e-5, atol=1e-6,
            )  # fmt: skip
        if host.mask is not None:
            mask = keras.ops.convert_to_numpy(other.mask)
            close = np.isclose(mask, host.mask, rtol=1e-5, atol=1e-6)
            # FMix's ranks may swap two pixels at its threshold (the DFT's last-bit rounding)
            assert close.mean() > 0.995, close.mean()


LAYER_OPTIONS = {  # each method with a build-time option set away from its default
    "gridmix_alpha": (GridMix(1.0, holes=(2, 3)), {"gridmix_holes": (2, 3)}),
    "fmix_alpha": (FMix(1.0, decay_power=2.0), {"fmix_decay_power": 2.0}),
    "smoothmix_alpha": (SmoothMix(1.0, sigma=(0.2, 0.3)), {"smoothmix_sigma": (0.2, 0.3)}),
    "resizemix_alpha": (ResizeMix(1.0, scope=(0.2, 0.5)), {"resizemix_scope": (0.2, 0.5)}),
    "mosaic_alpha": (Mosaic(1.0, offset=(0.3, 0.6)), {"mosaic_offset": (0.3, 0.6)}),
    "saliencymix_alpha": (SaliencyMix(1.0), {}),  # no build-time option
}


@pytest.mark.parametrize("method", sorted(LAYER_OPTIONS))
def test_the_layer_trains_with_each_method_under_xla_and_saves(method, tmp_path):
    built, options = LAYER_OPTIONS[method]
    layer = MixupLayer(methods=[built], seed=0)
    model = keras.Sequential(
        [keras.Input((H, W, 1)), layer, keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    model.compile(
        optimizer="sgd",
        loss=MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
        jit_compile=True,
    )
    history = model.fit(coded_images(8, H, W) / 1e5, np.arange(8) % 3, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras").layers[0]
    assert getattr(loaded, method) == 1.0 and loaded.spec.traces(method)
    for name, value in options.items():
        assert getattr(loaded.spec, name) == value, name

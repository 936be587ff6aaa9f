"""alpha that changes during training: alpha_schedule, AlphaScheduler, and the
transform and layer picking up a new alpha without being rebuilt."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixup import (
    AlphaScheduler,
    MixupLayer,
    MixupLoss,
    MixupTransform,
    alpha_schedule,
)


def test_alpha_schedule_warmup_and_off_for_last():
    assert [alpha_schedule(0.2, warmup_epochs=5)(e) for e in (0, 4, 5, 29)] == [0, 0, 0.2, 0.2]
    schedule = alpha_schedule(1.0, epochs=10, off_for_last=3)
    assert [schedule(e) for e in range(10)] == [1.0] * 7 + [0.0] * 3
    with pytest.raises(ValueError, match="needs `epochs`"):
        alpha_schedule(1.0, off_for_last=2)
    with pytest.raises(ValueError, match="warmup_epochs=-1"):
        alpha_schedule(1.0, warmup_epochs=-1)
    with pytest.raises(ValueError, match="alpha=-1"):
        alpha_schedule(-1)


def _max_label(dataset):
    """Mean over batches of the largest target entry: 1 unmixed, ~0.5-0.6 for alpha 8."""
    return float(np.mean([np.max(y.numpy(), axis=1).mean() for _, y in dataset]))


@pytest.mark.parametrize("form", ["map", "apply"])
def test_transform_follows_alpha_changes_without_rebuilding(form):
    ids = np.arange(64) % 8
    base = tf.data.Dataset.from_tensor_slices((np.eye(8, dtype="float32")[ids], ids)).batch(8)
    transform = MixupTransform(alpha=0.0, num_classes=8, seed=0)
    pipeline = base.map(transform) if form == "map" else base.apply(transform)
    assert _max_label(pipeline) == 1.0  # warm-up: alpha 0 is the identity
    for x, _ in pipeline.take(1):
        np.testing.assert_array_equal(x, np.eye(8)[ids[:8]])
    transform.alpha = 8.0
    assert _max_label(pipeline) < 0.7  # near one half
    transform.alpha = 0.05
    assert _max_label(pipeline) > 0.9  # near 0 or 1
    transform.alpha = 0
    assert _max_label(pipeline) == 1.0
    assert transform.get_config()["alpha"] == 0.0
    with pytest.raises(ValueError, match="alpha=-2"):
        transform.alpha = -2


@pytest.mark.parametrize("jit_compile", [False, True])
def test_layer_under_fit_follows_the_scheduler_epoch_by_epoch(jit_compile):
    """With a zero learning rate the weights stay fixed, so an epoch's loss equals the
    plain loss exactly when that epoch did not mix."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype("float32")
    y = np.arange(32) % 3
    mixup = MixupLayer(alpha=1.0, seed=1)
    model = keras.Sequential([keras.Input((5,)), mixup, keras.layers.Dense(3)])
    model.layers[-1].kernel.assign(rng.normal(size=(5, 3)) * 3)
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        loss=MixupLoss("sparse_categorical_crossentropy", mixup, from_logits=True),
        jit_compile=jit_compile,
    )
    plain = model.evaluate(x, y, batch_size=32, verbose=0)
    schedule = alpha_schedule(1.0, warmup_epochs=1, epochs=4, off_for_last=1)
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[AlphaScheduler(schedule, mixup)],
    )
    losses = history.history["loss"]
    assert history.history["mixup_alpha"] == [0.0, 1.0, 1.0, 0.0]
    np.testing.assert_allclose([losses[0], losses[3]], [plain, plain], rtol=1e-6)
    assert abs(losses[1] - plain) > 1e-3 and abs(losses[2] - plain) > 1e-3


def test_scheduler_drives_several_mixers_and_checks_its_arguments():
    transform, layer = MixupTransform(alpha=1.0), MixupLayer(alpha=1.0)
    scheduler = AlphaScheduler(lambda epoch: 0.5 * epoch, transform, layer)
    scheduler.on_epoch_begin(3)
    assert transform.alpha == layer.alpha == 1.5
    with pytest.raises(ValueError, match=r"schedule\(0\) = -1.0. `alpha` must be a finite number"):
        AlphaScheduler(lambda epoch: -1.0, transform).on_epoch_begin(0)
    with pytest.raises(ValueError, match="at least one"):
        AlphaScheduler(lambda epoch: 1.0)
    with pytest.raises(TypeError, match="got float"):
        AlphaScheduler(lambda epoch: 1.0, 0.5)

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
from keras_mixup.methods import CutMix, FMix, GridMix, Mixup, Mosaic, ResizeMix, SmoothMix


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


# ------------------------------------------------------- every method off, in both fronts

EVERY_METHOD = dict(
    methods=[
        Mixup(1.0),
        CutMix(1.0),
        GridMix(1.0),
        FMix(1.0),
        SmoothMix(1.0),
        ResizeMix(1.0),
        Mosaic(1.0),
    ],
    method_probs=[1 - 0.9] + [0.9 / 6] * 6,  # mostly the methods that paste pixels
)
# warm-up (epoch 0) and the last two epochs off: the guide's recipe, as users copy it
RECIPE = alpha_schedule(0.4, warmup_epochs=1, epochs=5, off_for_last=2)
OFF_EPOCHS = (0, 3, 4)


def _images_and_labels():
    rng = np.random.default_rng(0)
    return rng.random((32, 8, 8, 1), dtype="float32"), np.arange(32) % 4


def _hard(targets) -> bool:
    return bool(np.all((targets == 0) | (targets == 1)) and np.all(targets.sum(-1) == 1))


def _record_targets(targets_by_epoch, state):
    def record(y_true, y_pred):  # the mixed targets MixupLoss hands its loss (eager)
        if len(y_true.shape) == 1:  # evaluation: the class ids as they are
            return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        targets_by_epoch.setdefault(state["epoch"], []).append(keras.ops.convert_to_numpy(y_true))
        return keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=True)

    return record


class _Epoch(keras.callbacks.Callback):
    def __init__(self, state):
        super().__init__()
        self.state = state

    def on_epoch_begin(self, epoch, logs=None):
        self.state["epoch"] = epoch


@pytest.mark.parametrize("form", ["map", "apply"])
def test_the_recipe_turns_every_method_off_in_the_transform(form):
    """alpha_schedule's 0 turns CutMix, GridMix, FMix, SmoothMix, ResizeMix and Mosaic off
    too (not only mixup): one-hot targets and untouched images in the off epochs."""
    images, labels = _images_and_labels()
    transform = MixupTransform(**EVERY_METHOD, num_classes=4, seed=0)
    base = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    pipeline = base.map(transform) if form == "map" else base.apply(transform)
    scheduler = AlphaScheduler(RECIPE, transform)
    for epoch in range(5):
        scheduler.on_epoch_begin(epoch)
        batches = [(x.numpy(), y.numpy()) for x, y in pipeline]
        targets = np.concatenate([y for _, y in batches])
        if epoch in OFF_EPOCHS:
            assert _hard(targets), epoch
            np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), images)
        else:
            assert not _hard(targets), epoch
    assert (transform.alpha, transform.cutmix_alpha, transform.mosaic_alpha) == (0.0, 0.0, 0.0)
    scheduler.on_epoch_begin(1)  # back on: every method at the alpha it was built with
    assert transform.alpha == 0.4
    assert [transform.cutmix_alpha, transform.fmix_alpha, transform.mosaic_alpha] == [1.0] * 3


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_the_recipe_turns_every_method_off_in_the_layer(run_eagerly):
    images, labels = _images_and_labels()
    mixup = MixupLayer(**EVERY_METHOD, seed=0)
    targets_by_epoch, state = {}, {"epoch": 0}
    # seeded weights: with unseeded ones the mixed loss came within 1e-3 of the plain one in
    # about 1 run in 20 (a test that failed by chance, not by a bug)
    dense = keras.layers.Dense(4, kernel_initializer=keras.initializers.GlorotUniform(seed=0))
    model = keras.Sequential([keras.Input((8, 8, 1)), mixup, keras.layers.Flatten(), dense])
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        loss=MixupLoss(_record_targets(targets_by_epoch, state), mixup),
        run_eagerly=True,
    )
    if not run_eagerly:  # compiled: the targets read back through the loss's value
        model.compile(
            optimizer=keras.optimizers.SGD(0.0),
            loss=MixupLoss("sparse_categorical_crossentropy", mixup, from_logits=True),
        )
    plain = model.evaluate(images, labels, batch_size=8, verbose=0)
    history = model.fit(
        images,
        labels,
        batch_size=8,
        epochs=5,
        shuffle=False,
        verbose=0,
        callbacks=[_Epoch(state), AlphaScheduler(RECIPE, mixup)],
    )
    assert history.history["mixup_alpha"] == [0.0, 0.4, 0.4, 0.0, 0.0]
    losses = history.history["loss"]
    for epoch in range(5):
        if run_eagerly:
            targets = np.concatenate(targets_by_epoch[epoch])
            assert _hard(targets) == (epoch in OFF_EPOCHS), epoch
        if epoch in OFF_EPOCHS:  # the weights are fixed (learning rate 0): the plain loss
            np.testing.assert_allclose(losses[epoch], plain, rtol=1e-5)
        else:
            assert abs(losses[epoch] - plain) > 1e-3, (epoch, losses[epoch], plain)


def test_a_mixer_without_mixup_keeps_alpha_at_0_and_one_setting_is_scheduled_alone():
    cutmix_only = MixupTransform(alpha=0.0, cutmix_alpha=1.0)
    scheduler = AlphaScheduler(RECIPE, cutmix_only)
    scheduler.on_epoch_begin(0)
    assert (cutmix_only.alpha, cutmix_only.cutmix_alpha) == (0.0, 0.0)
    scheduler.on_epoch_begin(1)  # on again: CutMix alone, as built (mixup not turned on)
    assert (cutmix_only.alpha, cutmix_only.cutmix_alpha) == (0.0, 1.0)
    warm_up = MixupTransform(alpha=0.0)  # built at 0 for a warm-up: mixup follows the schedule
    AlphaScheduler(RECIPE, warm_up).on_epoch_begin(1)
    assert warm_up.alpha == 0.4
    both = MixupTransform(alpha=1.0, cutmix_alpha=1.0)
    AlphaScheduler(RECIPE, both, attribute="alpha").on_epoch_begin(4)  # mixup's alpha alone
    assert (both.alpha, both.cutmix_alpha) == (0.0, 1.0)


def test_a_new_scheduler_after_the_off_epochs_or_a_reload_turns_mixup_back_on(tmp_path):
    """The alphas mixing comes back with are the mixer's as built, mixup's included: a mixer
    left at 0 by a run's last epochs, or rebuilt from a config saved in a warm-up, is on again
    with a new scheduler (mixup's alpha from the schedule, CutMix's as built)."""
    transform = MixupTransform(alpha=1.0, cutmix_alpha=1.0)
    AlphaScheduler(RECIPE, transform).on_epoch_begin(4)  # the end of a first run: all off
    assert (transform.alpha, transform.cutmix_alpha) == (0.0, 0.0)
    AlphaScheduler(alpha_schedule(0.5), transform).on_epoch_begin(0)  # a second fit
    assert (transform.alpha, transform.cutmix_alpha) == (0.5, 1.0)
    layer = MixupLayer(alpha=0.3, cutmix_alpha=1.0)
    model = keras.Sequential([keras.Input((8, 8, 1)), layer, keras.layers.Flatten()])
    AlphaScheduler(RECIPE, layer).on_epoch_begin(0)  # saved during the warm-up
    model.save(str(tmp_path / "warm_up.keras"))
    restored = keras.saving.load_model(str(tmp_path / "warm_up.keras")).layers[0]
    assert (restored.alpha, restored.cutmix_alpha) == (0.0, 0.0)
    AlphaScheduler(RECIPE, restored).on_epoch_begin(2)  # resumed
    assert (restored.alpha, restored.cutmix_alpha) == (0.4, 1.0)


def test_the_default_and_a_one_alpha_scheduler_on_one_mixer_raise_in_fit():
    images, labels = _images_and_labels()
    mixup = MixupLayer(alpha=1.0, cutmix_alpha=1.0, seed=0)
    model = keras.Sequential([keras.Input((8, 8, 1)), mixup, keras.layers.Flatten(),
                              keras.layers.Dense(4)])  # fmt: skip
    model.compile(loss=MixupLoss("sparse_categorical_crossentropy", mixup, from_logits=True))
    both = [
        AlphaScheduler(RECIPE, mixup),
        AlphaScheduler(lambda epoch: 1.0, mixup, attribute="cutmix_alpha"),
    ]
    with pytest.raises(ValueError, match="callbacks' order"):
        model.fit(images, labels, epochs=1, verbose=0, callbacks=both)
    # prob beside the default is fine, and the log says when mixing is on
    ok = [AlphaScheduler(RECIPE, mixup), AlphaScheduler(lambda e: 0.5, mixup, attribute="prob")]
    history = model.fit(images, labels, epochs=2, verbose=0, callbacks=ok)
    assert history.history["mixup_on"] == [0.0, 1.0]
    assert history.history["mixup_prob"] == [0.5, 0.5]
    cutmix_only = MixupTransform(alpha=0.0, cutmix_alpha=1.0)
    scheduler = AlphaScheduler(RECIPE, cutmix_only)
    scheduler.on_epoch_begin(1)
    logs = {}
    scheduler.on_epoch_end(1, logs)
    assert logs == {"mixup_alpha": 0.0, "mixup_on": 1.0}  # mixup's alpha as set: 0

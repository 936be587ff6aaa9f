"""Run in a fresh process (logical devices must be set before TensorFlow starts):
MirroredStrategy over two logical CPU devices. Exits non-zero with a message on failure."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_mixup import ManifoldMixup, MixupLayer, MixupLoss, MixupTransform  # noqa: E402

GLOBAL_BATCH, FEATURES, CLASSES = 8, 4, 3
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2


def per_replica(values):
    return [np.asarray(v) for v in strategy.experimental_local_results(values)]


def layer_loss_equals_hand_mixed_loss():
    """Per replica: the MixupLoss value equals CE(model_head(blend(x)), blend(one_hot(y)))."""
    with strategy.scope():
        layer = MixupLayer(alpha=1.0, seed=3)
        model = keras.Sequential([keras.Input((FEATURES,)), layer, keras.layers.Dense(CLASSES)])
        loss_fn = MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True)
    x = np.random.default_rng(0).normal(size=(GLOBAL_BATCH, FEATURES)).astype("float32")
    y = np.arange(GLOBAL_BATCH) % CLASSES
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))

    @tf.function
    def step(features, labels):
        predictions = model(features, training=True)
        params = layer.record.params
        return loss_fn(labels, predictions), params.mix_weight, params.permutation

    losses, lams, perms = (per_replica(v) for v in strategy.run(step, args=batch))
    kernel, bias = (np.asarray(w) for w in model.layers[-1].get_weights())
    local = GLOBAL_BATCH // 2
    for r in range(2):
        xs, ys = x[r * local : (r + 1) * local], np.eye(CLASSES)[y[r * local : (r + 1) * local]]
        lam = lams[r][:, None]
        mixed_x = lam * xs + (1 - lam) * xs[perms[r]]
        mixed_y = lam * ys + (1 - lam) * ys[perms[r]]
        logits = mixed_x @ kernel + bias
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        expected = -(mixed_y * log_p).sum(axis=1).mean()
        # In a replica context Keras losses divide by the global batch size (the
        # replicas' losses sum to the global-batch mean), as for any Keras loss.
        np.testing.assert_allclose(losses[r] * 2, expected, rtol=1e-5, err_msg=f"replica {r}")
    assert lams[0][0] != lams[1][0], f"replicas drew the same lambda {lams[0][0]}"
    print("layer: per-replica loss = hand-mixed loss; lambdas", lams[0][0], lams[1][0])


def fit_weights(seed):
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        layer = MixupLayer(alpha=0.4, seed=seed)
        model = keras.Sequential([keras.Input((FEATURES,)), layer, keras.layers.Dense(CLASSES)])
        model.compile(
            keras.optimizers.SGD(0.1),
            MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
        )
    x = np.random.default_rng(1).normal(size=(64, FEATURES)).astype("float32")
    y = np.arange(64) % CLASSES
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=2, verbose=0, shuffle=False)
    assert np.all(np.isfinite(history.history["loss"]))
    return [np.asarray(w) for w in model.get_weights()]


def fit_is_reproducible():
    first, second = fit_weights(5), fit_weights(5)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    print("layer: model.fit under MirroredStrategy reproducible from the seed")


def transform_per_replica_batches():
    """distribute_datasets_from_function: each replica's batch is mixed on its own,
    with its own draw; the same seed gives the same run."""
    per_replica_batch = GLOBAL_BATCH // 2

    def dataset_fn(context):
        transform = MixupTransform(alpha=1.0, num_classes=CLASSES, seed=7)
        assert context.get_per_replica_batch_size(GLOBAL_BATCH) == per_replica_batch
        x = np.eye(32, dtype="float32")
        return (
            tf.data.Dataset.from_tensor_slices((x, np.arange(32) % CLASSES))
            .batch(per_replica_batch)
            .map(transform.for_input_pipeline(context))
        )

    def run():
        dataset = strategy.distribute_datasets_from_function(dataset_fn)
        rows = []
        for step, (features, labels) in enumerate(dataset):
            local = per_replica(features)
            # Features are one-hot indices; the batches go to the replicas in turn, so
            # row 0 of replica r at step s is example (2 s + r) * 4, its own weight lambda.
            rows.append(
                [float(f[0, (2 * step + r) * per_replica_batch]) for r, f in enumerate(local)]
            )
            for f, targets in zip(local, per_replica(labels), strict=True):
                np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
                assert f.shape == (per_replica_batch, 32)
        return np.asarray(rows)

    first, second = run(), run()  # a fresh transform with the same seed each time
    assert first.shape == (4, 2)
    assert np.all(first[:, 0] != first[:, 1]), f"replicas drew the same lambdas: {first}"
    np.testing.assert_array_equal(first, second)
    print("transform, per-replica batches: lambdas differ across replicas", first.tolist())


def transform_global_batch():
    """experimental_distribute_dataset: the transform mixes the global batch (partners
    from the whole global batch, one lambda), then the batch is split over replicas:
    exactly the single-device result."""
    x = np.eye(GLOBAL_BATCH, dtype="float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, np.arange(GLOBAL_BATCH) % CLASSES))

    def mixed():  # a fresh pipeline: the first epoch of each draws the same
        return dataset.batch(GLOBAL_BATCH).apply(MixupTransform(1.0, num_classes=CLASSES, seed=2))

    expected = next(iter(mixed()))[0].numpy()
    features, _ = next(iter(strategy.experimental_distribute_dataset(mixed())))
    np.testing.assert_array_equal(np.concatenate(per_replica(features)), expected)
    print("transform, global batch: equals the single-device mixing")


def manifold_points_per_replica():
    """Manifold Mixup's points under MirroredStrategy: per replica, the loss equals the
    hand-computed pass mixed at the chosen point with that replica's own partners; fit runs."""
    with strategy.scope():
        manifold = ManifoldMixup(alpha=1.0, seed=4, name="mirrored")
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((FEATURES,)), manifold.point(), keras.layers.Dense(5, activation="tanh"),
             manifold.point(), keras.layers.Dense(CLASSES)]
        )  # fmt: skip
        loss_fn = MixupLoss("sparse_categorical_crossentropy", layer=manifold, from_logits=True)
    x = np.random.default_rng(2).normal(size=(GLOBAL_BATCH, FEATURES)).astype("float32")
    y = np.arange(GLOBAL_BATCH) % CLASSES
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    (w1, b1), (w2, b2) = (
        [np.asarray(v) for v in layer.weights]
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    )

    @tf.function
    def step(features, labels):
        predictions = model(features, training=True)
        params = manifold.points[0].record.params
        chosen = manifold.points[0]._chosen
        return loss_fn(labels, predictions), params.mix_weight, params.permutation, chosen

    local, chosen_seen = GLOBAL_BATCH // 2, set()
    for batch in strategy.experimental_distribute_dataset(dataset.repeat(6)):
        losses, lams, perms, chosen = (per_replica(v) for v in strategy.run(step, args=batch))
        for r in range(2):
            xs, ys = x[r * local : (r + 1) * local], np.eye(CLASSES)[y[r * local : (r + 1) * local]]
            lam, perm = lams[r][:, None], perms[r]
            mix = lambda h: lam * h + (1 - lam) * h[perm]  # noqa: E731, B023
            h = np.tanh((mix(xs) if chosen[r] == 0 else xs) @ w1 + b1)
            logits = (mix(h) if chosen[r] == 1 else h) @ w2 + b2
            log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            expected = -((lam * ys + (1 - lam) * ys[perm]) * log_p).sum(axis=1).mean()
            np.testing.assert_allclose(losses[r] * 2, expected, rtol=1e-5, err_msg=f"replica {r}")
            chosen_seen.add(int(chosen[r]))
    assert chosen_seen == {0, 1}, chosen_seen
    with strategy.scope():
        model.compile(keras.optimizers.SGD(0.1), loss_fn)
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    print("Manifold Mixup: per-replica loss = hand-mixed at the chosen point; fit runs")


layer_loss_equals_hand_mixed_loss()
manifold_points_per_replica()
fit_is_reproducible()
transform_per_replica_batches()
transform_global_batch()
print("ALL OK")
sys.exit(0)

"""keras_mixup on the Keras backend named by KERAS_BACKEND, in a fresh process (run by
tests/integration/test_backends.py). Checks behaviour here and writes the draws that the parent
test checks statistically and compares across backends to `$OUT/draws.npz`.

Exits non-zero with a message on failure; prints "ALL OK" at the end.
"""

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mixup import (  # noqa: E402
    AlphaScheduler,
    ManifoldMixup,
    MixupAccuracy,
    MixupLayer,
    MixupLoss,
    MixupTransform,
    alpha_schedule,
    sample_mix_params,
)
from keras_mixup._src.bindings.ops import KERAS  # noqa: E402
from keras_mixup._src.core.structures import Parts  # noqa: E402
from keras_mixup._src.fronts.manifold import choose_point  # noqa: E402
from keras_mixup.methods import (  # noqa: E402
    CutMix,
    FMix,
    GridMix,
    Mixup,
    Mosaic,
    ResizeMix,
    SaliencyMix,
    SmoothMix,
)

BACKEND = keras.backend.backend()
assert BACKEND == os.environ["KERAS_BACKEND"], BACKEND
OUT = sys.argv[1]
B, FEATURES, CLASSES = 8, 5, 3
rng = np.random.default_rng(0)
x = rng.normal(size=(64, FEATURES)).astype("float32")
y = (np.arange(64) % CLASSES).astype("int32")
draws = {}
# The family draws compared across backends (tests/integration/test_backends.py uses the same).
FAMILIES = {
    "cutmix": dict(alpha=0.5, per_example=True, ops=KERAS, cutmix_alpha=1.0, image_size=(7, 9)),
    "kway": dict(alpha=0.5, per_example=True, ops=KERAS, num_mixed=4),
    "gridmix": dict(
        per_example=True,
        ops=KERAS,
        methods=[Mixup(0.5), CutMix(1.0), GridMix(1.0)],
        method_probs=[1 - 0.8, 0.8 / 2, 0.8 / 2],
        image_size=(9, 11),
    ),  # fmt: skip
    "masks": dict(
        per_example=True,
        ops=KERAS,
        methods=[Mixup(0.5), CutMix(1.0), FMix(1.0), SmoothMix(1.0), ResizeMix(1.0)],
        method_probs=[1 - 0.9] + [0.9 / 4] * 4,
        image_size=(8, 10),
    ),  # fmt: skip
    "mosaic": dict(
        per_example=True,
        ops=KERAS,
        methods=[Mixup(0.5), CutMix(1.0), Mosaic(0.7)],
        method_probs=[1 - 0.8, 0.8 / 2, 0.8 / 2],
        image_size=(9, 7),
    ),  # fmt: skip
    "saliencymix": dict(
        per_example=True,
        ops=KERAS,
        methods=[Mixup(0.5), SaliencyMix(1.0)],
        images=np.random.default_rng(5).random((12, 9, 7, 3)).astype("float32"),
    ),  # fmt: skip
    "c_mixup": dict(
        alpha=0.5,
        per_example=True,
        ops=KERAS,
        num_mixed=3,
        pairing="c_mixup",
        labels=np.linspace(-2.0, 2.0, 12, dtype="float32")[::-1],
        c_mixup_bandwidth=0.5,
    ),  # fmt: skip
}


# C-Mixup's statistics batch (tests/integration/test_backends.py reads the same)
C_MIXUP_BATCH = np.repeat(np.array([0.0, 0.5, 1.5], "float32"), [400, 300, 300])


def numpy(t):
    return keras.ops.convert_to_numpy(t)


def model_with(layer):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((FEATURES,)), layer, keras.layers.Dense(CLASSES)])


def record(layer):
    params = layer.record.params
    return numpy(params.mix_weight), numpy(params.permutation)


def jitted(fn):
    if BACKEND == "jax":
        import jax

        return jax.jit(fn)
    if BACKEND == "tensorflow":
        return tf.function(fn, jit_compile=True)
    return fn


def loss_and_metric_equal_hand_mixed_values(targets, per_example):
    layer = MixupLayer(alpha=0.7, seed=1, targets=targets, per_example=per_example)
    model = model_with(layer)
    loss_fn = MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True)
    metric = MixupAccuracy(layer=layer)
    weights = rng.uniform(0.5, 1.5, size=B).astype("float32")
    predictions = model(x[:B], training=True)
    loss = float(numpy(loss_fn(y[:B], predictions, sample_weight=weights)))
    metric.update_state(y[:B], predictions)
    lam, perm = record(layer)
    assert sorted(perm.tolist()) == list(range(B)), perm
    assert (len(set(lam.tolist())) > 1) == per_example, lam
    w = lam[:, None]
    mixed_x = w * x[:B] + (1 - w) * x[:B][perm]
    one_hot = np.eye(CLASSES)[y[:B]]
    if targets == "mixed":
        mixed_y = w * one_hot + (1 - w) * one_hot[perm]
        mixed_w = lam * weights + (1 - lam) * weights[perm]
    else:
        mixed_y = np.where(w >= 0.5, one_hot, one_hot[perm])
        mixed_w = np.where(lam >= 0.5, weights, weights[perm])
    kernel, bias = (numpy(v) for v in model.layers[-1].weights)
    logits = mixed_x @ kernel + bias
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = np.sum(-(mixed_y * log_p).sum(axis=1) * mixed_w) / B
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # MixupAccuracy: the target mass on the predicted class (lambda-weighted accuracy)
    predicted = np.argmax(numpy(predictions), axis=1)
    np.testing.assert_allclose(
        float(numpy(metric.result())), mixed_y[np.arange(B), predicted].mean(), rtol=1e-5
    )
    evaluation = model(x[:B], training=False)  # identity outside training
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y[:B], evaluation)
    np.testing.assert_allclose(numpy(loss_fn(y[:B], evaluation)), numpy(plain), rtol=1e-6)
    print(
        f"{BACKEND}: loss and MixupAccuracy = hand-mixed (targets={targets}, per_example={per_example})"
    )


def family_loss_equals_hand_mixed_values(family):
    """CutMix, GridMix, FMix and SmoothMix (per example, switching with mixup) and 3-way mixing
    in a model, compiled
    where the backend compiles: the loss equals NumPy's on hand-mixed values."""
    images = rng.integers(0, 256, (B, 5, 4, 1)).astype("uint8")
    layer = MixupLayer(seed=3, per_example=True, **family)
    model = keras.Sequential(
        [keras.Input((5, 4, 1)), layer, keras.layers.Flatten(), keras.layers.Dense(CLASSES)]
    )
    model.compile(
        keras.optimizers.SGD(0.0),
        MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
        jit_compile=BACKEND != "torch",
    )
    loss = float(model.train_on_batch(images, y[:B]))
    # the step's parameters: replay the same seed eagerly (the record is a trace's)
    params = layer.spec.draw(
        keras.ops.convert_to_tensor(np.array([3, 0], "int32")), Parts(images),
        layer.spec.runtime_values(), owner="", ops=KERAS,
    )  # fmt: skip
    p = {k: None if v is None else numpy(v) for k, v in params._asdict().items()}
    x = images.astype("float64")
    one_hot = np.eye(CLASSES)[y[:B]]
    mixed_x, mixed_y = np.empty_like(x), np.empty_like(one_hot)
    for i in range(B):
        own, partner = p["mix_weight"][i], p["permutation"][i]
        if p["cut"] is not None and p["cut"][i]:
            top, left, bottom, right = p["box"][i]
            region = np.zeros((5, 4), bool)
            region[top:bottom, left:right] = True
            if p["holes"] is not None:  # GridMix rows: the holes of each cell
                cell_h, cell_w, hole_h, hole_w = p["holes"][i]
                rows, cols = np.meshgrid(np.arange(5), np.arange(4), indexing="ij")
                region &= ((rows - top) % cell_h < hole_h) & ((cols - left) % cell_w < hole_w)
            share = region.astype("float64")  # the partner's share of each pixel
            if p["mask"] is not None:  # FMix, SmoothMix rows: their mask
                share = share * p["mask"][i]
            mixed_x[i] = (1 - share[..., None]) * x[i] + share[..., None] * x[partner]
            assert abs(own - (1 - share.mean())) < 1e-6, own
        else:
            more = [] if p["more_weights"] is None else list(p["more_weights"][:, i])
            rows = [] if p["more_weights"] is None else list(p["more_permutations"][:, i])
            mixed_x[i] = own * x[i] + (1 - own - sum(more)) * x[partner]
            mixed_x[i] += sum(w * x[j] for w, j in zip(more, rows, strict=True))
        more = 0 if p["more_weights"] is None else p["more_weights"][:, i]
        rows = [] if p["more_weights"] is None else p["more_permutations"][:, i]
        mixed_y[i] = own * one_hot[i] + (1 - own - np.sum(more)) * one_hot[partner]
        mixed_y[i] += sum(w * one_hot[j] for w, j in zip(np.atleast_1d(more), rows, strict=False))
    kernel, bias = (numpy(v).astype("float64") for v in model.layers[-1].weights)
    logits = mixed_x.reshape(B, -1) @ kernel + bias
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = np.mean(-(mixed_y * log_p).sum(axis=1))
    np.testing.assert_allclose(loss, expected, rtol=2e-5)
    if p["cut"] is not None:
        assert 0 < p["cut"].sum() < B, p["cut"]  # both methods in the batch
    print(f"{BACKEND}: {family} in a model: loss = hand-mixed loss")


def same_seed_same_draws():
    results = []
    for seed in (3, 3, 4):
        layer = MixupLayer(alpha=1.0, seed=seed, inputs_only=True)
        model_with(layer)(x[:B], training=True)
        results.append(record(layer))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert results[0][0][0] != results[2][0][0]
    draws["layer_seed3_lambda"], draws["layer_seed3_permutation"] = results[0]
    print(
        f"{BACKEND}: same seed, same lambda {results[0][0][0]:.6f} and permutation {results[0][1]}"
    )


def draws_for_comparison():
    """Fixed seeds through sample_mix_params, eager and compiled (jax.jit / XLA)."""
    for alpha in (0.05, 0.4, 5.0):
        for per_example in (False, True):
            seed = keras.ops.convert_to_tensor(np.array([11, int(alpha * 100)], "int32"))

            def draw(s, alpha=alpha, per_example=per_example):
                params = sample_mix_params(s, 12, alpha, per_example, ops=KERAS)
                return params.mix_weight, params.permutation

            eager, compiled = draw(seed), jitted(draw)(seed)
            np.testing.assert_array_equal(numpy(eager[1]), numpy(compiled[1]))
            # log(U) / alpha (the alpha < 1 boost) scales log's last-bit rounding by 1 / alpha
            rtol = 2e-6 / min(alpha, 1.0)
            np.testing.assert_allclose(numpy(eager[0]), numpy(compiled[0]), rtol=rtol, atol=1e-7)
            key = f"fixed_alpha{alpha}_per_example{per_example}"
            draws[key + "_lambda"], draws[key + "_permutation"] = map(numpy, eager)
    seed = keras.ops.convert_to_tensor(np.array([4, 2], "int32"))
    for name, family in FAMILIES.items():
        params = jitted(lambda s, family=family: sample_mix_params(s, 12, **family))(seed)
        for field, value in params._asdict().items():
            if value is not None:
                draws[f"{name}_{field}"] = numpy(value)
    print(f"{BACKEND}: fixed-seed draws equal with and without compilation")


def draws_for_statistics():
    """Samples for the parent's KS and chi-square tests of this backend's draws."""
    draw = jitted(lambda s, a: sample_mix_params(s, 20_000, a, True, ops=KERAS).mix_weight)
    for alpha in (0.2, 1.0, 8.0):
        seed = keras.ops.convert_to_tensor(np.array([5, int(alpha * 10)], "int32"))
        draws[f"per_example_alpha{alpha}"] = numpy(draw(seed, np.float32(alpha)))
    per_batch = jitted(lambda s: sample_mix_params(s, 4, 0.4, ops=KERAS).mix_weight[0])
    permutation = jitted(lambda s: sample_mix_params(s, 3, 1.0, ops=KERAS).permutation)
    seeds = [keras.ops.convert_to_tensor(np.array([9, i], "int32")) for i in range(1500)]
    draws["per_batch_alpha0.4"] = np.array([numpy(per_batch(s)) for s in seeds])
    draws["permutations_of_3"] = np.stack([numpy(permutation(s)) for s in seeds])
    c_mixup = C_MIXUP_BATCH  # C-Mixup: 1000 partners, one per example, from three rows
    draws["c_mixup_partners"] = numpy(
        jitted(
            lambda s: (
                sample_mix_params(
                    s,
                    1000,
                    1.0,
                    ops=KERAS,
                    pairing="c_mixup",
                    labels=c_mixup,
                    c_mixup_bandwidth=0.5,
                ).permutation
            )
        )(seeds[0])
    )
    print(f"{BACKEND}: drew samples for the distribution tests")


def layer_contract():
    """In the spirit of Keras's run_layer_test: config, serialization, seed generator,
    training versus inference, mixed precision."""
    layer = MixupLayer(alpha=0.4, num_classes=7, per_example=True, seed=9, name="contract")
    config = layer.get_config()
    assert MixupLayer.from_config(config).get_config() == config
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert clone.get_config() == config and isinstance(clone, MixupLayer)
    state = [v.path for v in layer.non_trainable_variables]
    assert any("seed_generator" in p for p in state) and any(p.endswith("alpha") for p in state), (
        state
    )
    assert not layer.trainable_variables
    images = rng.integers(0, 256, (B, 4, 4, 3)).astype("uint8")
    inference = layer(images, training=False)
    assert keras.backend.standardize_dtype(inference.dtype) == "float32"
    np.testing.assert_array_equal(numpy(inference), images.astype("float32"))
    layer.inputs_only = True
    mixed = numpy(layer(images, training=True))
    lam, perm = record(layer)
    expected = lam[:, None, None, None] * images + (1 - lam[:, None, None, None]) * images[perm]
    np.testing.assert_allclose(mixed, expected, rtol=1e-6, atol=1e-4)
    assert not np.allclose(mixed, images)
    previous = layer.record.params
    layer(images, training=True)  # the seed generator advances: new parameters
    assert not np.array_equal(numpy(previous.mix_weight), numpy(layer.record.params.mix_weight))
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        mixed_precision = MixupLayer(alpha=1.0, seed=0)
        model = keras.Sequential(
            [
                keras.Input((FEATURES,)),
                mixed_precision,
                keras.layers.Dense(CLASSES),
                keras.layers.Activation("linear", dtype="float32"),
            ]
        )
        model.compile(
            "sgd",
            MixupLoss("sparse_categorical_crossentropy", layer=mixed_precision, from_logits=True),
            metrics=[MixupAccuracy(layer=mixed_precision)],
        )
        history = model.fit(x, y, batch_size=B, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        out = mixed_precision(x[:B], training=True)
        assert keras.backend.standardize_dtype(out.dtype) == "bfloat16", out.dtype
        assert (
            keras.backend.standardize_dtype(mixed_precision.record.params.mix_weight.dtype)
            == "float32"
        )
    finally:
        keras.config.set_dtype_policy("float32")
    print(f"{BACKEND}: layer contract (config, serialization, state, training/inference, bfloat16)")


class CountingMixupLayer(MixupLayer):
    traces = 0

    def call(self, inputs, training=None):
        if training:
            CountingMixupLayer.traces += 1
        return super().call(inputs, training=training)


def fit_with_schedule(jit_compile):
    """lr 0: with mixup off (warm-up epoch, last epoch) the training loss equals the plain
    loss; in between it differs. alpha reaches the compiled step through its variable:
    the train function is built once and traced once."""
    layer = CountingMixupLayer(alpha=1.0, seed=2)
    model = model_with(layer)
    model.compile(
        keras.optimizers.SGD(0.0),
        MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
        jit_compile=jit_compile,
    )
    functions = []
    CountingMixupLayer.traces = 0

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            functions.append(self.model.train_function)

    schedule = alpha_schedule(1.0, warmup_epochs=1, epochs=3, off_for_last=1)
    history = model.fit(
        x, y, batch_size=B, epochs=3, verbose=0, shuffle=False,
        callbacks=[AlphaScheduler(schedule, layer), Watch()],
    )  # fmt: skip
    plain = model.evaluate(x, y, batch_size=B, verbose=0)
    losses = history.history["loss"]
    np.testing.assert_allclose([losses[0], losses[2]], [plain, plain], rtol=1e-5)
    assert abs(losses[1] - plain) > 1e-3, (losses, plain)
    assert history.history["mixup_alpha"] == [0.0, 1.0, 0.0]
    assert functions[0] is functions[1] is functions[2], "the train step was rebuilt"
    if BACKEND == "tensorflow" or jit_compile:  # eager JAX / PyTorch run call() every step
        assert CountingMixupLayer.traces == 1, CountingMixupLayer.traces
    print(
        f"{BACKEND}: fit(jit_compile={jit_compile}) with warm-up / off schedule: {losses}, "
        f"one train function, {CountingMixupLayer.traces} trace(s) of the layer"
    )


def out_of_range_class_ids():
    layer = MixupLayer(alpha=1.0, seed=0)
    model = model_with(layer)
    model.compile(
        "sgd",
        MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True),
        jit_compile=BACKEND == "jax",
    )
    bad = y[:B].copy()
    bad[3] = 14
    if BACKEND == "jax":  # inside jax.jit no error can be raised: the loss is NaN
        loss = model.train_on_batch(x[:B], bad)
        assert np.isnan(loss), loss
        print(f"{BACKEND}: out-of-range class id under jit gives a NaN loss")
        return
    try:
        model.train_on_batch(x[:B], bad)
    except Exception as error:  # ValueError eagerly, InvalidArgumentError in a TF graph
        assert "class ids in [0, num_classes=3)" in str(error), error
    else:
        raise AssertionError("an out-of-range class id trained silently")
    print(f"{BACKEND}: out-of-range class id in training raises")


def layer_and_transform_in_tf_data():
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(B)
    for name, stage in [
        ("MixupTransform", MixupTransform(alpha=0.4, num_classes=CLASSES, seed=0)),
        ("MixupLayer", MixupLayer(alpha=0.4, num_classes=CLASSES, seed=0)),
    ]:
        mixed = dataset.map(stage)
        features, targets = next(iter(mixed))
        assert isinstance(features, tf.Tensor) and targets.shape == (B, CLASSES)
        assert not np.array_equal(targets.numpy(), np.eye(CLASSES)[y[:B]])  # it mixed
        model = model_with(keras.layers.Identity())
        model.compile("sgd", keras.losses.CategoricalCrossentropy(from_logits=True))
        history = model.fit(mixed, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        print(f"{BACKEND}: dataset.map({name}) feeds model.fit")
    layer = MixupLayer(alpha=1.0, num_classes=CLASSES)
    for element, words in [
        (tf.data.Dataset.from_tensor_slices({"pixels": x, "label": y}), "d['pixels'], d['label']"),
        (tf.data.Dataset.from_tensor_slices(x), "features alone"),
    ]:
        try:
            element.batch(B).map(layer)
        except ValueError as error:
            assert words in str(error), error
        else:
            raise AssertionError("a dict / features-only element went through unmixed")
    print(f"{BACKEND}: dataset.map(MixupLayer) on a dict or on features alone raises")


def save_and_load():
    layer = MixupLayer(alpha=0.3, seed=9, per_example=True)
    model = model_with(layer)
    model.compile(
        "sgd", MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True)
    )
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
    restored_layer = restored.layers[0]
    assert isinstance(restored_layer, MixupLayer), restored.layers
    assert (restored_layer.alpha, restored_layer.seed, restored_layer.per_example) == (0.3, 9, True)
    np.testing.assert_allclose(
        numpy(restored(x[:B], training=False)), numpy(model(x[:B], training=False)), rtol=1e-6
    )
    print(f"{BACKEND}: saved and loaded (.keras)")


def pipelines_grain_and_keras_dicts():
    """keras.layers.Pipeline with MixupLayer in tf.data (Keras's dict) and inside a model
    (MixupLoss follows the layer in the pipeline); the layer and the transform over Grain."""
    images = rng.random((B, 6, 6, 3)).astype("float32")
    element = {
        "images": images,
        "labels": np.eye(CLASSES, dtype="float32")[y[:B]],
        "bounding_boxes": {
            "boxes": np.tile(np.array([[0, 0, 2, 2]], "float32"), (B, 1, 1)),
            "labels": np.zeros((B, 1), "int32"),
        },
    }
    # Keras 3.15's own RandomFlip fails on boxes in tf.data under JAX and PyTorch (its box
    # path calls the backend's ops on TensorFlow tensors), so the pipeline flips the dict
    # without boxes here, and MixupLayer mixes the boxes alone.
    with_boxes = BACKEND == "tensorflow"
    flip = keras.layers.RandomFlip(
        "horizontal", bounding_box_format="xyxy" if with_boxes else None, seed=0
    )
    pipeline = keras.layers.Pipeline(
        [flip, MixupLayer(alpha=1.0, bounding_box_format="xyxy", seed=0)]
    )
    flipped = element if with_boxes else {k: element[k] for k in ("images", "labels")}
    out = next(iter(tf.data.Dataset.from_tensors(flipped).map(pipeline)))
    assert not np.allclose(out["labels"].numpy(), element["labels"])
    alone = MixupLayer(alpha=1.0, bounding_box_format="xyxy", seed=0)
    out = next(iter(tf.data.Dataset.from_tensors(element).map(alone)))
    assert out["bounding_boxes"]["boxes"].shape == (B, 2, 4), out["bounding_boxes"]["boxes"].shape
    mixup = MixupLayer(alpha=1.0, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6, 6, 3)), keras.layers.Pipeline([keras.layers.RandomFlip(seed=0), mixup]),
         keras.layers.Flatten(), keras.layers.Dense(CLASSES)]
    )  # fmt: skip
    model.compile(
        "sgd", MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True)
    )
    assert np.isfinite(float(model.train_on_batch(images, y[:B])))
    assert mixup.record.params is not None
    import grain

    records = [(images[i], y[i]) for i in range(B)]
    for stage in (
        MixupLayer(alpha=1.0, num_classes=CLASSES, seed=0),
        MixupTransform(alpha=1.0, num_classes=CLASSES),
    ):
        dataset = grain.MapDataset.source(records).batch(B)
        dataset = (
            dataset.map(stage)
            if isinstance(stage, MixupLayer)
            else dataset.random_map(stage, seed=1)
        )
        features, targets = dataset[0]
        assert isinstance(features, np.ndarray) and targets.shape == (B, CLASSES)
    # a Keras layer on the NumPy batches of a Grain pipeline gives this backend's tensors,
    # its labels as they were or as floats: mixed as class ids all the same
    one_hot_rows = np.eye(CLASSES, dtype="float32")
    for stage in (
        MixupLayer(alpha=1.0, num_classes=CLASSES, seed=0),
        MixupTransform(alpha=1.0, num_classes=CLASSES, seed=0),
    ):
        for label_dtype in ("int32", "float32"):
            flip = keras.layers.RandomFlip(seed=0)
            dataset = grain.MapDataset.source(records).batch(B)
            dataset = dataset.map(
                lambda b, dt=label_dtype, f=flip: f({"images": b[0], "labels": b[1].astype(dt)})
            )
            dataset = (
                dataset.map(stage)
                if isinstance(stage, MixupLayer)
                else dataset.random_map(stage, seed=1)
            )
            out = dataset[0]
            targets = numpy(out["labels"])
            assert targets.shape == (B, CLASSES), targets.shape
            np.testing.assert_allclose(targets.sum(-1), 1.0, atol=1e-6)
            # each row: weight on its own class and on one partner's class
            own = targets[np.arange(B), y[:B]]
            assert (own >= 0.0).all() and (own <= 1.0 + 1e-6).all()
            assert not np.allclose(targets, one_hot_rows[y[:B]])  # mixed
    print(f"{BACKEND}: Pipeline in tf.data and in a model; the layer and the transform over Grain")


def mixup_aware_predictor_runs_and_saves():
    from keras_mixup import mixup_aware_predictor

    model = keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Dense(CLASSES, activation="softmax")]
    )
    logits = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(CLASSES)])
    logits.set_weights(model.get_weights())
    mean = x.mean(axis=0)
    predictor = mixup_aware_predictor(model, input_mean=mean, alpha=1.0)
    expected = keras.ops.softmax(logits(mean + 0.75 * (x[:B] - mean)) / 0.75)
    np.testing.assert_allclose(numpy(predictor(x[:B])), numpy(expected), rtol=1e-5, atol=1e-6)
    with tempfile.TemporaryDirectory() as directory:
        predictor.save(os.path.join(directory, "predictor.keras"))
        restored = keras.saving.load_model(os.path.join(directory, "predictor.keras"))
    np.testing.assert_allclose(numpy(restored(x[:B])), numpy(expected), rtol=1e-5, atol=1e-6)
    print(f"{BACKEND}: mixup-aware predictor = scaled logits on shrunk inputs; saved and loaded")


def masked_sequences():
    """Embedding(mask_zero=True) -> MixupLayer -> a mask-reading layer: the next layer
    gets the union of the sources' masks; the padding row gets no gradient in a step
    (compiled on JAX, `jit_compile` on TensorFlow)."""
    tokens = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 0, 0, 0, 0], [7, 8, 9, 1, 2]])
    mixup = MixupLayer(alpha=1.0, seed=3)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,), dtype="int32")
    embedding = keras.layers.Embedding(10, 4, mask_zero=True)
    mixed = mixup(embedding(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(mixed)))
    model.compile(
        keras.optimizers.SGD(1.0),
        MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
        jit_compile=BACKEND != "torch",
    )
    pooled = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(mixed))
    out = numpy(pooled(tokens, training=True))
    weight, perm = record(mixup)
    table = numpy(embedding.embeddings)
    zeroed = np.where((tokens != 0)[..., None], table[tokens], 0.0)
    union = (tokens != 0) | (tokens[perm] != 0)
    values = weight[:, None, None] * zeroed + (1 - weight)[:, None, None] * zeroed[perm]
    expected = (values * union[..., None]).sum(1) / union.sum(1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    before = numpy(embedding.embeddings).copy()
    model.train_on_batch(tokens, np.array([0, 1, 2, 0]))
    after = numpy(embedding.embeddings)
    np.testing.assert_array_equal(after[0], before[0])
    assert not np.allclose(after[1:], before[1:])
    print(f"{BACKEND}: masked sequences: union mask, padding mixed as zeros, no padding gradient")


for targets in ("mixed", "dominant"):
    for per_example in (False, True):
        loss_and_metric_equal_hand_mixed_values(targets, per_example)
for family in (
    {"alpha": 0.6, "cutmix_alpha": 1.0, "switch_prob": 0.5},
    {
        "methods": [Mixup(0.6), CutMix(1.0), GridMix(1.0)],
        "method_probs": [1 - 0.8, 0.8 / 2, 0.8 / 2],
    },
    {"alpha": 0.6, "num_mixed": 3},
    {
        "methods": [Mixup(0.6), FMix(1.0), SmoothMix(1.0)],
        "method_probs": [1 - 0.8, 0.8 / 2, 0.8 / 2],
    },
):
    family_loss_equals_hand_mixed_values(family)
same_seed_same_draws()
draws_for_comparison()
draws_for_statistics()
layer_contract()
save_and_load()
fit_with_schedule(jit_compile=BACKEND == "jax")
if BACKEND in ("jax", "tensorflow"):
    fit_with_schedule(jit_compile=BACKEND == "tensorflow")
out_of_range_class_ids()
layer_and_transform_in_tf_data()
pipelines_grain_and_keras_dicts()
mixup_aware_predictor_runs_and_saves()
masked_sequences()


def manifold_mixup_fits_and_chooses_as_everywhere():
    """Manifold Mixup's points under the backend's compiled step: finite losses, and the
    choice of point for 30 seeds (the parent compares it with the NumPy binding's)."""
    manifold = ManifoldMixup(alpha=2.0, seed=0, point_probs=[1.0, 3.0])
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((FEATURES,)), manifold.point(), keras.layers.Dense(6, activation="tanh"),
         manifold.point(), keras.layers.Dense(CLASSES)]
    )  # fmt: skip
    model.compile(
        optimizer="sgd",
        loss=MixupLoss("sparse_categorical_crossentropy", layer=manifold, from_logits=True),
        jit_compile=BACKEND != "torch",
    )
    history = model.fit(x, y, batch_size=B, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all(), history.history
    seeds = [keras.ops.convert_to_tensor(np.array([3, i], "int32")) for i in range(30)]
    draws["manifold_chosen"] = np.array(
        [int(numpy(choose_point(seed, (1.0, 3.0), ops=KERAS))) for seed in seeds]
    )
    print(f"{BACKEND}: Manifold Mixup fits; its choices recorded")


def manifold_mixup_on_masked_sequences():
    """Points after a masked embedding and after the pooling, in the backend's compiled
    step: whichever point is chosen, the padding row gets no gradient (padding mixes as
    zeros, the pooling reads the mask each point hands on); the losses are finite."""
    tokens = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 0, 0, 0, 0], [7, 8, 9, 1, 2]])
    manifold = ManifoldMixup(alpha=1.0, seed=2, name="masked")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,), dtype="int32")
    embedding = keras.layers.Embedding(10, 4, mask_zero=True)
    pooled = keras.layers.GlobalAveragePooling1D()(manifold.point()(embedding(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(3)(manifold.point()(pooled)))
    model.compile(
        keras.optimizers.SGD(1.0),
        MixupLoss("sparse_categorical_crossentropy", layer=manifold, from_logits=True),
        jit_compile=BACKEND != "torch",
    )
    before = numpy(embedding.embeddings).copy()
    history = model.fit(tokens, np.array([0, 1, 2, 0]), batch_size=4, epochs=6, verbose=0)
    after = numpy(embedding.embeddings)
    assert np.isfinite(history.history["loss"]).all(), history.history
    np.testing.assert_array_equal(after[0], before[0])
    assert not np.allclose(after[1:], before[1:])
    print(f"{BACKEND}: Manifold Mixup on masked sequences: no padding gradient")


def manifold_mixup_pastes_at_image_maps():
    """CutMix at an 8x8 input and a 3x3 hidden map: the eager loss mixes the targets with the
    chosen point's box share (by hand), and the backend's compiled step trains."""
    group = ManifoldMixup(methods=[Mixup(1.0), CutMix(1.0)], seed=7, name="pasting")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Conv2D(2, 3, strides=3, padding="same")(group.point()(inputs))
    model = keras.Model(
        inputs, keras.layers.Dense(CLASSES)(keras.layers.Flatten()(group.point()(hidden)))
    )
    loss = MixupLoss("sparse_categorical_crossentropy", layer=group, from_logits=True)
    images = np.random.default_rng(0).random((B, 8, 8, 1)).astype("float32")
    labels = np.arange(B) % CLASSES
    one_hot = np.eye(CLASSES)[labels]
    for _ in range(6):
        logits = numpy(model(images, training=True))
        chosen = int(numpy(group.points[0]._chosen))
        params = group.points[chosen].record.params
        lam, perm = numpy(params.mix_weight), numpy(params.permutation)
        partner = 1 - lam if params.partner_weight is None else numpy(params.partner_weight)
        targets = lam[:, None] * one_hot + partner[:, None] * one_hot[perm]
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        expected = -(targets * log_p).sum(1).mean()
        np.testing.assert_allclose(numpy(loss(labels, logits)), expected, rtol=1e-4)
    model.compile(optimizer="sgd", loss=loss, jit_compile=BACKEND != "torch")
    history = model.fit(images, labels, batch_size=B // 2, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all(), history.history
    print(f"{BACKEND}: Manifold Mixup pastes at image maps; the loss takes the chosen box share")


manifold_mixup_fits_and_chooses_as_everywhere()
manifold_mixup_on_masked_sequences()
manifold_mixup_pastes_at_image_maps()
np.savez(os.path.join(OUT, "draws.npz"), **draws)
print("ALL OK")

"""Manifold Mixup (issue 44, first part): a group of mixing points, one chosen per training
step. The forward pass equals a hand-computed one mixed at the chosen point; the choice
follows `point_probs` (chi-square); the loss is the hand-mixed targets' loss; gradients
reach the layers before the chosen point through both partners; XLA, saving, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_mixup import ManifoldMixup, MixupAccuracy, MixupLoss
from keras_mixup._src.bindings.ops import KERAS, NUMPY
from keras_mixup._src.fronts.manifold import choose_point
from keras_mixup.methods import CutMix, Mixup

B, D, HIDDEN, K = 8, 4, 5, 3
RNG = np.random.default_rng(0)
X = RNG.normal(size=(B, D)).astype("float32")
Y = np.arange(B) % K


def model_with(manifold):
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((D,)),
            manifold.point(),
            keras.layers.Dense(HIDDEN, activation="tanh"),
            manifold.point(),
            keras.layers.Dense(K),
        ]
    )
    loss = MixupLoss("sparse_categorical_crossentropy", layer=manifold, from_logits=True)
    return model, loss


def by_hand(model, x, chosen, lam, perm):
    """The forward pass with the hidden state mixed at point `chosen` (0: the input)."""
    (w1, b1), (w2, b2) = (
        [keras.ops.convert_to_numpy(v) for v in layer.weights]
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    )
    mix = lambda h: lam[:, None] * h + (1 - lam[:, None]) * h[perm]  # noqa: E731
    h = mix(x) if chosen == 0 else x
    h = np.tanh(h @ w1 + b1)
    h = mix(h) if chosen == 1 else h
    return h @ w2 + b2


def test_the_forward_pass_mixes_at_the_chosen_point_only():
    manifold = ManifoldMixup(alpha=1.0, seed=3)
    model, loss = model_with(manifold)  # the loss kept: it binds the group
    first, second = manifold.points
    seen = set()
    for _ in range(12):
        out = keras.ops.convert_to_numpy(model(X, training=True))
        chosen = int(first._chosen)
        assert int(second._chosen) == chosen  # one choice for the group
        params = first.record.params
        lam, perm = (keras.ops.convert_to_numpy(v) for v in (params.mix_weight, params.permutation))
        # every point drew the same weights and partners
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(second.record.params.mix_weight), lam
        )
        np.testing.assert_allclose(out, by_hand(model, X, chosen, lam, perm), rtol=1e-5, atol=1e-5)
        seen.add(chosen)
    assert seen == {0, 1}
    plain = by_hand(model, X, chosen=-1, lam=np.ones(B), perm=np.arange(B))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(X)), plain, rtol=1e-5, atol=1e-5)


def test_the_choice_follows_point_probs():
    probs = (1.0, 2.0, 1.0)
    chosen = [int(choose_point(np.array([7, s], "int32"), probs, ops=NUMPY)) for s in range(4000)]
    counts = np.bincount(chosen, minlength=3)
    assert stats.chisquare(counts, 4000 * np.array(probs) / 4).pvalue > 1e-3, counts
    for s in range(20):  # the same choice on the Keras binding
        seed = np.array([7, s], "int32")
        on_keras = choose_point(keras.ops.convert_to_tensor(seed), probs, ops=KERAS)
        assert int(keras.ops.convert_to_numpy(on_keras)) == chosen[s]


def test_the_loss_is_the_hand_mixed_targets_loss_and_gradients_reach_both_partners():
    manifold = ManifoldMixup(alpha=1.0, seed=5)
    model, loss = model_with(manifold)
    x = tf.Variable(X)
    for _ in range(10):
        with tf.GradientTape(persistent=True) as tape:
            out = model(x, training=True)
        value = loss(Y, out)
        chosen = int(manifold.points[0]._chosen)
        params = manifold.points[0].record.params
        lam, perm = params.mix_weight.numpy(), params.permutation.numpy()
        one_hot = np.eye(K)[Y]
        targets = lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[perm]
        logits = out.numpy()
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(value.numpy(), -(targets * log_p).sum(1).mean(), rtol=1e-5)
        if chosen == 1:
            break
    assert chosen == 1
    # mixed at the hidden point: each output row depends on the input rows of both its
    # sources, through the Dense layer before the point
    jacobian = tape.jacobian(out, x, experimental_use_pfor=False).numpy()  # [B, K, B, D]
    reach = np.abs(jacobian).sum(axis=(1, 3)) > 0
    for row in range(B):
        assert set(np.flatnonzero(reach[row])) == {row, int(perm[row])}, row


def test_it_trains_under_xla_and_saves_with_its_points(tmp_path):
    manifold = ManifoldMixup(alpha=2.0, seed=0, point_probs=[1.0, 3.0])
    model, loss = model_with(manifold)
    model.compile(optimizer="sgd", loss=loss, metrics=[MixupAccuracy(layer=manifold)],
                  jit_compile=True)  # fmt: skip
    history = model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "manifold.keras")
    loaded = keras.models.load_model(tmp_path / "manifold.keras")
    points = [layer for layer in loaded.layers if type(layer).__name__ == "MixingPoint"]
    assert [(p.index, p.points, p.point_probs) for p in points] == [
        (0, 2, [1.0, 3.0]),
        (1, 2, [1.0, 3.0]),
    ]
    assert np.isfinite(loaded.fit(X, Y, epochs=1, verbose=0).history["loss"]).all()


def test_errors_name_the_group_and_what_to_do():
    cut = ManifoldMixup(methods=[Mixup(1.0), CutMix(1.0)], name="cut")
    with pytest.raises(ValueError, match=r"'cut_point_1' \(a mixing point of ManifoldMixup "
                       r"'cut'\) needs images.*shape \(None, 5\)"):  # fmt: skip
        keras.Sequential([keras.Input((6, 6, 2)), cut.point(), keras.layers.Flatten(),
                          keras.layers.Dense(5), cut.point()])  # fmt: skip
    manifold = ManifoldMixup(alpha=1.0, point_probs=[1.0], name="short")
    model, loss = model_with(manifold)
    with pytest.raises(ValueError, match=r"'short'.*`point_probs`.*2 mixing points"):
        model(X, training=True)
    unbound = ManifoldMixup(alpha=1.0, name="unbound")
    keras.Sequential([keras.Input((D,)), unbound.point(), keras.layers.Dense(K)])
    with pytest.raises(ValueError, match="no mixing point yet"):
        MixupLoss("mse", layer=ManifoldMixup(alpha=1.0, name="empty"))
    with pytest.raises(ValueError, match="no MixupLoss is bound"):
        unbound.points[0](X, training=True)


def test_without_a_seed_the_points_still_draw_together_and_count_only_placed_points():
    """Review of issue 44: `seed=None` gives every point the same (random) seed; a point made
    but not placed in the model is not one of the choices."""
    manifold = ManifoldMixup(alpha=1.0)
    model, loss = model_with(manifold)
    manifold.point()  # made, never placed
    first, second = manifold.points[:2]
    for _ in range(6):
        model(X, training=True)
        assert int(first._chosen) == int(second._chosen) < 2
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(first.record.params.permutation),
            keras.ops.convert_to_numpy(second.record.params.permutation),
        )
    assert first.get_config()["points"] == 2 and first.seed == second.seed is not None


def test_point_probs_take_numpy_numbers():
    manifold = ManifoldMixup(alpha=1.0, seed=0, point_probs=np.array([1, 2], "int64"))
    model, loss = model_with(manifold)
    assert model(X, training=True).shape == (B, K)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_cond_only_where_the_step_is_compiled(monkeypatch, compiled):
    """Eager steps branch in Python on the chosen point: a `cond` there traces and compiles
    both branches in every step (JAX without jit: +25 % a point, benchmarks/results/issue44).
    The eager forward pass is checked by hand above (`model(X, training=True)` is eager)."""
    calls = []
    cond = keras.ops.cond
    monkeypatch.setattr(keras.ops, "cond", lambda *a, **k: calls.append(1) or cond(*a, **k))
    manifold = ManifoldMixup(alpha=2.0, seed=0)
    model, loss = model_with(manifold)
    model.compile(optimizer="sgd", loss=loss, run_eagerly=not compiled, jit_compile=compiled)
    history = model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert bool(calls) == compiled, len(calls)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_masked_sequences_at_points_hand_on_the_union_only_where_chosen(jit_compile):
    """A point after `Embedding(mask_zero=True)` and one after the pooling: when the first is
    chosen, the next layer sees the union of the mixed sources' masks and padding mixes as
    zeros; when the second is, it sees the tokens' own mask and unmixed embeddings."""
    from tests.fronts.test_sequence_masks import TOKENS, MaskProbe, expected_mix

    manifold = ManifoldMixup(alpha=1.0, seed=5, name="text")
    tokens = keras.Input((TOKENS.shape[1],), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True, name="embedding")(tokens)
    probe = MaskProbe(name="probe")
    seen = probe(manifold.point()(embedded))
    pooled = manifold.point()(keras.layers.GlobalAveragePooling1D()(seen))
    model = keras.Model(tokens, keras.layers.Dense(3)(pooled))
    inner = keras.Model(model.input, probe.output)
    loss = MixupLoss("sparse_categorical_crossentropy", layer=manifold, from_logits=True)
    embeddings = keras.ops.convert_to_numpy(model.get_layer("embedding")(TOKENS))
    first = manifold.points[0]

    def step(x):
        out = inner(x, training=True)
        return out, probe.seen, first._chosen, first.record.params

    if jit_compile:
        step = tf.function(step, jit_compile=True)
    choices = set()
    for _ in range(10):
        out, mask, chosen, params = step(TOKENS)
        chosen = int(chosen)
        params = type(params)(*(keras.ops.convert_to_numpy(v) if v is not None else None
                                for v in params))  # fmt: skip
        values, union = expected_mix(embeddings, TOKENS != 0, params)
        if chosen == 0:
            np.testing.assert_allclose(keras.ops.convert_to_numpy(out), values, atol=1e-5)
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask), union)
        else:
            np.testing.assert_allclose(keras.ops.convert_to_numpy(out), embeddings, atol=1e-6)
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask), TOKENS != 0)
        choices.add(chosen)
    assert choices == {0, 1}
    model.compile(optimizer="sgd", loss=loss, jit_compile=jit_compile)
    history = model.fit(TOKENS, np.array([0, 1, 2, 0]), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def cut_model(group):
    """Points on an 8x8 image and on the 3x3 map after a stride-3 convolution."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Conv2D(2, 3, strides=3, padding="same")(group.point()(inputs))
    outputs = keras.layers.Dense(K)(keras.layers.Flatten()(group.point()(hidden)))
    loss = MixupLoss("sparse_categorical_crossentropy", layer=group, from_logits=True)
    return keras.Model(inputs, outputs), loss


IMAGES = RNG.random((B, 8, 8, 1)).astype("float32")


def test_pasting_at_points_the_loss_takes_the_chosen_maps_box_share():
    """CutMix's box covers another share of a 3x3 map than of an 8x8 image: the loss mixes
    the targets with the chosen point's weights (hand-computed), not the first point's."""
    group = ManifoldMixup(methods=[CutMix(1.0)], seed=7, name="cut")
    model, loss = cut_model(group)
    one_hot = np.eye(K)[Y]
    differed = set()
    for _ in range(12):
        out = model(IMAGES, training=True)
        chosen = int(group.points[0]._chosen)
        records = [p.record.params for p in group.points]
        lam = np.asarray(records[chosen].mix_weight)
        perm = np.asarray(records[chosen].permutation)
        partner = (
            1 - lam if records[chosen].partner_weight is None else records[chosen].partner_weight
        )
        targets = lam[:, None] * one_hot + np.asarray(partner)[:, None] * one_hot[perm]
        logits = np.asarray(out)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(
            loss(Y, out).numpy(), -(targets * log_p).sum(1).mean(), rtol=1e-5
        )
        if not np.allclose(records[0].mix_weight, records[1].mix_weight):
            differed.add(chosen)
    assert differed == {0, 1}  # the weights differed with either point chosen


def test_pasting_at_points_trains_under_xla_and_after_loading(tmp_path):
    group = ManifoldMixup(methods=[Mixup(1.0), CutMix(1.0)], seed=1, name="cutxla")
    model, loss = cut_model(group)
    model.compile(optimizer="sgd", loss=loss, metrics=[MixupAccuracy(layer=group)],
                  jit_compile=True)  # fmt: skip
    assert np.isfinite(
        model.fit(IMAGES, Y, epochs=2, batch_size=4, verbose=0).history["loss"]
    ).all()
    model.save(tmp_path / "cut.keras")
    loaded = keras.models.load_model(tmp_path / "cut.keras")
    again = keras.models.load_model(tmp_path / "cut.keras")  # a second copy: its own group
    for copy in (loaded, again):
        points = [layer for layer in copy.layers if type(layer).__name__ == "MixingPoint"]
        assert [p.index for p in points[0]._members()] == [0, 1]
        assert all(any(p is q for q in points) for p in points[0]._members())
    history = loaded.fit(IMAGES, Y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_a_scheduler_given_the_group_drives_every_point():
    from keras_mixup import AlphaScheduler

    manifold = ManifoldMixup(alpha=2.0, seed=0, name="scheduled")
    model, loss = model_with(manifold)
    scheduler = AlphaScheduler(lambda epoch: 0.0 if epoch == 0 else 0.5, manifold)
    assert list(scheduler.mixers) == manifold.points
    scheduler.on_epoch_begin(0)
    assert all(float(p.alpha) == 0.0 for p in manifold.points)
    np.testing.assert_allclose(model(X, training=True), model(X))  # nothing mixes
    scheduler.on_epoch_begin(1)
    assert all(float(p.alpha) == 0.5 for p in manifold.points)
    with pytest.raises(ValueError, match="no mixing point yet"):
        AlphaScheduler(lambda epoch: 1.0, ManifoldMixup(alpha=1.0, name="none"))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_points_train_under_mixed_precision(policy, jit_compile):
    """mixed_float16: both branches of a point's choice give the compute dtype (a `cond`
    needs them alike), the loss is finite, inference passes float16 on."""
    policy("mixed_float16")
    group = ManifoldMixup(methods=[Mixup(1.0), CutMix(1.0)], seed=3, name="half")
    model, loss = cut_model(group)
    model.compile(optimizer="adam", loss=loss, jit_compile=jit_compile)
    history = model.fit(IMAGES, Y, batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert group.points[1](np.zeros((2, 3, 3, 2), "float32"), training=True).dtype == "float16"
    assert group.points[0](IMAGES, training=False).dtype == "float16"


@pytest.mark.parametrize("methods", [[Mixup(1.0)], [CutMix(1.0)]])
def test_a_point_outside_the_trained_model_is_named(methods):
    """It could be the chosen one: the targets would be mixed while no input was."""
    group = ManifoldMixup(methods=methods, seed=0, name="split")
    model, loss = cut_model(group)
    stray = group.point()  # placed in another model: the group now counts it
    keras.Sequential([keras.Input((8, 8, 1)), stray])
    out = model(IMAGES, training=True)
    with pytest.raises(ValueError, match=r"'split'.*\['split_point_2'\] did not run"):
        loss(Y, out)

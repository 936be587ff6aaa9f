"""MixupLayer on masked sequences (issue 28 item 2): `Embedding(mask_zero=True)`, then
MixupLayer, then layers that read the mask. The output mask is the union of the mixed
sources' masks, padded steps are mixed as zeros (the padding embedding never reaches the
loss), k-way and per-shard partners alike; CutMix on a sequence raises our error.
Source: Guo, Mao & Zhang 2019, "Augmenting data with mixup for sentence classification"
(wordMixup on zero-padded embeddings)."""

import warnings

import keras
import numpy as np
import pytest

from keras_mixup import MixupLayer, MixupLoss
from keras_mixup._src.bindings.ops import NUMPY
from keras_mixup._src.core.mixing import mixed_mask, zero_padding
from keras_mixup._src.core.structures import MixParams

TOKENS = np.array(
    [[1, 2, 3, 0, 0, 0], [4, 5, 0, 0, 0, 0], [6, 0, 0, 0, 0, 0], [7, 8, 9, 1, 2, 0]], "int32"
)
LABELS = np.array([0, 1, 2, 0], "int32")


@keras.saving.register_keras_serializable(package="tests")
class MaskProbe(keras.layers.Layer):
    """Records the mask Keras hands the next layer (an LSTM, a pooling layer)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.seen = None

    def call(self, inputs, mask=None):
        self.seen = mask
        return inputs


def text_model(mixup, *, head=None):
    tokens = keras.Input((TOKENS.shape[1],), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True, name="embedding")(tokens)
    probe = MaskProbe(name="probe")
    seen = probe(mixup(embedded))
    pooled = (head or keras.layers.GlobalAveragePooling1D())(seen)
    model = keras.Model(tokens, keras.layers.Dense(3)(pooled))
    model.compile(
        optimizer=keras.optimizers.SGD(1.0),
        loss=MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
    )
    return model, probe


def sources(params):
    """(weights, partner indices) of each source, NumPy."""
    own = np.asarray(params.mix_weight)
    partner = (
        np.asarray(params.partner_weight)
        if params.partner_weight is not None
        else 1.0
        - own
        - (0 if params.more_weights is None else np.asarray(params.more_weights).sum(0))
    )
    rows = np.arange(len(own))
    out = [(own, rows), (partner, np.asarray(params.permutation))]
    if params.more_weights is not None:
        out += list(
            zip(np.asarray(params.more_weights), np.asarray(params.more_permutations), strict=True)
        )
    return out


def expected_mix(embedded, mask, params):
    """The mixed embeddings and mask, by hand from the recorded parameters."""
    zeroed = np.where(mask[..., None], embedded, 0.0)
    values = sum(w[:, None, None] * zeroed[p] for w, p in sources(params))
    union = np.zeros_like(mask)
    for w, p in sources(params):
        union |= mask[p] & (w > 0)[:, None]
    return values, union


@pytest.mark.parametrize("num_mixed", [2, 3])
def test_the_next_layer_sees_the_union_of_the_sources_masks_and_padding_mixes_as_zeros(num_mixed):
    mixup = MixupLayer(alpha=1.0, num_mixed=num_mixed, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras: "... will therefore destroy the mask"
        model, probe = text_model(mixup)
        inner = keras.Model(model.input, probe.output)
        out = keras.ops.convert_to_numpy(inner(TOKENS, training=True))
    params = mixup.record.params
    embedded = keras.ops.convert_to_numpy(model.get_layer("embedding")(TOKENS))
    values, union = expected_mix(embedded, TOKENS != 0, params)
    np.testing.assert_allclose(out, values, atol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(probe.seen), union)
    # a mixed example is real beyond its own tokens where a partner has some
    assert union.sum() > (TOKENS != 0).sum()


def test_the_padding_embedding_gets_no_gradient_from_a_mixed_step():
    """Without the zeros, the padding row enters every mixed example whose partner is
    longer (the union mask keeps those steps) and is trained."""
    mixup = MixupLayer(alpha=1.0, seed=0)
    model, _ = text_model(mixup)
    table = model.get_layer("embedding").embeddings
    before = keras.ops.convert_to_numpy(table).copy()
    model.train_on_batch(TOKENS, LABELS)
    after = keras.ops.convert_to_numpy(table)
    np.testing.assert_array_equal(after[0], before[0])  # the padding id's row
    assert not np.allclose(after[1:10], before[1:10])  # the tokens' rows trained


def test_an_lstm_after_the_layer_trains_on_masked_input_without_keras_warning():
    mixup = MixupLayer(alpha=0.4, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, probe = text_model(mixup, head=keras.layers.LSTM(5))
        loss = model.train_on_batch(TOKENS, LABELS)
    assert np.isfinite(loss)
    assert probe.seen is not None


def test_inference_passes_the_mask_through():
    mixup = MixupLayer(alpha=1.0, seed=0)
    model, probe = text_model(mixup)
    model.predict(TOKENS, verbose=0)
    inner = keras.Model(model.input, probe.output)
    inner(TOKENS, training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(probe.seen), TOKENS != 0)


def test_an_unmixed_example_keeps_its_own_mask_and_shards_keep_their_partners():
    """Injected parameters: example 0 unmixed (prob < 1 gives weight 1 / 0), and a
    batch in two shards whose partners stay in their shard."""
    mask = TOKENS != 0
    params = MixParams(
        mix_weight=np.array([1.0, 0.3, 0.6, 0.5], "float32"),
        permutation=np.array([1, 0, 3, 2], "int32"),
        partner_weight=np.array([0.0, 0.7, 0.4, 0.5], "float32"),
    )
    union = mixed_mask(mask, params, shards=2, ops=NUMPY)
    np.testing.assert_array_equal(union[0], mask[0])  # weight 0 on its partner
    np.testing.assert_array_equal(union[1], mask[1] | mask[0])
    np.testing.assert_array_equal(union[2], mask[2] | mask[3])
    embedded = np.ones((4, 6, 2), "float32")
    np.testing.assert_array_equal(zero_padding(embedded, mask, ops=NUMPY)[..., 0], mask)


def test_cutmix_on_a_masked_sequence_raises_our_error():
    mixup = MixupLayer(alpha=1.0, cutmix_alpha=1.0, seed=0)
    model, _ = text_model(mixup)
    with pytest.raises(
        ValueError, match=r"cutmix_alpha=1.0.*Keras mask.*not defined for sequences"
    ):
        model.train_on_batch(TOKENS, LABELS)


def test_a_masked_text_model_saves_loads_and_keeps_mixing_its_mask(tmp_path):
    mixup = MixupLayer(alpha=1.0, seed=2)
    model, _ = text_model(mixup)
    path = tmp_path / "text.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    restored_mixup = next(layer for layer in restored.layers if isinstance(layer, MixupLayer))
    assert restored_mixup is not mixup
    inner = keras.Model(restored.input, restored.get_layer("probe").output)
    inner(TOKENS, training=True)
    probe = restored.get_layer("probe")
    _, union = expected_mix(np.zeros((4, 6, 1)), TOKENS != 0, restored_mixup.record.params)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(probe.seen), union)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(TOKENS, training=False)),
        keras.ops.convert_to_numpy(model(TOKENS, training=False)),
        rtol=1e-6,
    )


def test_a_compiled_step_keeps_the_padding_row_untrained():
    """XLA (jit_compile=True): the same mask rule inside one compiled train step."""
    mixup = MixupLayer(alpha=1.0, seed=0)
    model, _ = text_model(mixup)
    model.compile(
        optimizer=keras.optimizers.SGD(1.0),
        loss=MixupLoss("sparse_categorical_crossentropy", layer=mixup, from_logits=True),
        jit_compile=True,
    )
    table = model.get_layer("embedding").embeddings
    before = keras.ops.convert_to_numpy(table).copy()
    model.train_on_batch(TOKENS, LABELS)
    after = keras.ops.convert_to_numpy(table)
    np.testing.assert_array_equal(after[0], before[0])
    assert not np.allclose(after[1:], before[1:])

"""Checkpointing a mixup pipeline's iterator mid-epoch (tf.train.Checkpoint), as a
preempted run or tf.distribute's preemption handling does."""

import numpy as np
import pytest
import tensorflow as tf

import keras_mixup
from keras_mixup import MixupTransform, checkpointable

N, BATCH, CLASSES = 96, 4, 4


def pipeline(form: str, alpha: float = 1.0):
    # Identity rows: a mixed row's nonzero columns say which examples it holds.
    x, y = np.eye(N, dtype="float32"), np.arange(N) % CLASSES
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(N, seed=1).batch(BATCH)
    transform = MixupTransform(alpha=alpha, num_classes=CLASSES, seed=3)
    if form == "apply":
        return dataset.apply(transform), transform
    return checkpointable(dataset.map(transform)), transform


def save_after(iterator, batches: int, path) -> str:
    for _ in range(batches):
        next(iterator)
    return tf.train.Checkpoint(iterator=iterator).save(str(path / "ckpt"))


def restored(form: str, path: str, alpha: float = 1.0):
    dataset, transform = pipeline(form, alpha)  # a fresh pipeline, as after a restart
    iterator = iter(dataset)
    tf.train.Checkpoint(iterator=iterator).restore(path)
    return iterator, transform


def test_apply_form_resumes_with_bit_identical_batches(tmp_path):
    dataset, _ = pipeline("apply")
    iterator = iter(dataset)
    path = save_after(iterator, 2, tmp_path)
    expected = [next(iterator) for _ in range(3)]
    iterator, _ = restored("apply", path)
    for (x, y), (x_ref, y_ref) in zip([next(iterator) for _ in range(3)], expected, strict=True):
        np.testing.assert_array_equal(x.numpy(), x_ref.numpy())
        np.testing.assert_array_equal(y.numpy(), y_ref.numpy())


def test_map_form_resumes_at_the_same_position_with_fresh_parameters(tmp_path):
    dataset, _ = pipeline("map")
    iterator = iter(dataset)
    path = save_after(iterator, 2, tmp_path)
    expected = [next(iterator) for _ in range(3)]
    iterator, _ = restored("map", path)
    for (x, _), (x_ref, _) in zip([next(iterator) for _ in range(3)], expected, strict=True):
        # the same examples in each batch (the data position was restored) ...
        assert set(np.nonzero(x.numpy())[1]) == set(np.nonzero(x_ref.numpy())[1])


def test_alpha_is_not_restored_from_the_checkpoint_but_set_by_the_run(tmp_path):
    """Batches already mixed when the iterator was saved (the parallel map's buffer)
    come back as they were; the batches mixed after the restore use the alpha that
    the run sets, here 0 (what AlphaScheduler does at an epoch start)."""
    dataset, _ = pipeline("apply")
    path = save_after(iter(dataset), 1, tmp_path)
    iterator, transform = restored("apply", path, alpha=1.0)
    transform.alpha = 0.0
    x, y = list(iterator)[-1]  # the last batch of the epoch
    np.testing.assert_array_equal(np.count_nonzero(x.numpy(), axis=1), np.ones(BATCH))
    np.testing.assert_array_equal(y.numpy().max(axis=1), np.ones(BATCH))


def test_a_policy_chosen_by_the_user_is_kept():
    options = tf.data.Options()
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.FAIL
    dataset = tf.data.Dataset.range(8).batch(2).with_options(options)
    assert (
        checkpointable(dataset).options().experimental_external_state_policy
        == tf.data.experimental.ExternalStatePolicy.FAIL
    )


def _mapped(front):
    x, y = np.eye(N, dtype="float32"), np.arange(N) % CLASSES
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).map(front)


@pytest.mark.parametrize(
    "front",
    [
        lambda: MixupTransform(num_classes=CLASSES, seed=0),
        lambda: keras_mixup.MixupLayer(num_classes=CLASSES, seed=0),
    ],
    ids=["transform", "layer"],
)
@pytest.mark.parametrize("wrapped", [False, True], ids=["direct", "in-a-tf-function"])
def test_saving_the_plain_map_form_raises_our_error_naming_both_fixes(front, wrapped, tmp_path):
    """tf.data refuses the map function's state; the error says why and what to do,
    on the last line, instead of TensorFlow's "RngReadAndSkip is stateful"."""
    mixer = front()
    iterator = iter(_mapped(tf.function(lambda *e: mixer(*e)) if wrapped else mixer).prefetch(2))
    next(iterator)
    with pytest.raises(tf.errors.FailedPreconditionError) as caught:
        tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt"))
    message = str(caught.value)
    assert message.startswith("keras_mixup: this tf.data iterator cannot be saved")
    for words in (
        "dataset.apply(MixupTransform(...))",
        "keras_mixup.checkpointable(",
        "is stateful",
    ):
        assert words in message
    assert isinstance(caught.value.__cause__, tf.errors.FailedPreconditionError)


def test_other_stateful_pipelines_keep_tensorflows_own_error(tmp_path):
    _mapped(MixupTransform(num_classes=CLASSES, seed=0))  # the map form was traced
    x = np.zeros((8, 2), "float32")
    dataset = (
        tf.data.Dataset.from_tensor_slices(x).batch(2).map(lambda t: t + tf.random.uniform([]))
    )
    iterator = iter(dataset)
    next(iterator)
    with pytest.raises(tf.errors.FailedPreconditionError) as caught:
        tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt"))
    assert "keras_mixup" not in str(caught.value)
    assert "RandomUniform is stateful" in str(caught.value)


def test_checkpointable_map_form_and_eager_calls_still_save(tmp_path):
    transform = MixupTransform(num_classes=CLASSES, seed=0)
    transform(tf.eye(4), tf.range(4) % CLASSES)  # eager: no map function
    iterator = iter(checkpointable(_mapped(transform)))
    next(iterator)
    tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt"))

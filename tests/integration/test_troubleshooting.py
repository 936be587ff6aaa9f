"""docs/troubleshooting.md quotes the errors users meet; each quote is checked here against the
error the library (or Keras) raises today for the mistake the page describes, so the page cannot
drift from the messages. A quote is the first plain fenced block under a heading; it may end in
`...` (the rest of the message is elided); whitespace is compared loosely."""

import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixup

PAGE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"


def quotes() -> dict[str, str]:
    """{heading: the quoted error} for every section of the page that quotes one."""
    found = {}
    for section in re.split(r"^## ", PAGE.read_text(), flags=re.M)[1:]:
        heading, _, body = section.partition("\n")
        # fenced blocks in order, each (its opening line, its text); a plain one quotes
        blocks = re.findall(r"^(```[a-z]*)\n(.*?)^```$", body, re.M | re.S)
        quoted = [text for opening, text in blocks if opening == "```"]
        if quoted:
            found[heading.strip()] = quoted[0]
    return found


def squash(text: str) -> str:
    """Whitespace collapsed, terminal colour codes (Keras bolds a layer's message) removed."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())


def assert_quoted(heading_part: str, error: BaseException) -> None:
    (heading,) = [h for h in quotes() if heading_part in h]
    quote = squash(quotes()[heading])
    quote = quote[: -len("...")].rstrip() if quote.endswith("...") else quote
    actual = squash(f"{type(error).__name__}: {error}")
    assert actual.startswith(quote), f"docs/troubleshooting.md, {heading!r}:\n{quote}\nvs\n{actual}"


def small_classifier(num_classes=10, first=()):
    return keras.Sequential(
        [keras.Input((8, 8, 3)), *first, keras.layers.Flatten(), keras.layers.Dense(num_classes)]
    )


def images_and_ids(n=32, num_classes=10):
    rng = np.random.default_rng(0)
    return rng.random((n, 8, 8, 3), dtype="float32"), rng.integers(0, num_classes, n)


def test_every_quoted_error_is_checked():
    checked = {
        "rank (ndim)", "no MixupLoss", "class ids in", "needs `num_classes`", "will not guess",
        "not batched", "cannot be saved", "ragged", "keras_mixup needs TensorFlow",
        "whole numbers",
    }  # fmt: skip
    headings = list(quotes())
    unchecked = [h for h in headings if not any(part in h for part in checked)]
    assert not unchecked, f"quoted errors without a check here: {unchecked}"
    assert len(headings) == len(checked)


def test_sparse_loss_after_the_transform():
    x, y = images_and_ids()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    data = data.apply(keras_mixup.MixupTransform(alpha=0.2, num_classes=10, seed=0))
    model = small_classifier()
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError) as error:
        model.fit(data, epochs=1, verbose=0)
    assert_quoted("rank (ndim)", error.value)
    # The fix the page gives trains.
    model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    assert np.isfinite(model.fit(data, epochs=1, verbose=0).history["loss"][0])


def test_layer_without_its_loss():
    x, y = images_and_ids()
    # named as a fresh session names it: the page quotes 'mixup_layer', not 'mixup_layer_3'
    mixup = keras_mixup.MixupLayer(alpha=0.2, seed=0, name="mixup_layer")
    model = small_classifier(first=[mixup])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError) as error:
        model.fit(x, y, epochs=1, verbose=0)
    assert_quoted("no MixupLoss", error.value)


def test_ids_out_of_range():
    x, _ = images_and_ids()
    with pytest.raises(ValueError) as error:
        keras_mixup.MixupTransform(alpha=0.2, num_classes=5, seed=0)(x, np.arange(32) % 6)
    assert_quoted("class ids in", error.value)


def test_float_labels_that_are_not_ids_read_the_same_in_numpy_and_tf_data():
    """0.5 among float labels given num_classes: our ValueError on NumPy batches; in tf.data
    TensorFlow's error carries the same words, with nothing escaped (it C-escapes quotes)."""
    x, _ = images_and_ids(8)
    labels = np.array([0, 1, 0.5, 1, 0, 1, 0, 1], "float32")
    transform = keras_mixup.MixupTransform(alpha=1.0, num_classes=2, seed=0)
    with pytest.raises(ValueError) as error:
        transform(x, labels)
    assert_quoted("whole numbers", error.value)
    words = str(error.value).removesuffix(" The first offending value is 0.5.")
    for form in ("map", "apply"):
        data = tf.data.Dataset.from_tensor_slices((x, labels)).batch(8)
        data = data.map(transform) if form == "map" else data.apply(transform)
        with pytest.raises(tf.errors.InvalidArgumentError) as error:
            next(iter(data))
        message = str(error.value)
        assert "\\" not in message and words in message, message
        assert "[The first offending value is] [0.5]" in message


def test_integer_ids_without_num_classes():
    x, y = images_and_ids()
    with pytest.raises(ValueError) as error:
        keras_mixup.MixupTransform(alpha=0.2, seed=0)(x, y.astype("int64"))
    assert_quoted("needs `num_classes`", error.value)


def test_one_num_classes_for_float_ids_and_a_regression_target():
    x, y = images_and_ids()
    labels = {"cls": y.astype("float32"), "reg": np.linspace(0, 1, 32, dtype="float32")}
    with pytest.raises(ValueError) as error:
        keras_mixup.MixupTransform(alpha=0.2, num_classes=10, seed=0)(x, labels)
    assert_quoted("will not guess", error.value)
    # The fix the page gives mixes.
    fixed = keras_mixup.MixupTransform(alpha=0.2, num_classes={"cls": 10, "reg": None}, seed=0)
    _, mixed = fixed(x, labels)
    assert mixed["cls"].shape == (32, 10) and mixed["reg"].shape == (32,)


def test_unbatched_element():
    x, y = images_and_ids()
    data = tf.data.Dataset.from_tensor_slices((x, y))
    with pytest.raises(ValueError) as error:
        data.map(keras_mixup.MixupTransform(alpha=0.2, num_classes=10, seed=0))
    assert_quoted("not batched", error.value)


def test_map_form_iterator_checkpoint(tmp_path):
    x, y = images_and_ids()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    data = data.map(keras_mixup.MixupTransform(alpha=0.2, num_classes=10, seed=0))
    iterator = iter(data)
    next(iterator)
    with pytest.raises(tf.errors.FailedPreconditionError) as error:
        tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt"))
    assert_quoted("cannot be saved", error.value)


def test_ragged_features():
    features = tf.ragged.constant([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0], [7.0]])
    data = tf.data.Dataset.from_tensor_slices((features, np.arange(4) % 2)).ragged_batch(4)
    with pytest.raises(TypeError) as error:
        data.map(keras_mixup.MixupTransform(alpha=0.2, num_classes=2, seed=0))
    assert_quoted("ragged", error.value)


def test_tf_data_function_without_tensorflow():
    """Where TensorFlow is not installed (simulated: `sys.modules["tensorflow"] = None` makes its
    import fail), a tf.data function of keras_mixup says what to install and what works
    without it."""
    program = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "import keras_mixup\n"
        "try:\n"
        "    keras_mixup.checkpointable(None)\n"
        "except ImportError as error:\n"
        "    print(f'{type(error).__name__}: {error}')\n"
    )
    env = {"KERAS_BACKEND": "jax", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         timeout=300, env=env, check=True).stdout  # fmt: skip
    (heading,) = [h for h in quotes() if "keras_mixup needs TensorFlow" in h]
    quote = squash(quotes()[heading]).removesuffix("...").rstrip()
    assert squash(out).startswith(quote), (quote, out)


def test_tensorflow_cuda_log_lines_and_how_the_page_silences_them():
    """The page's cuInit section: TensorFlow's line is what it quotes (where this machine has
    no GPU driver, TensorFlow prints it at level 2), and level 3 silences it."""
    section = PAGE.read_text().split('## "failed call to cuInit')[1]
    program = "import tensorflow as tf; tf.constant(1.0) + 1"

    def stderr(level: str) -> str:
        env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": level}
        return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                              timeout=300, env=env, check=True).stderr  # fmt: skip

    printed = stderr("2")
    if "cuInit" in printed:  # no GPU driver here: the page quotes TensorFlow's line
        line = next(line for line in printed.splitlines() if "cuInit" in line)
        quoted = next(q for q in section.splitlines() if "cuInit" in q and q.startswith("E0000"))
        assert line.split("]", 1)[1] == quoted.split("]", 1)[1], (line, quoted)
    assert "cuInit" not in stderr("3")
    assert 'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"' in section


def test_a_graph_assert_quotes_with_backticks_and_keeps_apostrophes():
    """TensorFlow C-escapes an assert's strings: quoted names become backticked ones; an
    apostrophe inside a word is left as it is (TensorFlow escapes it, no word is garbled)."""
    from keras_mixup._src.bindings.tf_ops import TENSORFLOW

    @tf.function
    def checked(x):
        message = "`labels` of {'cls': 8} must be ids; the layer's rule says so."
        with tf.control_dependencies(TENSORFLOW.check(x > 0, message, lambda: x)):
            return tf.identity(x)

    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        checked(tf.constant(-3))
    text = str(error.value)
    assert "{`cls`: 8}" in text and "layer\\'s rule" in text and "[-3]" in text

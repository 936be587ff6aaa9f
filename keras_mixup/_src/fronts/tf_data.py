"""The tf.data front's machinery, shared by `MixupTransform` and by `MixupLayer`
mapped over a tf.data dataset: element checks kept outside the compiled part,
one compiled draw-and-apply per batch, and the two ways to seed it (the `map`
form's generator, the `apply` form's stateless per-batch seeds).

It takes TensorFlow from `tf_ops.py`, the only module that imports it (on first
use of a tf.data front, with an ImportError that says what to install).
"""

from __future__ import annotations

import functools

from keras_mixup._src.bindings.tf_ops import TENSORFLOW, tf
from keras_mixup._src.core.elements import parse_element
from keras_mixup._src.core.structures import Parts

# Mixed into the per-batch seeds of the `apply` form; any constant works, it only
# separates keras_mixup's stream from other users of the same seed.
_APPLY_SEED_SALT = 0x6D697875  # "mixu"


def checkpointable(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` with tf.data's external-state policy set to IGNORE, unless the
    user chose a policy (see `keras_mixup.checkpointable`)."""
    if dataset.options().experimental_external_state_policy is not None:
        return dataset
    options = tf.data.Options()
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    return dataset.with_options(options)


# The name scope of the `map` form's ops, by which a dataset that mixes with it is
# recognized when its iterator fails to save.
_MAP_FORM_SCOPE = "keras_mixup_map_form"


class MapFormCheckpointError(tf.errors.FailedPreconditionError):
    """An iterator of a dataset mixed with the plain `map` form cannot be saved.

    A `FailedPreconditionError` (what TensorFlow raises for the same failure),
    with keras_mixup's explanation and the two fixes.
    """


_MAP_FORM_CHECKPOINT_MESSAGE = (
    "keras_mixup: this tf.data iterator cannot be saved: its dataset mixes with the plain map "
    "form, `dataset.map(MixupTransform(...))` (or `.map(MixupLayer(...))`), whose map function "
    "draws its seeds from a generator and reads the run-time settings (alpha, ...) from "
    "variables, state outside the dataset that tf.data will not save (TensorFlow says: {what}). "
    "Either mix with `dataset.apply(MixupTransform(...))` (checkpointable as it is; a restored "
    "iterator yields the same batches as an uninterrupted run), or wrap the mapped dataset, "
    "`keras_mixup.checkpointable(dataset.map(transform))` (a restored iterator resumes at the "
    "same position in the data, mixed with fresh parameters). See docs/guide.md, "
    '"Checkpointing a pipeline mid-epoch".'
)


def _mixes_with_map_form(dataset) -> bool:
    """Whether `dataset` or a dataset upstream of it maps with the `map` form (its
    map function, or a function that it calls, holds ops in `_MAP_FORM_SCOPE`)."""
    pending, seen = [dataset], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        function = getattr(getattr(current, "_map_func", None), "function", None)
        if function is not None:
            graph = function.graph.as_graph_def()
            names = [node.name for node in graph.node] + [
                node.name for called in graph.library.function for node in called.node_def
            ]
            if any(_MAP_FORM_SCOPE in name for name in names):
                return True
        inputs = getattr(current, "_inputs", None)
        pending.extend(inputs() if callable(inputs) else ())
    return False


def _explain_map_form_failure(save):
    """`save` (a method of TensorFlow's iterator that serializes its state), raising
    `MapFormCheckpointError` where TensorFlow's own error would name only an op."""

    @functools.wraps(save)
    def explained(iterator, *args, **kwargs):
        try:
            return save(iterator, *args, **kwargs)
        except tf.errors.FailedPreconditionError as error:
            if "is stateful" not in str(error) or not _mixes_with_map_form(
                getattr(iterator, "_dataset", None)
            ):
                raise
            what = str(error).split("}}")[-1].split("[Op:")[0].strip() or "state"
            raise MapFormCheckpointError(
                None, None, _MAP_FORM_CHECKPOINT_MESSAGE.format(what=repr(what))
            ) from error

    explained._keras_mixup_explains = True
    return explained


@functools.cache
def _explain_map_form_checkpoint_failures() -> None:
    """Makes saving an iterator of a `map`-form dataset raise keras_mixup's error.

    tf.data refuses to serialize a map function that holds state, deep inside
    TensorFlow's checkpoint code, with an error that names an op
    ("RngReadAndSkip is stateful") and neither the cause nor the fix, and it
    offers no hook. This wraps the two methods of TensorFlow's eager iterator
    that serialize it (`tf.train.Checkpoint`, `iterator.save()`): they behave as
    before, except that this failure, on a dataset mixed with the `map` form,
    raises `MapFormCheckpointError` instead (TensorFlow's error chained as its
    cause). Installed when the `map` form is first traced, so a program that
    never uses it runs TensorFlow untouched; a TensorFlow without those methods
    keeps its own error.
    """
    try:
        from tensorflow.python.data.ops.iterator_ops import OwnedIterator
    except ImportError:  # pragma: no cover - a TensorFlow that moved its iterator
        return
    for name in ("_serialize_to_tensors", "_save"):
        method = OwnedIterator.__dict__.get(name)
        if callable(method) and not getattr(method, "_keras_mixup_explains", False):
            setattr(OwnedIterator, name, _explain_map_form_failure(method))


class TFDataMixer:
    """Mixes tf.data elements for a front.

    `front` provides `spec` (its current `MixSpec`) and `runtime` (its
    `RuntimeVariables`); `feature_dtype` and `floating_dtype` are the output
    dtypes of integer and floating features (`mixing.mix_parts`; the layer gives
    its compute dtype for both).
    """

    def __init__(
        self, front, *, owner: str, seed, feature_dtype: str, jit_compile: bool, floating_dtype=None
    ):
        self.front = front
        self.owner = owner
        self.seed = seed
        self.feature_dtype = feature_dtype
        self.floating_dtype = floating_dtype
        self._generator = None
        self.front.runtime.tf_variable()  # before any function is traced
        self._compiled = tf.function(
            tf.autograph.experimental.do_not_convert(self._mix_with_seed),
            jit_compile=jit_compile,
            reduce_retracing=True,
        )

    def generator(self) -> tf.random.Generator:
        """The `map` form's seed source, made outside any function being traced."""
        if self._generator is None:
            with tf.init_scope(), tf.device("/CPU:0"):
                self._generator = (
                    tf.random.Generator.from_seed(self.seed)
                    if self.seed is not None
                    else tf.random.Generator.from_non_deterministic_state()
                )
        return self._generator

    def map_element(self, args: tuple, training: bool = True):
        """`dataset.map(front)`: one element, with a seed from the generator."""
        parts, pack = parse_element(args, self.owner)
        if not training:
            return pack(self.convert(parts))
        if not tf.executing_eagerly():  # traced: a map function, perhaps of tf.data
            _explain_map_form_checkpoint_failures()
        with tf.name_scope(_MAP_FORM_SCOPE):
            seed = self.generator().make_seeds(1)[:, 0]
            return pack(self.mix(parts, seed))

    def _checked(self, parts: Parts) -> tuple[Parts, list]:
        """`parts` with tensors for features, and the assert ops of their run-time checks."""
        parts = parts._replace(features=tf.nest.map_structure(tf.convert_to_tensor, parts.features))
        return parts, self.front.spec.check(parts, self.owner, ops=TENSORFLOW)

    def convert(self, parts: Parts) -> Parts:
        """The element converted as for mixing, not mixed (`training=False`)."""
        parts, checks = self._checked(parts)
        if checks:
            with tf.control_dependencies(checks):
                parts = Parts(
                    *(None if p is None else tf.nest.map_structure(tf.identity, p) for p in parts)
                )
        return self.front.spec.apply(
            parts,
            None,
            feature_dtype=self.feature_dtype,
            floating_dtype=self.floating_dtype,
            boxes_as_mixed=False,
            ops=TENSORFLOW,
        )

    def mix(self, parts: Parts, seed) -> Parts:
        """Checks `parts` (outside XLA, which drops assertions) and mixes them with
        parameters from `seed`: the checks gate the compiled call itself."""
        parts, checks = self._checked(parts)
        with tf.control_dependencies(checks):
            return self._compiled(parts, seed)

    def _mix_with_seed(self, parts: Parts, seed) -> Parts:
        spec = self.front.spec
        values = self.front.runtime.tf_values()
        return spec.mix(
            parts,
            seed,
            values,
            owner=self.owner,
            feature_dtype=self.feature_dtype,
            floating_dtype=self.floating_dtype,
            ops=TENSORFLOW,
        )

    def apply_to_dataset(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """`dataset.apply(front)`: every batch with its own stateless seed."""
        seeds = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True)

        def mix_element(element, random_value):
            parts, pack = parse_element((element,), self.owner)
            # Both halves of the 64-bit random value; the salt separates the stream.
            seed = tf.stack(
                [
                    tf.cast(random_value, tf.int32),
                    tf.bitwise.bitwise_xor(
                        tf.cast(tf.bitwise.right_shift(random_value, 32), tf.int32),
                        _APPLY_SEED_SALT,
                    ),
                ]
            )
            return pack(self.mix(parts, seed))

        mixed = tf.data.Dataset.zip(dataset, seeds).map(
            tf.autograph.experimental.do_not_convert(mix_element),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        return checkpointable(mixed)

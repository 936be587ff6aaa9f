"""Where a `MixupLayer` is called from, read from Python's stack and TensorFlow's graph
state: by another Keras layer or model, or directly (a data pipeline, the user); under
Keras's shape inference; in which TensorFlow graph. Keras has no public getter for its
call context, so these read what it leaves on the stack, without its private modules."""

from __future__ import annotations

import sys

import keras

from keras_mixup._src.bindings.ops import in_tensorflow_graph


def enclosing_keras_calls():
    """`(called_by_another_layer, in_shape_inference)`, read from Python's stack: whether
    another Keras layer or model is calling this one (`keras.layers.Layer.__call__` of an
    object other than the caller's own), and whether Keras is tracing layers only for
    their outputs' shapes and dtypes (`compute_output_spec`: a layer's, e.g. of a
    `keras.layers.Pipeline` in a model being built, or the backend's, with which Keras
    builds a layer by running it on symbolic inputs). Keras has no public getter for its
    call context; these functions on the stack say the same, without its private modules
    (`in_grain_pipeline` reads the stack the same way)."""
    frame = sys._getframe(2)  # the caller's caller: the MixupLayer method asking
    caller = frame.f_locals.get("self")
    called, shapes = False, False
    while frame is not None:
        name = frame.f_code.co_name
        if name in ("__call__", "compute_output_spec"):
            owner = frame.f_locals.get("self")
            is_layer = isinstance(owner, keras.layers.Layer)
            called |= name == "__call__" and is_layer and owner is not caller
            in_keras = frame.f_globals.get("__name__", "").startswith("keras.")
            shapes |= name == "compute_output_spec" and (is_layer or in_keras)
        frame = frame.f_back
    return called, shapes


def outermost_call() -> bool:
    """Whether no other Keras layer or model is calling this one (a data pipeline,
    or the user, calls it directly)."""
    return not enclosing_keras_calls()[0]


def shape_inference() -> bool:
    """Whether Keras is tracing the layer only for its output's shape and dtype
    (`compute_output_spec`, e.g. of a `keras.layers.Pipeline` in a model being built)."""
    return enclosing_keras_calls()[1]


def current_graph():
    if not in_tensorflow_graph():
        return None
    from keras_mixup._src.bindings.tf_ops import tf

    return tf.compat.v1.get_default_graph()

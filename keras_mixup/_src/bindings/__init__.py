"""The ops interface the core is written against (`binding.py`) and its three bindings:
NumPy on the host, `keras.ops` on the backend's tensors (`ops.py`), TensorFlow for tf.data
graphs (`tf_ops.py`, imported on first use). Imports nothing else of keras_mixup."""

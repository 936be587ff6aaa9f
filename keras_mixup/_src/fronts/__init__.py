"""Where values come from and go to, side by side on `core.spec.MixSpec`: the tf.data
transform (`transform.py`, with the tf.data machinery of `tf_data.py`), the layer
(`layer.py`), its loss and metric (`losses.py`, `metrics.py`), schedules, `NeighbourMixup`
and `plot_batch`. Imports `core` and `bindings`."""

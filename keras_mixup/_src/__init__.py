"""keras_mixup's inside: private, may change in any release. The public API is
what `keras_mixup/__init__.py` exports, and the submodules `adversarial`,
`diagnostics` and `neighbours`.

Four subpackages, each importing only those listed before it (`tests/core/test_core.py`
holds the rule; `docs/design.md` draws it):

- `bindings`: the small ops interface and its NumPy, `keras.ops` and TensorFlow bindings;
- `core`: everything that decides a value: the random primitives, the mixing methods
  (`core/methods/`), the sampler, the blend, the element parser, the label rules, the
  option table and `MixSpec`;
- `fronts`: where values come from and go to: `MixupTransform`, `MixupLayer`, its loss
  and metric, the tf.data machinery, schedules, `NeighbourMixup`, `plot_batch`;
- `paper`: the paper's analysis tools (the mixup-aware predictor, FGSM / I-FGSM,
  the diagnostics), on `core` and `bindings` only.
"""

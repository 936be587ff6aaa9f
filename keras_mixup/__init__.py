"""keras_mixup: mixup (Zhang et al., ICLR 2018) for Keras 3, on TensorFlow, JAX and PyTorch.

- `MixupTransform`: mixup as a transformation of batched elements (tf.data,
  Grain, NumPy batches).
- `MixupLayer` + `MixupLoss`: mixup inside a Keras model, targets mixed in the loss;
  `MixupAccuracy`: the training accuracy that matches mixed targets.
- `sample_mix_params` / `MixParams`: the random parameters (drawn in one place);
  `blend`: their application (pure arithmetic).
- `AlphaScheduler` / `alpha_schedule`: alpha that changes during training (warm-up,
  mixup off for the last epochs), for both the transform and the layer.
- `checkpointable`: lets `tf.train.Checkpoint` save a mapped pipeline's iterator.
- `plot_batch`: a grid of mixed images with their target weights, boxes and masks.
- `mixup_aware_predictor`, `theta_bar`, `input_mean`: the test-time transformation of
  Carratino et al. (2020) for models trained with mixup.
- `methods`: the mixing methods (`Mixup`, `CutMix`, `GridMix`, `FMix`, `SmoothMix`,
  `ResizeMix`, `Mosaic`) the fronts compose with `methods=[...]`.
- `ManifoldMixup`: mixing points anywhere in a model, one chosen per training step
  (Verma et al., 2019).
- `neighbours`: mixing with nearest neighbours (`NeighbourMixup`, Table 5's KNN rows).
- `adversarial`: FGSM, I-FGSM and a white-box / black-box evaluator (Table 3).
- `diagnostics`: behaviour in between examples (Figure 2) and calibration.

This file is the whole public API (with the four submodules above); everything
under `keras_mixup._src` is private. `import keras_mixup` needs Keras and NumPy
only: TensorFlow is imported on first use of a tf.data pipeline.
"""

from keras_mixup import adversarial, diagnostics, methods, neighbours
from keras_mixup._src.core.methods.mixup import sample_beta
from keras_mixup._src.core.mixing import blend
from keras_mixup._src.core.sampler import sample_mix_params
from keras_mixup._src.core.structures import MixParams
from keras_mixup._src.fronts.layer import MixupLayer
from keras_mixup._src.fronts.losses import MixupLoss
from keras_mixup._src.fronts.manifold import ManifoldMixup
from keras_mixup._src.fronts.metrics import MixupAccuracy
from keras_mixup._src.fronts.plotting import plot_batch
from keras_mixup._src.fronts.schedule import AlphaScheduler, alpha_schedule
from keras_mixup._src.fronts.transform import MixupTransform, checkpointable
from keras_mixup._src.paper.prediction import input_mean, mixup_aware_predictor, theta_bar
from keras_mixup.neighbours import NeighbourMixup, nearest_neighbours

__version__ = "0.3.0.dev0"

__all__ = [
    "AlphaScheduler",
    "alpha_schedule",
    "checkpointable",
    "ManifoldMixup",
    "MixParams",
    "adversarial",
    "diagnostics",
    "MixupAccuracy",
    "MixupLayer",
    "MixupLoss",
    "MixupTransform",
    "methods",
    "NeighbourMixup",
    "nearest_neighbours",
    "neighbours",
    "blend",
    "plot_batch",
    "input_mean",
    "mixup_aware_predictor",
    "sample_beta",
    "sample_mix_params",
    "theta_bar",
]

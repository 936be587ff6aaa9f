"""The mixing methods, one class each, that `MixupTransform`, `MixupLayer` and
`sample_mix_params` compose with `methods=[...]` (and `method_probs` for the choice):

    from keras_mixup import methods
    transform = MixupTransform(methods=[methods.Mixup(0.8), methods.CutMix(1.0)])

Not Keras's preprocessing layers `keras.layers.MixUp` / `keras.layers.CutMix`: these are
options for keras_mixup's fronts, immutable values that serialize with Keras.
"""

from keras_mixup._src.core.methods import MixingMethod
from keras_mixup._src.core.methods.cutmix import CutMix
from keras_mixup._src.core.methods.fmix import FMix
from keras_mixup._src.core.methods.gridmix import GridMix
from keras_mixup._src.core.methods.mixup import Mixup
from keras_mixup._src.core.methods.mosaic import Mosaic
from keras_mixup._src.core.methods.resizemix import ResizeMix
from keras_mixup._src.core.methods.saliencymix import SaliencyMix
from keras_mixup._src.core.methods.smoothmix import SmoothMix

__all__ = [
    "CutMix",
    "FMix",
    "GridMix",
    "Mixup",
    "MixingMethod",
    "Mosaic",
    "ResizeMix",
    "SaliencyMix",
    "SmoothMix",
]

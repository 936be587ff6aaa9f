"""The mixing methods, one module each (see `base.Method` for the interface).

`METHODS` is the registry: the methods a mixer can choose among, in the order the
sampler's choice numbers them. The first is the default: the one chosen where no
other is (see `sampler.choose`). Adding a method: its module (its `Method` and its public class), a line
here, the export in `keras_mixup/methods.py`, its tests and its docs.
"""

from __future__ import annotations

from keras_mixup._src.core.methods.base import Batch, Build, Draw, Method, MixingMethod, Option
from keras_mixup._src.core.methods.cutmix import CUTMIX, CutMix
from keras_mixup._src.core.methods.fmix import FMIX, FMix
from keras_mixup._src.core.methods.gridmix import GRIDMIX, GridMix
from keras_mixup._src.core.methods.mixup import MIXUP, Mixup
from keras_mixup._src.core.methods.mosaic import MOSAIC, Mosaic
from keras_mixup._src.core.methods.resizemix import RESIZEMIX, ResizeMix
from keras_mixup._src.core.methods.saliencymix import SALIENCYMIX, SaliencyMix
from keras_mixup._src.core.methods.smoothmix import SMOOTHMIX, SmoothMix

METHODS: tuple[Method, ...] = (
    MIXUP,
    CUTMIX,
    GRIDMIX,
    FMIX,
    SMOOTHMIX,
    RESIZEMIX,
    MOSAIC,
    SALIENCYMIX,
)
# the public class of each method (keras_mixup.methods), by the method's name
CLASSES: dict[str, type[MixingMethod]] = {
    cls.method.name: cls
    for cls in (Mixup, CutMix, GridMix, FMix, SmoothMix, ResizeMix, Mosaic, SaliencyMix)
}
assert tuple(CLASSES) == tuple(method.name for method in METHODS)

__all__ = ["Batch", "Build", "CLASSES", "Draw", "METHODS", "Method", "MixingMethod", "Option"]

"""The mixing methods, one module each (see `base.Method` for the interface).

`METHODS` is the registry: the methods a mixer can choose among, in the order the
sampler's choice numbers them. The first is the default: the one chosen where no
other is (see `sampler.choose`). Adding a method: its module, a line here, its
tests and its docs.
"""

from __future__ import annotations

from keras_mixup._src.core.methods.base import Build, Draw, Method, Option
from keras_mixup._src.core.methods.cutmix import CUTMIX
from keras_mixup._src.core.methods.fmix import FMIX
from keras_mixup._src.core.methods.gridmix import GRIDMIX
from keras_mixup._src.core.methods.mixup import MIXUP
from keras_mixup._src.core.methods.mosaic import MOSAIC
from keras_mixup._src.core.methods.resizemix import RESIZEMIX
from keras_mixup._src.core.methods.smoothmix import SMOOTHMIX

METHODS: tuple[Method, ...] = (MIXUP, CUTMIX, GRIDMIX, FMIX, SMOOTHMIX, RESIZEMIX, MOSAIC)

__all__ = ["Build", "Draw", "METHODS", "Method", "Option"]

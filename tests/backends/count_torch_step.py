"""The torch work of one eager training step of `MixupLayer` + `MixupLoss`, counted.

Run as `KERAS_BACKEND=torch python tests/backends/count_torch_step.py` (a fresh process:
the backend is fixed when Keras is imported). Prints one JSON line: for the layer's
forward pass and for the loss, the number of torch function calls (every op and tensor
method dispatched through `torch.overrides`), the tensors read back to the host
(`Tensor.__array__`, `.item()`, `.tolist()`, `bool()`, `int()`, `float()`: a device sync each
on a GPU) and the NumPy arrays and scalars moved to a torch tensor. Attribute reads (`.shape`,
`.dtype`) are not counted. `tests/integration/test_eager_step.py` holds the counts to
a budget, so that work added to the eager path (which is what PyTorch users pay every
step) shows as a failing count, not as a timing that noise hides.
"""

from __future__ import annotations

import collections
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

import keras_mixup  # noqa: E402

READS = {"__array__", "item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__"}


class Count(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = collections.Counter()
        self.moved_from_numpy = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name != "__get__":  # attribute reads (shape, dtype, device): not work
            self.calls[name] += 1
        if name in ("as_tensor", "tensor", "from_numpy") and isinstance(
            args[0], np.ndarray | np.generic
        ):
            self.moved_from_numpy += 1
        return func(*args, **(kwargs or {}))

    def summary(self) -> dict:
        return {
            "torch_calls": sum(self.calls.values()),
            "host_reads": sum(n for name, n in self.calls.items() if name in READS),
            "moved_from_numpy": self.moved_from_numpy,
            "calls": dict(self.calls.most_common()),
        }


def main() -> dict:
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.random((128, 32, 32, 3), dtype=np.float32))
    y = torch.as_tensor(rng.integers(0, 10, 128))
    predictions = torch.as_tensor(rng.random((128, 10), dtype=np.float32))
    layer = keras_mixup.MixupLayer(alpha=0.2, seed=0)
    loss = keras_mixup.MixupLoss("sparse_categorical_crossentropy", layer=layer, from_logits=True)
    layer(x, training=True)  # the first step builds what later steps reuse
    loss(y, predictions)
    with Count() as forward:
        layer(x, training=True)
    with Count() as targets:
        loss(y, predictions)
    with Count() as plain:  # the wrapped loss alone, for scale
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, predictions)
    return {
        "layer": forward.summary(),
        "loss": targets.summary(),
        "plain_loss": plain.summary(),
        "keras": keras.__version__,
        "torch": torch.__version__,
    }


if __name__ == "__main__":
    print(json.dumps(main()))

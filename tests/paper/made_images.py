"""Images in the format of `examples/_support/real_images.load`, made here: the paper tests
run the real-image paths without downloading."""

import numpy as np


def fashion_like(train: int, test: int, seed: int = 0) -> tuple:
    """`(x_train, y_train, x_test, y_test, source)`: uint8 [n, 28, 28] images whose brightness
    follows their int64 class id (learnable), and the source line "made in the test"."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, train + test).astype(np.int64)
    images = (rng.random((train + test, 28, 28)) * 60 + labels[:, None, None] * 19).astype(np.uint8)
    return images[:train], labels[:train], images[train:], labels[train:], "made in the test"

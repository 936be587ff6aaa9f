"""Where the fronts' seeds come from, outside tf.data and the train step.

A seed is two 32-bit integers; `sampling.py` turns it into draws. In a model,
`MixupLayer` takes its seeds from its `keras.random.SeedGenerator`; in tf.data
the fronts use `tf_data.py`; on NumPy batches (Grain, generators, `PyDataset`)
they use a `HostSeeds` counter, or the generator that Grain's `random_map`
passes (deterministic per seed and record index, and so resumable with Grain's
checkpoints).
"""

from __future__ import annotations

import threading

import numpy as np


class HostSeeds:
    """Seeds `[key, 0], [key, 1], ...` on the host for a front's `seed` (a fresh
    random key for `seed=None`). Thread-safe: parallel workers of one process
    take distinct seeds, in an order that depends on scheduling."""

    def __init__(self, seed: int | None):
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.key = np.int32(np.uint32(seed & 0xFFFFFFFF).view(np.int32))
        self._count = 0
        self._lock = threading.Lock()

    def next(self) -> np.ndarray:
        with self._lock:
            count, self._count = self._count, self._count + 1
        return np.array([self.key, np.uint32(count & 0xFFFFFFFF).view(np.int32)], np.int32)


def seed_from_generator(rng: np.random.Generator) -> np.ndarray:
    """A seed (int32 `[2]`) from a NumPy generator, e.g. the one Grain's
    `random_map` gives each record."""
    return rng.integers(
        np.iinfo(np.int32).min, np.iinfo(np.int32).max, size=2, dtype=np.int32, endpoint=True
    )

"""Mixing with nearest neighbours: the "KNN" rows of the paper's Table 5."""

from keras_mixup._src.fronts.neighbours import NeighbourMixup, nearest_neighbours

__all__ = ["NeighbourMixup", "nearest_neighbours"]

"""Diagnostics for mixup-trained models: behaviour in between examples (Figure 2) and calibration."""

from keras_mixup._src.paper.diagnostics import (
    expected_calibration_error,
    in_between,
    plot_in_between,
    probabilities,
    reliability_bins,
    reliability_diagram,
)

__all__ = [
    "expected_calibration_error",
    "in_between",
    "plot_in_between",
    "probabilities",
    "reliability_bins",
    "reliability_diagram",
]

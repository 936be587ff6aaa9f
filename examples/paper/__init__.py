"""The mixup paper's tables and figures, reproduced with keras_mixup.

Run from the repository root, e.g. `python -m examples.paper.cifar --quick`; every module
has `--help` with its defaults. `python -m examples.paper.report` renders docs/results.md
from the committed JSON under `examples/paper/results/`.
"""

import os

from examples._support.tensorflow_log import filter_start_up_noise

# TensorFlow's C++ log: errors only. Its start-up lines about a missing GPU driver (one of them
# an "error") show whatever the level: filter_start_up_noise drops them (examples/_support).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
filter_start_up_noise()

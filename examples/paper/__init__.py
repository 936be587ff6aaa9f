"""The mixup paper's tables and figures, reproduced with keras_mixup.

Run from the repository root, e.g. `python -m examples.paper.cifar --quick`; every module
has `--help` with its defaults. `python -m examples.paper.report` renders docs/results.md
from the committed JSON under `examples/paper/results/`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

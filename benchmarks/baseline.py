"""keras_mixup as of an earlier commit, importable beside the working tree for
before/after timings in one run: `python -m benchmarks --baseline <commit>`.

The commit's `keras_mixup/` is extracted with `git archive` into a temporary
folder and renamed `keras_mixup_<commit>` (imports and Keras serialization
names included), with an empty top-level `__init__.py` so that only the modules
a benchmark asks for are imported (subpackages keep theirs). Nothing is written into the repository and
`sys.path` is not changed: the package is registered in `sys.modules` directly.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load(commit: str):
    """keras_mixup at `commit` as a package with the names the benchmarks use
    (`MixupTransform`, `MixupLayer`, `MixupLoss`) and `commit`."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", commit],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    name = f"keras_mixup_{sha}"
    if name not in sys.modules:
        archive = subprocess.run(
            ["git", "archive", sha, "keras_mixup"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        folder = Path(tempfile.mkdtemp(prefix="keras_mixup_baseline_")) / name
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(".py"):
                    source = tar.extractfile(member).read().decode()
                    target = folder / Path(member.name).relative_to("keras_mixup")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    # the package's own __init__ only: a subpackage's (_src/core/methods/) is kept
                    is_top = member.name == "keras_mixup/__init__.py"
                    target.write_text("" if is_top else source.replace("keras_mixup", name))
        spec = importlib.util.spec_from_file_location(
            name, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    package = sys.modules[name]
    package.commit = sha

    def module(stem):  # _src/fronts/<stem>.py, _src/<stem>.py (early 0.3), <stem>.py (0.2)
        for path in (f"{name}._src.fronts.{stem}", f"{name}._src.{stem}", f"{name}.{stem}"):
            try:
                return importlib.import_module(path)
            except ModuleNotFoundError:
                continue
        return None

    transform, layer, losses = module("transform"), module("layer"), module("losses")
    # the public names the benchmarks use (the package's __init__ is left empty)
    package.MixupTransform = transform.MixupTransform
    package.MixupLayer = layer.MixupLayer
    package.MixupLoss = (losses or layer).MixupLoss
    return package

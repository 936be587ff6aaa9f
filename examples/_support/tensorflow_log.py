"""TensorFlow's start-up log on a machine without a GPU driver, cut to what it means.

TensorFlow's wheels carry CUDA. On a machine without a GPU driver, starting TensorFlow logs:

- TensorFlow 2.19 and later: "WARNING: All log messages before absl::InitializeLog() is called
  are written to STDERR" then "I... cudart_stub.cc:31] Could not find cuda drivers on your
  machine, GPU will not be used.", twice, whatever TF_CPP_MIN_LOG_LEVEL says. Loading
  libtensorflow_framework.so.2, then _pywrap_profiler_plugin.so (each links its own copy of the
  logger), registers their CUDA kernels and looks for the CUDA runtime before the logger has
  read the level (tensorflow/tensorflow#100442).
- "E... failed call to cuInit: ... UNKNOWN ERROR (303)" when TensorFlow first lists its devices:
  303 is what its CUDA stub answers when there is no driver library (libcuda) to load. An ERROR,
  so TF_CPP_MIN_LOG_LEVEL=2 shows it; 3 would hide it, and every real error with it.
- TensorFlow 2.16 where CUDA libraries are installed: "E... Unable to register cuDNN factory:
  Attempting to register factory for plugin cuDNN when one has already been registered" (and
  cuFFT, cuBLAS): two of its libraries register the same plugins.

`filter_start_up_noise()` makes the process's first `import tensorflow` (wherever it happens:
`import keras` on the TensorFlow backend imports it) and its first listing of devices write to a
temporary file, then copies that to stderr without those lines, and without the lines below
TF_CPP_MIN_LOG_LEVEL that TensorFlow logged before it read the level. The rest (another error,
a Python warning) is copied as it was, in order. It changes no environment variable; a process
that never imports TensorFlow is unaffected; with TF_CPP_MIN_LOG_LEVEL=0 (all logs) nothing is
filtered.
"""

from __future__ import annotations

import importlib.abc
import os
import re
import sys
import tempfile

# A line of TensorFlow's C++ log: absl's "I0000 00:00:1796288788.466200   13731 cudart_stub.cc:31] "
# (TensorFlow 2.19 and later) or TSL's "2026-12-03 09:06:23.204699: I external/.../file.cc:32] "
# (2.16); the letter is the severity.
_LOG_LINE = re.compile(
    r"^(?:(?P<absl>[IWEF])\d{4} [\d:.]+ +\d+|[\d-]+ [\d:.]+: (?P<tsl>[IWEF])) \S+:\d+\] "
)
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}  # TF_CPP_MIN_LOG_LEVEL hides those below it
_NOISE = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    r"|\] failed call to cuInit: .*\(303\)$"
    r"|\] Unable to register (cuDNN|cuFFT|cuBLAS) factory: Attempting to register factory for "
    r"plugin \1 when one has already been registered$"
)


def filter_start_up_noise() -> None:
    """Filters the start-up log of the first `import tensorflow` to come (see the module's
    docstring). Call it before TensorFlow is imported, i.e. before `import keras`."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") == "0":
        return
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def filtered(log: str, min_level: int) -> str:
    """`log` without the lines of start-up noise and those below `min_level`."""
    kept = []
    for line in log.splitlines(keepends=True):
        header = _LOG_LINE.match(line)
        severity = header and _SEVERITY[header["absl"] or header["tsl"]]
        if _NOISE.search(line.rstrip("\n")) or (header and severity < min_level):
            continue
        kept.append(line)
    return "".join(kept)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the finders after it do, with a loader that filters its log."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1 :]:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(name, path, target) if find_spec else None
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader, self)
                return spec
        return None


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, finder):
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        if self.finder in sys.meta_path:  # once: this import is the first
            sys.meta_path.remove(self.finder)
        module.__loader__ = module.__spec__.loader = self.loader  # TensorFlow sees its own
        sys.stderr.flush()
        stderr = os.dup(2)
        with tempfile.TemporaryFile() as log:
            os.dup2(log.fileno(), 2)
            try:
                self.loader.exec_module(module)
                module.config.list_physical_devices()  # the first listing: cuInit
            finally:
                sys.stderr.flush()
                os.dup2(stderr, 2)
                os.close(stderr)
                log.seek(0)
                level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
                text = filtered(
                    log.read().decode(errors="replace"), int(level) if level.isdigit() else 0
                )
                data = text.encode()
                while data:
                    data = data[os.write(2, data) :]

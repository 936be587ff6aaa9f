"""Timing, environment and reporting helpers shared by the benchmark suites."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

# Set by `python -m benchmarks --baseline COMMIT [COMMIT ...]`: keras_mixup at those
# commits (benchmarks.baseline.load), timed beside the working tree's in the same rounds.
BASELINES: list = []


def device_name() -> str:
    """The accelerator the Keras backend runs on, or the CPU's model."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return f"{device.platform.upper()}: {device.device_kind} x{len(jax.devices())}"
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return ", ".join(d.name for d in gpus)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU: {cpu}"


def environment() -> dict:
    """Versions, device and commit; TensorFlow, JAX and PyTorch where installed."""
    import importlib.metadata

    import keras

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
        commit += "-dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    versions = {}
    for package in ("tensorflow", "jax", "torch", "timm", "torchvision"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        **versions,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": device_name(),
        "cpu_count": os.cpu_count(),
        "commit": commit,
        "time": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def interleaved_medians(
    candidates: dict,
    rounds: int,
    seconds_per_round: float,
    before_round: dict | None = None,
    base: str | None = None,
) -> dict:
    """Times each callable in interleaved rounds; returns, per candidate, the median,
    min and max seconds per call over the rounds and (with `base`) the median over
    rounds of the within-round ratio to `base`.

    Each round runs every candidate in turn for about `seconds_per_round`, so slow
    drifts of a shared, noisy machine hit all candidates of a round alike; the ratio
    of two candidates within one round is steadier than the ratio of their medians.
    Each candidate is a zero-argument callable that does one unit of work and blocks
    until it is done. `before_round[name]`, if given, runs untimed before each of
    that candidate's rounds (pipelines use it to drain the batches their prefetch
    buffer filled while the other candidates were timed).
    """
    before_round = before_round or {}
    samples = {name: [] for name in candidates}
    for run in candidates.values():  # warm-up: tracing, XLA compilation, caches
        run()
        run()
    for _ in range(rounds):
        for name, run in candidates.items():
            if name in before_round:
                before_round[name]()
            calls, start = 0, time.perf_counter()
            while True:
                run()
                calls += 1
                elapsed = time.perf_counter() - start
                if elapsed >= seconds_per_round:
                    break
            samples[name].append(elapsed / calls)
    summary = {}
    for name, values in samples.items():
        summary[name] = {
            "median_s": float(np.median(values)),
            "min_s": float(np.min(values)),
            "max_s": float(np.max(values)),
            "rounds": len(values),
            "per_round_s": [float(v) for v in values],
        }
        if base is not None:
            ratios = np.asarray(values) / np.asarray(samples[base])
            summary[name]["ratio_to_base"] = {
                "median": float(np.median(ratios)),
                "min": float(np.min(ratios)),
                "max": float(np.max(ratios)),
            }
    return summary


def within_round_ratio(timings: dict, numerator: str, denominator: str) -> float:
    """Median over rounds of `numerator`'s time over `denominator`'s in the same round."""
    a = np.asarray(timings[numerator]["per_round_s"])
    b = np.asarray(timings[denominator]["per_round_s"])
    return float(np.median(a / b))


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))

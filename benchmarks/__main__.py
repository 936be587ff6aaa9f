"""Run the keras_mixup benchmarks: `python -m benchmarks [--quick] [--only op pipeline model]`.

Prints the environment and one table per configuration, and writes JSON (one file
per suite plus `all.json`) to --output. `--quick` is a smoke run (seconds, CI); the
numbers in docs/benchmarks.md come from a full run.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import importlib  # noqa: E402

from benchmarks.common import environment, write_json  # noqa: E402

# Imported when selected: `op` and `model` run on any Keras backend without TensorFlow
# (a JAX or PyTorch GPU machine: `python -m benchmarks --only op model`); `pipeline` and
# `memory` measure tf.data and XLA through TensorFlow.
SUITES = {name: f"benchmarks.{name}" for name in ("op", "pipeline", "model", "memory")}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--only", nargs="+", choices=sorted(SUITES), default=list(SUITES))
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--plot", type=Path, default=None, help="write a throughput plot (PNG) here"
    )
    parser.add_argument(
        "--baseline",
        metavar="COMMIT",
        nargs="+",
        default=[],
        help="also time keras_mixup as of these commits in the same rounds (before/after)",
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        default=None,
        help="pipeline suite: only these configurations, e.g. cifar-float32 imagenet-uint8",
    )
    args = parser.parse_args(argv)
    if args.baseline:
        from benchmarks import baseline, common

        common.BASELINES[:] = [baseline.load(commit) for commit in args.baseline]
    if args.configs:
        importlib.import_module("benchmarks.pipeline").ONLY_CONFIGS = set(args.configs)

    env = environment()
    print(
        "keras_mixup benchmarks"
        + (" (quick smoke run: numbers are not meaningful)" if args.quick else "")
    )
    for key, value in env.items():
        print(f"  {key}: {value}")
    report = {"environment": env, "quick": args.quick, "baseline": args.baseline}
    if set(args.only) != set(SUITES):
        # A partial run updates the suites it ran and keeps the others' results.
        for name in set(SUITES) - set(args.only):
            path = args.output / f"{name}.json"
            if path.exists():
                report[name] = json.loads(path.read_text())[name]
    for name in args.only:
        report[name] = importlib.import_module(SUITES[name]).run(args.quick)
        report[name]["environment"] = env
        write_json(
            args.output / f"{name}.json",
            {"environment": env, "quick": args.quick, name: report[name]},
        )
    write_json(args.output / "all.json", report)
    if args.plot and "pipeline" in report:
        from benchmarks.plot import plot_pipeline

        plot_pipeline(report, args.plot)
        print(f"\nwrote {args.plot}")
    print(f"\nwrote {args.output}/")
    return report


if __name__ == "__main__":
    main()

"""Before / after from runs made with `--baseline COMMIT`: for each candidate timed both as
the working tree and as `keras_mixup@COMMIT` in the same rounds, the median over rounds of
the within-round ratio (after / before), with its min to max, per run and configuration.

    python -m benchmarks.before_after benchmarks/results/issue42/run1 \
        benchmarks/results/issue42/run2 --baseline 4db56d8 [--against "keras_mixup CutMix (XLA)"]

`--against NAME` adds each candidate's ratio to NAME (e.g. a new method beside CutMix).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SUITES = {"pipeline": "seconds_per_batch", "op": "seconds"}


def per_round(run: Path) -> dict:
    """`{(suite, configuration): {candidate: per-round seconds}}` of one run's results."""
    found = {}
    for suite, key in SUITES.items():
        path = run / f"{suite}.json"
        if not path.exists():
            continue
        for r in json.loads(path.read_text())[suite]["results"]:
            config = f"{r['shape']}-{r['input_dtype']}" + (
                "-augmented" if r.get("augmented") else ""
            )
            times = np.asarray(r[key]["per_round_s"])
            found.setdefault((suite, config), {})[r["implementation"]] = times
    return found


def ratios(times: dict, baseline: str, against: str | None) -> list[tuple]:
    """(candidate, reference, median, min, max) of the within-round ratios."""
    rows = []
    for name, after in times.items():
        prefix = f"keras_mixup@{baseline}"
        before = name.replace("keras_mixup", prefix, 1) if name.startswith("keras_mixup") else None
        pairs = [before] + ([against] if against and name != against else [])
        for reference in pairs:
            if reference in times and not name.startswith(prefix):
                value = after / times[reference]
                rows.append((name, reference, np.median(value), value.min(), value.max()))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--against", default=None)
    args = parser.parse_args(argv)
    print("run  suite     configuration     candidate / reference: median [min, max] of ratios")
    for run in args.runs:
        for (suite, config), times in sorted(per_round(run).items()):
            for name, reference, median, low, high in ratios(times, args.baseline, args.against):
                print(
                    f"{run.name}  {suite:8s}  {config:16s}  {name} / {reference}: "
                    f"{median:.3f} [{low:.2f}, {high:.2f}]"
                )


if __name__ == "__main__":
    main()

"""The benchmarks page's table and plot, from two runs' results:
`python -m benchmarks.summary benchmarks/results/issue46 --write docs/benchmarks.md --plot docs/benchmarks_summary.png`.

A results folder holds runs (`run1/`, `run2/`, ...), each written by `python -m benchmarks`:
`pipeline.json` (`--only pipeline --configs cifar-uint8 imagenet-uint8`) and
`<backend>/model.json` (`--only model`, one per Keras backend). What holds from run to run on
a shared machine is a ratio of two candidates timed in the same rounds (each round runs every
candidate in turn), so every figure here is the median over rounds of such a within-round ratio,
given for each run: `1.02 / 0.99` is run 1, then run 2. A figure marked `*` moved by more than
its spread between runs: one run's median lies outside the other's range (min to max over its
rounds).

`--write PAGE` replaces the block between `<!-- summary -->` and `<!-- /summary -->` in PAGE
with the rendered table; `--check PAGE` exits 1 if PAGE's block is not what the results
render (`tests/integration/test_benchmarks.py` runs it on the committed results).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from benchmarks.report import _table

BEGIN, END = "<!-- summary -->", "<!-- /summary -->"
SHAPES = {"cifar": "CIFAR 32x32, batch 128", "imagenet": "ImageNet 224x224, batch 64"}
SHORT = {"cifar": "CIFAR", "imagenet": "ImageNet"}
NO_MIXING = "no mixup (cast + one-hot)"
CUTMIX = "keras_mixup CutMix (XLA)"
MIXUP = "keras_mixup (XLA)"
# the tf.data rows, (label, the pipeline suite's candidate), in the table's order
PIPELINE_ROWS = (
    ("keras_mixup mixup, map form", "keras_mixup (XLA)"),
    ("keras_mixup mixup, apply form", "keras_mixup (XLA, apply form)"),
    ("keras_mixup mixup, Keras's dict", "keras_mixup (XLA), Keras dict"),
    ("keras_mixup k-way mixup, k=3", "keras_mixup k=3 (XLA)"),
    ("keras_mixup CutMix", CUTMIX),
    ("keras_mixup mixup 0.8 / CutMix 1.0", "keras_mixup mixup 0.8 / CutMix 1.0, switch 0.5 (XLA)"),
    ("keras_mixup GridMix", "keras_mixup GridMix (XLA)"),
    ("keras_mixup FMix", "keras_mixup FMix (XLA)"),
    ("keras_mixup SmoothMix", "keras_mixup SmoothMix (XLA)"),
    ("keras_mixup ResizeMix", "keras_mixup ResizeMix (XLA)"),
    ("keras_mixup Mosaic", "keras_mixup Mosaic (XLA)"),
    ("keras_mixup mixup on Grain (NumPy)", "keras_mixup on Grain (NumPy, random_map)"),
    ("`keras.layers.MixUp`", "keras.layers.MixUp"),
    ("`keras.layers.CutMix`", "keras.layers.CutMix"),
    ("published FMix (its NumPy mask, ported)", "published FMix (NumPy port, host mask)"),
    ("a naive gather + blend (mixup)", "naive gather + blend"),
)


def load_runs(folder: Path) -> list[dict]:
    """Each run's suites: `{"pipeline": {shape: {candidate: per-round seconds}}, "model":
    {(backend, jit_compile): {model: per-round seconds}}, "environment": ...}`."""
    runs = []
    for run in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("run")):
        pipeline, model, environment = {}, {}, None
        path = run / "pipeline.json"
        if path.exists():
            data = json.loads(path.read_text())
            environment = data["environment"]
            for r in data["pipeline"]["results"]:
                if r["input_dtype"] == "uint8" and not r["augmented"]:
                    pipeline.setdefault(r["shape"], {})[r["implementation"]] = r[
                        "seconds_per_batch"
                    ]["per_round_s"]
        op = {}
        for path in sorted(run.glob("*/op.json")):
            for r in json.loads(path.read_text())["op"]["results"]:
                key = (r["backend"], r["shape"], tuple(r["batch_shape"]))
                op.setdefault(key, {})[r["implementation"]] = r["seconds"]["per_round_s"]
        for path in sorted(run.glob("*/model.json")):
            data = json.loads(path.read_text())
            for r in data["model"]["results"]:
                key = (r["backend"], r["jit_compile"])
                model.setdefault(key, {})[r["model"]] = r["seconds_per_step"]["per_round_s"]
            model.setdefault("environments", {})[path.parent.name] = data["environment"]
        runs.append(
            {"name": run.name, "pipeline": pipeline, "model": model, "op": op, "env": environment}
        )
    if len(runs) < 2:
        raise SystemExit(f"{folder}: the summary needs two runs or more (run1/, run2/); got {runs}")
    return runs


def ratio(times: dict, numerator: str, denominator: str):
    """(median, min, max) over rounds of `numerator`'s time over `denominator`'s in the same
    round, or None where a run lacks either."""
    if numerator not in times or denominator not in times:
        return None
    values = np.asarray(times[numerator]) / np.asarray(times[denominator])
    return float(np.median(values)), float(np.min(values)), float(np.max(values))


def cell(ratios: list, *, percent: bool = False) -> str:
    """The runs' medians, `a / b`, and `*` where one run's median lies outside another
    run's range (min to max over its rounds): it moved by more than its spread."""
    found = [r for r in ratios if r is not None]
    if not found:
        return "n/a"
    text = " / ".join(f"{100 * (r[0] - 1):+.0f} %" if percent else f"{r[0]:.2f}" for r in found)
    moved = any(not low <= median <= high for median, _, _ in found for _, low, high in found)
    return text + (" *" if moved else "")


def pipeline_table(runs: list[dict]) -> str:
    header = ["tf.data, uint8 images"]
    for shape in SHAPES:
        header += [f"{SHAPES[shape]}: time vs CutMix", "vs mixup", "vs no mixing"]
    rows = []
    for label, name in PIPELINE_ROWS:
        row = [label]
        for shape in SHAPES:
            times = [run["pipeline"].get(shape, {}) for run in runs]
            row.append(cell([ratio(t, name, CUTMIX) for t in times]))
            row.append(cell([ratio(t, name, MIXUP) for t in times]))
            row.append(cell([ratio(t, name, NO_MIXING) for t in times], percent=True))
        if any(c != "n/a" for c in row[1:]):
            rows.append(row)
    return _table(header, rows)


def times_table(runs: list[dict]) -> str:
    """Per-batch times, ms: each run's median over rounds (min to max), for the same rows."""

    def times(values) -> str:
        ms = 1e3 * np.asarray(values)
        return f"{np.median(ms):.2f} ({ms.min():.2f}-{ms.max():.2f})"

    header = ["tf.data, ms a batch"] + [SHAPES[shape] for shape in SHAPES]
    rows = []
    for label, name in ((NO_MIXING, NO_MIXING), *PIPELINE_ROWS):
        row = [label]
        for shape in SHAPES:
            found = [run["pipeline"].get(shape, {}).get(name) for run in runs]
            row.append(" / ".join(times(v) for v in found if v is not None) or "n/a")
        rows.append(row)
    return _table(header, rows)


OP_STEP = "keras_mixup draw + blend (MixupLayer step)"


def op_tables(runs: list[dict]) -> list[str]:
    """Per backend's op suite (`benchmarks/op_backend.py`): each candidate's time beside
    keras_mixup's mixup step (draw + blend) on the same batch, per shape."""
    tables = []
    for backend in dict.fromkeys(key[0] for key in runs[0]["op"]):
        keys = [key for key in runs[0]["op"] if key[0] == backend]
        names = [n for n in runs[0]["op"][keys[0]] if not n.startswith("copy")]
        rows = []
        for name in names:
            row = [name]
            for key in keys:
                times = [run["op"].get(key, {}) for run in runs]
                row.append(cell([ratio(t, name, OP_STEP) for t in times]))
            rows.append(row)
        header = [f"{backend}, one float32 batch, eager"] + [
            f"{SHORT[shape]} {list(batch)}: time vs keras_mixup's mixup step"
            for _, shape, batch in keys
        ]
        tables.append(_table(header, rows))
    return tables


def model_table(runs: list[dict]) -> str:
    """Per backend and compile mode: the step with MixupLayer + MixupLoss over the step
    without, this tree's and any baseline commit's (`--baseline`) in the same rounds."""
    keys = [k for k in runs[0]["model"] if k != "environments"]
    rows = []
    for backend, jit_compile in keys:
        times = [run["model"].get((backend, jit_compile), {}) for run in runs]
        for name in [n for n in times[0] if n.startswith("with MixupLayer")]:
            code = "this commit" if "@" not in name else f"at {name.split('@')[1]}"
            rows.append(
                [
                    f"{backend}, `jit_compile={jit_compile}`, {code}",
                    cell([ratio(t, name, "without MixupLayer") for t in times], percent=True),
                    " / ".join(f"{np.median(t['without MixupLayer']) * 1e3:.0f}" for t in times),
                ]
            )
    header = [
        "in a model: small CNN, 32x32x3, batch 128",
        "step time vs no MixupLayer",
        "ms a step without",
    ]
    return _table(header, rows)


def environment_line(runs: list[dict]) -> str:
    env = runs[0]["env"] or next(iter(runs[0]["model"]["environments"].values()))
    commits = sorted(
        {run["env"]["commit"] for run in runs if run["env"]}
        | {e["commit"] for run in runs for e in run["model"].get("environments", {}).values()}
    )
    versions = ", ".join(
        f"{name} {env[name]}" for name in ("tensorflow", "jax", "torch", "keras") if env.get(name)
    )
    return (
        f"{len(runs)} runs on {env['device']} ({env['cpu_count']} cores), Python {env['python']}, "
        f"{versions}; commit {', '.join(commits)}."
    )


def render(folder: Path) -> str:
    runs = load_runs(folder)
    return "\n\n".join(
        [
            environment_line(runs),
            pipeline_table(runs),
            model_table(runs),
            *op_tables(runs),
            "Per-batch times, the less stable figures (run 1 / run 2):",
            times_table(runs),
        ]
    )


def plot(folder: Path, path: Path) -> None:
    """Each method's time vs CutMix, both shapes, one marker per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    runs = load_runs(folder)
    rows = list(PIPELINE_ROWS)
    figure, axes = plt.subplots(1, len(SHAPES), figsize=(11, 0.32 * len(rows) + 1.6), sharey=True)
    for axis, shape in zip(axes, SHAPES, strict=True):
        for index, (_, name) in enumerate(rows):
            for number, run in enumerate(runs):
                found = ratio(run["pipeline"].get(shape, {}), name, CUTMIX)
                if found is not None:
                    median, low, high = found
                    axis.errorbar(
                        median, index + 0.15 * (number - 0.5), xerr=[[median - low], [high - median]],
                        fmt="o", color=f"C{number}", label=run["name"] if index == 0 else None,
                        capsize=2, markersize=4,
                    )  # fmt: skip
        axis.axvline(1.0, color="grey", linewidth=0.8)
        axis.set_xscale("log")
        axis.xaxis.set_major_locator(FixedLocator([0.5, 1, 2, 5, 10, 20]))
        axis.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_title(SHAPES[shape])
        axis.grid(axis="x", alpha=0.3)
    labels = [label.removeprefix("keras_mixup ") for label, _ in rows]
    axes[0].set_yticks(range(len(rows)), [label.replace("`", "") for label in labels])
    axes[0].invert_yaxis()
    axes[-1].legend(loc="upper right")
    figure.suptitle("keras_mixup in tf.data (uint8 images): time beside its CutMix's, two runs")
    figure.supxlabel("time per batch / CutMix's in the same round (dot: median; bar: min to max)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def replace_block(page: str, block: str, command: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(page):
        raise SystemExit(f"the page has no {BEGIN} ... {END} block")
    return pattern.sub(lambda _: f"{BEGIN}\n<!-- {command} -->\n\n{block}\n\n{END}", page)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a folder of runs (run1/, run2/, ...)")
    parser.add_argument("--write", type=Path, help="replace the summary block of this page")
    parser.add_argument("--check", type=Path, help="exit 1 if this page's block differs")
    parser.add_argument("--plot", type=Path, help="write the plot (PNG) here")
    args = parser.parse_args(argv)
    block = render(args.results)
    command = f"python -m benchmarks.summary {args.results.as_posix()}"
    if args.check:
        page = args.check.read_text()
        if replace_block(page, block, command) != page:
            print(f"{args.check}: the summary block is not what {command} renders")
            return 1
        return 0
    if args.write:
        args.write.write_text(replace_block(args.write.read_text(), block, command))
    if args.plot:
        plot(args.results, args.plot)
    if not (args.write or args.plot):
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())

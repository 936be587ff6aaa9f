"""Markdown tables from a benchmark run: `python -m benchmarks.report benchmarks/results/all.json`.

docs/benchmarks_history.md's tables are this script's output for the run named there, so
the numbers in the docs are the numbers the command produced.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def op_tables(report: dict) -> str:
    out = []
    results = report["op"]["results"]

    # the TensorFlow op suite times uint8 and float32 inputs; the JAX / PyTorch one
    # (benchmarks/op_backend.py) float32 batches of `batch_shape` on its backend
    def key(r):
        return r["shape"], r.get("input_dtype"), r.get("backend"), tuple(r.get("batch_shape", ()))

    for shape, dtype, backend, batch_shape in dict.fromkeys(key(r) for r in results):
        rows = [
            [
                r["implementation"],
                f"{r['seconds']['median_s'] * 1e3:.3f}",
                f"{r['ratio_to_copy_limit']:.2f}x",
            ]
            for r in results
            if key(r) == (shape, dtype, backend, batch_shape)
        ]
        title = (
            f"{shape}, {dtype} in, float32 out"
            if dtype is not None
            else f"{backend}, {shape} batch {list(batch_shape)}, float32"
        )
        out.append(
            f"**{title}**\n\n" + _table(["implementation", "ms (median)", "vs copy limit"], rows)
        )
    return "\n\n".join(out)


def pipeline_tables(report: dict) -> str:
    out = []
    results = report["pipeline"]["results"]
    for config in dict.fromkeys(r["config"] for r in results):
        rows = []
        for r in results:
            if r["config"] != config:
                continue
            low, high = r["overhead_range_percent"]
            rows.append(
                [
                    r["implementation"],
                    f"{r['images_per_second']:,.0f}",
                    f"{r['overhead_vs_no_mixup_percent']:+.1f} %",
                    f"{low:+.0f} to {high:+.0f} %",
                    f"{r['speedup_vs_keras_mixup']:.2f}x",
                ]
            )
        out.append(
            f"**{config}**\n\n"
            + _table(
                [
                    "implementation",
                    "images/s (median)",
                    "time vs no mixup (median of round ratios)",
                    "min to max over rounds",
                    "throughput vs keras MixUp (CutMix rows: vs keras CutMix)",
                ],
                rows,
            )
        )
    return "\n\n".join(out)


def model_table(report: dict) -> str:
    rows = []
    for r in report["model"]["results"]:
        t = r["seconds_per_step"]
        rows.append(
            [
                f"{r.get('backend', 'tensorflow')}, jit_compile={r['jit_compile']}",
                r["model"],
                f"{t['median_s'] * 1e3:.1f}",
                f"{t['min_s'] * 1e3:.1f}-{t['max_s'] * 1e3:.1f}",
                f"{r['overhead_percent']:+.1f} %",
            ]
        )
    return _table(
        [
            "backend, compile",
            "model",
            "ms/step (median)",
            "min-max over rounds",
            "vs without (median of round ratios)",
        ],
        rows,
    )


def memory_table(report: dict) -> str:
    memory = report["memory"]
    rows = [
        [
            r["implementation"],
            f"{r['peak_rss_mb']:,.0f}",
            f"{r['extra_mb']:+,.0f}",
            f"{r['extra_batch_buffers']:+.2f}",
        ]
        for r in memory["results"]
    ]
    return (
        f"{memory['shape']}, one float32 batch buffer = {memory['batch_buffer_mb']:.1f} MB\n\n"
        + _table(
            ["implementation", "peak RSS MB", "extra vs no mixup, MB", "extra, in batch buffers"],
            rows,
        )
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="benchmarks/results/all.json")
    parser.add_argument(
        "--only", nargs="+", choices=["op", "pipeline", "model", "memory"], help="suites to show"
    )
    args = parser.parse_args(argv)
    report = json.loads(Path(args.results).read_text())
    env = report["environment"]
    print(
        f"Run: commit {env['commit']}, {env['time']}, {env['device']} ({env['cpu_count']} cores), "
        f"TensorFlow {env['tensorflow']}, Keras {env['keras']} "
        f"({env.get('keras_backend', 'tensorflow')} backend), Python {env['python']}.\n"
    )
    for title, render, key in [
        ("Op level", op_tables, "op"),
        ("Pipeline", pipeline_tables, "pipeline"),
        ("In-model", model_table, "model"),
        ("Peak memory", memory_table, "memory"),
    ]:
        if key in report and (args.only is None or key in args.only):
            env = report[key].get("environment", report["environment"])
            print(
                f"### {title}\n\n_Run: commit {env['commit']}, {env['time']}._\n\n{render(report)}\n"
            )


if __name__ == "__main__":
    main()

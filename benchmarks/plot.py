"""Throughput plot for docs/benchmarks_history.md (the summary plot: benchmarks/summary.py)."""

from __future__ import annotations

from pathlib import Path


def plot_pipeline(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    results = report["pipeline"]["results"]
    configs = list(dict.fromkeys(r["config"] for r in results))
    all_names = list(dict.fromkeys(r["implementation"] for r in results))
    rows_per_config = [sum(r["config"] == c for r in results) for c in configs]
    fig, axes = plt.subplots(
        len(configs), 1, figsize=(9, 1.0 + 0.32 * sum(rows_per_config) + 0.6 * len(configs)),
        squeeze=False, gridspec_kw={"height_ratios": rows_per_config},
    )  # fmt: skip
    palette = dict(zip(all_names, plt.cm.tab20(np.linspace(0, 1, len(all_names))), strict=True))
    for ax, config in zip(axes[:, 0], configs, strict=True):
        rows = {r["implementation"]: r for r in results if r["config"] == config}
        names = [n for n in all_names if n in rows]  # configurations may have different rows
        values = [rows[n]["images_per_second"] for n in names]
        bars = ax.barh(range(len(names)), values, color=[palette[n] for n in names])
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(config, fontsize=9)
        ax.set_xlabel("images / s (median)", fontsize=8)
        for bar, name in zip(bars, names, strict=True):
            overhead = rows[name]["overhead_vs_no_mixup_percent"]
            ax.text(
                bar.get_width(),
                bar.get_y() + bar.get_height() / 2,
                f" {overhead:+.0f} %",
                va="center",
                fontsize=7,
            )
        ax.set_xlim(0, max(values) * 1.18)
    env = report["pipeline"].get("environment", report["environment"])  # the pipeline suite's run
    fig.suptitle(
        f"tf.data throughput with mixup ({env['device']}, TF {env['tensorflow']}, commit {env['commit']})",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    """`python -m benchmarks.plot RESULTS.json OUT.png`: the throughput plot of a saved run."""
    import json
    import sys

    results, out = (argv or sys.argv[1:])[:2]
    plot_pipeline(json.loads(Path(results).read_text()), Path(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

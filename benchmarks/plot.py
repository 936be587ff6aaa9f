"""Throughput plot for docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path


def plot_pipeline(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    results = report["pipeline"]["results"]
    configs = list(dict.fromkeys(r["config"] for r in results))
    names = list(dict.fromkeys(r["implementation"] for r in results))
    fig, axes = plt.subplots(len(configs), 1, figsize=(8, 1.3 + 1.6 * len(configs)), squeeze=False)
    colors = plt.cm.tab10(np.arange(len(names)))
    for ax, config in zip(axes[:, 0], configs, strict=True):
        rows = {r["implementation"]: r for r in results if r["config"] == config}
        values = [rows[n]["images_per_second"] for n in names]
        bars = ax.barh(range(len(names)), values, color=colors)
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
    env = report["environment"]
    fig.suptitle(
        f"tf.data throughput with mixup ({env['device']}, TF {env['tensorflow']}, commit {env['commit']})",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)

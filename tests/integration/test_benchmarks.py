"""The benchmark runner's quick smoke mode completes and writes its reports (numbers are not checked)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_run_writes_json_and_plot(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--output",
            str(tmp_path),
            "--plot",
            str(tmp_path / "plot.png"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads((tmp_path / "all.json").read_text())
    assert report["quick"] is True
    for key in ["tensorflow", "keras", "device", "commit"]:
        assert report["environment"][key]
    implementations = {r["implementation"] for r in report["pipeline"]["results"]}
    assert {
        "keras.layers.MixUp",
        "keras_mixup (XLA)",
        "no mixup (cast + one-hot)",
    } <= implementations
    assert {r["jit_compile"] for r in report["model"]["results"]} == {True, False}
    assert any(r["implementation"].startswith("copy limit") for r in report["op"]["results"])
    assert (tmp_path / "plot.png").stat().st_size > 10_000
    assert "Pipeline throughput" in completed.stdout


def test_baseline_loader_imports_earlier_commits_beside_the_working_tree():
    """`--baseline COMMIT`: keras_mixup as of a commit, renamed, importable next to ours;
    both layouts (keras_mixup/_src since 0.3, keras_mixup/*.py in 0.2.0 at 28fd075)."""
    import numpy as np
    import tensorflow as tf

    from benchmarks import baseline

    for commit in ("HEAD", "28fd075"):
        old = baseline.load(commit)
        assert old.__name__.startswith("keras_mixup_") and old.commit
        transform = old.MixupTransform(0.2, num_classes=3, seed=0)
        _, targets = transform(tf.zeros((4, 2)), tf.constant([0, 1, 2, 0]))
        np.testing.assert_allclose(targets.numpy().sum(axis=1), 1.0, rtol=1e-6)
        assert old.MixupLayer.__name__ == "MixupLayer" and old.MixupLoss.__name__ == "MixupLoss"


def test_draw_breakdown_times_every_piece_and_the_pieces_make_up_the_whole():
    from benchmarks import draw_breakdown

    medians = draw_breakdown.main(rounds=3, seconds_per_round=0.05)
    whole = medians.pop("whole draw (MixupLayer._step_params)")
    assert len(medians) == 4 and all(t > 0 for t in medians.values())
    # the pieces are what the whole does (loose: separate timings on a noisy machine)
    assert 0.5 * whole < sum(medians.values()) < 2.0 * whole, (medians, whole)


def test_tf_data_breakdown_times_each_stage_of_both_forms():
    import tensorflow as tf

    from benchmarks import breakdown

    medians = breakdown.main(["--rounds", "1", "--batches", "20"])
    assert "MixupTransform, map form (the element parsed, its Generator)" in medians
    assert "MixupTransform, apply form (its zip, seed and checks)" in medians
    assert f"the draws of {breakdown.BLOCK} batches in one launch, unbatched" in medians
    assert len(medians) == 15 and all(t > 0 for t in medians.values())
    # every stage one batch at a time: tf.data parallelizes only stateless map functions
    options = breakdown.one_at_a_time(tf.data.Dataset.range(3).map(lambda i: i)).options()
    assert options.experimental_optimization.map_parallelization is False
    assert options.threading.private_threadpool_size == 1


def test_mask_breakdown_times_each_piece_of_fmix_s_draw():
    from benchmarks import mask_breakdown

    medians = mask_breakdown.main(["--size", "64", "--rounds", "2", "--seconds", "0.05"])
    assert len(medians) == 5 and all(t > 0 for t in medians.values())


def test_report_renders_the_backend_op_suite_and_picks_suites():
    printed = subprocess.run(
        [sys.executable, "-m", "benchmarks.report", "benchmarks/results/torch/all.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "**torch, cifar batch [128, 32, 32, 3], float32**" in printed
    assert "| keras_mixup draw only |" in printed
    only = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.report",
            "benchmarks/results/all.json",
            "--only",
            "memory",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "### Peak memory" in only and "### Pipeline" not in only


def test_mosaic_benchmark_quick_run_times_every_row_it_has(tmp_path):
    """`python -m benchmarks.mosaic --quick`: the floor, keras_mixup's Mosaic and CutMix with
    100 boxes per image, and the host rows; keras-cv and kornia where installed."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.mosaic", "--quick", "--output", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads((tmp_path / "mosaic.json").read_text())
    rows = {r["implementation"]: r for r in report["results"]}
    assert {
        "tf.data: no mixing (dict + 100 boxes, conversions)",
        "tf.data: keras_mixup Mosaic (XLA)",
        "host: keras_mixup Mosaic (NumPy batch)",
    } <= set(rows)
    assert rows["tf.data: keras_mixup Mosaic (XLA)"]["time_vs_keras_mixup_mosaic"] == 1.0


def test_the_benchmarks_page_opens_with_what_its_command_renders_from_the_committed_runs():
    """docs/benchmarks.md's summary block is `python -m benchmarks.summary` on the committed
    results (two runs), so the table cannot drift from the files it cites."""
    from benchmarks import summary

    page = ROOT / "docs" / "benchmarks.md"
    results = ROOT / "benchmarks" / "results" / "issue46"
    assert summary.main([str(results.relative_to(ROOT)), "--check", str(page)]) == 0
    text = page.read_text()
    assert text.index(summary.BEGIN) < text.index("## ")  # the table comes first
    assert (ROOT / "docs" / "benchmarks_summary.png").stat().st_size > 10_000


def test_a_summary_figure_is_each_run_s_median_round_ratio_and_marks_a_move_beyond_spread():
    from benchmarks import summary

    steady = [summary.ratio({"a": [2.0, 2.2, 2.1], "b": [1.0, 1.0, 1.0]}, "a", "b")] * 2
    assert steady[0] == (2.1, 2.0, 2.2)
    assert summary.cell(steady) == "2.10 / 2.10"
    moved = [(1.0, 0.95, 1.25), (1.3, 1.1, 1.6)]  # 1.3 lies outside run 1's range
    assert summary.cell(moved) == "1.00 / 1.30 *"
    assert summary.cell(moved, percent=True) == "+0 % / +30 % *"
    held = [(1.0, 0.9, 1.25), (1.2, 0.95, 1.3)]  # each median inside the other's range
    assert summary.cell(held) == "1.00 / 1.20"
    assert summary.cell([None, None]) == "n/a"
    assert summary.ratio({"a": [1.0]}, "a", "missing") is None

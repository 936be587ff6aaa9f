"""`make demo` end to end, shortened to two epochs."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import label_noise_demo  # noqa: E402


def test_demo_runs_and_writes_results_and_plot(tmp_path, capsys):
    label_noise_demo.main(["--epochs", "2", "--output", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["runs"]) == {"ERM", "mixup alpha=8"}
    for run in results["runs"].values():
        assert len(run["test_error_per_epoch"]) == 2
        assert 0 <= run["last_test_error"] <= 100
    assert (tmp_path / "test_error.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "best" in printed and "last" in printed and "ERM" in printed


def test_label_corruption_is_fixed_by_the_seed_and_has_the_asked_rate():
    a = label_noise_demo.load_noisy_digits(0.5, seed=0)
    b = label_noise_demo.load_noisy_digits(0.5, seed=0)
    assert (a[1] == b[1]).all()
    changed = (a[1] != a[2]).mean()
    assert 0.40 < changed < 0.50  # 50 % replaced by a random class, 1 in 10 keeps its own

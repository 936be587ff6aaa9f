"""examples/paper/fashion_mnist.py: keras.io's example over seeds, on images made here (the
real runs load Fashion-MNIST; `real_images` has its own tests)."""

import json

import numpy as np
import pytest
from scipy import stats

from examples.paper import fashion_mnist
from tests.paper.made_images import fashion_like


def test_the_paired_difference_interval_and_test_are_the_textbook_ones():
    result = fashion_mnist.paired([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert result["mean"] == 2.0
    np.testing.assert_allclose(result["ci95"], [2.0 - half, 2.0 + half])
    np.testing.assert_allclose(result["p"], stats.ttest_1samp([1, 2, 3], 0).pvalue)
    assert fashion_mnist.paired([0.5, 0.5])["p"] is None  # no spread: no test


def test_a_short_run_writes_every_row_per_seed_and_renders(tmp_path, monkeypatch):
    data = fashion_like(2500, 200)
    monkeypatch.setattr(fashion_mnist, "load", lambda name: data)
    fashion_mnist.main(["--quick", "--train-size", "256", "--output", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    rows = saved["results"]["rows"]
    assert set(rows) == {"erm", "mixup"}
    for values in rows.values():
        assert len(values["test_accuracy"]) == 2  # the quick profile's two seeds
        assert all(len(curve) == 1 for curve in values["val_accuracy_per_epoch"])
    assert rows["mixup"]["vs_erm"]["ci95"] is not None
    table = fashion_mnist.markdown(saved)
    assert "86.45 (1 run)" in table and "made in the test" in table
    (path,) = fashion_mnist.figures(saved, tmp_path, "curves")
    assert path.stat().st_size > 10_000
    with pytest.raises(SystemExit):
        fashion_mnist.main(["--rows", "erm,cutout", "--output", str(tmp_path)])


def test_the_mask_family_on_the_small_resnet_runs_from_the_same_weights(tmp_path, monkeypatch):
    data = fashion_like(2200, 200, seed=1)
    monkeypatch.setattr(fashion_mnist, "load", lambda name: data)
    fashion_mnist.main(
        ["--quick", "--model", "preact_resnet", "--rows", "erm,cutmix,smoothmix", "--seeds", "1",
         "--train-size", "128", "--output", str(tmp_path)]
    )  # fmt: skip
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["results"]["rows"]) == {"erm", "cutmix", "smoothmix"}
    table = fashion_mnist.markdown(saved)
    assert "CutMix, alpha 1" in table and "preact_resnet" in table
    assert "86.45" not in table and "FMix paper" in table  # keras.io: its own CNN only

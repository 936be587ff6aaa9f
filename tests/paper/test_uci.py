"""examples/paper/uci.py (Table 4): offline data sets end to end, the offline error message."""

import json

import numpy as np
import pytest

from examples.paper import uci


def test_quick_profile_runs_on_the_offline_sets(tmp_path):
    results = uci.main(["--quick", "--seeds", "1", "--epochs", "1", "--output", str(tmp_path)])
    assert set(results) == {"iris", "wine", "breast_cancer"}
    saved = json.loads((tmp_path / "results.json").read_text())
    assert 0 <= saved["results"]["iris"]["mixup"][0] <= 100
    # the recorded settings name the data sets that ran, not the paper's list
    assert json.dumps(saved).count("abalone") == 0
    assert saved["config"]["datasets"] == "iris,wine,breast_cancer"


def test_split_standardizes_with_training_statistics_and_imputes():
    x = np.arange(40, dtype="float32").reshape(20, 2)
    x[0, 1] = np.nan
    y = np.arange(20) % 2
    x_train, y_train, x_test, y_test = uci.split(x, y, seed=0)
    assert np.isfinite(x_train).all() and np.isfinite(x_test).all()
    np.testing.assert_allclose(x_train.mean(axis=0), 0, atol=0.2)
    assert len(x_test) == 4 and sorted(np.bincount(y_test)) == [2, 2]


def test_unknown_and_unreachable_data_sets_fail_clearly(monkeypatch):
    with pytest.raises(SystemExit, match="unknown data set 'nope'"):
        uci.load("nope", None)
    import sklearn.datasets

    def offline(**kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    with pytest.raises(SystemExit, match=r"could not download 'arcene'.*internet access"):
        uci.load("arcene", None)
